//! A department's opening hours (issue 15): outside them a chat request
//! is answered "leave a message" instead of queuing.
//!
//! The form, as the configuration writes it: one or more spans separated
//! by `,` or `;`, each days then times: `Mon-Fri 09:00-18:00`,
//! `Mon-Fri 09:00-18:00, Sat 10:00-14:00`, `Sun 22:00-02:00` (a span whose
//! end is before its start runs past midnight into the next day),
//! `Mon-Sun 00:00-24:00`. Days are English three-letter names in any
//! case; a range may wrap (`Fri-Mon`). Times are `HH:MM` on a 24-hour
//! clock, `24:00` ending a day. The hours are wall-clock times in the
//! department's time zone, an IANA name (`Asia/Tokyo`) read from the
//! system's zoneinfo (`/usr/share/zoneinfo`, Debian's `tzdata`) by the
//! `tz-rs` crate, daylight saving time included; UTC when none is given.

use chrono::{DateTime, Datelike, Timelike, Utc};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Why opening hours or a time zone were refused; the message says what
/// the form is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HoursError {
    /// Not the form `Mon-Fri 09:00-18:00[, ...]`.
    #[error("{0:?} is not opening hours like \"Mon-Fri 09:00-18:00, Sat 10:00-14:00\"")]
    Form(String),
    /// A time zone the system does not know.
    #[error("{0:?} is not a time zone name like \"Asia/Tokyo\" that this system knows")]
    TimeZone(String),
}

/// One span: the days it starts on, and its times in minutes of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    /// Monday first.
    days: [bool; 7],
    from: u16,
    to: u16,
}

/// When a department takes chats, parsed from the form above.
///
/// ```
/// use salesiq_session::OpeningHours;
///
/// let hours = OpeningHours::parse("Mon-Fri 09:00-18:00, Sat 10:00-14:00").unwrap();
/// assert!(hours.is_open(0, 9 * 60)); // Monday 09:00
/// assert!(!hours.is_open(0, 18 * 60)); // Monday 18:00: closed
/// assert!(!hours.is_open(6, 12 * 60)); // Sunday
/// assert!(OpeningHours::parse("Mon-Fri 9-18").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    spans: Vec<Span>,
}

fn day(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    DAYS.iter().position(|d| *d == name)
}

fn minutes(time: &str) -> Option<u16> {
    let (h, m) = time.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

impl OpeningHours {
    /// Parses the form in the module docs.
    pub fn parse(text: &str) -> Result<Self, HoursError> {
        let refused = || HoursError::Form(text.to_owned());
        let mut spans = Vec::new();
        for span in text.split([',', ';']) {
            let span = span.trim();
            let (days, times) = span.split_once(char::is_whitespace).ok_or_else(refused)?;
            let (first, last) = match days.split_once('-') {
                Some((first, last)) => (day(first), day(last)),
                None => (day(days), day(days)),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(refused());
            };
            let (from, to) = times.trim().split_once('-').ok_or_else(refused)?;
            let (Some(from), Some(to)) = (minutes(from), minutes(to)) else {
                return Err(refused());
            };
            if from == to || from == 24 * 60 {
                return Err(refused());
            }
            let mut set = [false; 7];
            let mut d = first;
            loop {
                set[d] = true;
                if d == last {
                    break;
                }
                d = (d + 1) % 7;
            }
            spans.push(Span {
                days: set,
                from,
                to,
            });
        }
        Ok(Self { spans })
    }

    /// Whether it is open on `weekday` (0 = Monday) at `minute` of the day.
    pub fn is_open(&self, weekday: usize, minute: u16) -> bool {
        let weekday = weekday % 7;
        let yesterday = (weekday + 6) % 7;
        self.spans.iter().any(|s| {
            if s.from < s.to {
                s.days[weekday] && (s.from..s.to).contains(&minute)
            } else {
                // Past midnight: from `from` on its days, and until `to`
                // on the days after.
                (s.days[weekday] && minute >= s.from) || (s.days[yesterday] && minute < s.to)
            }
        })
    }

    /// Whether it is open at `at`, in `timezone` (an IANA name; `None`
    /// for UTC).
    pub fn is_open_at(
        &self,
        at: DateTime<Utc>,
        timezone: Option<&str>,
    ) -> Result<bool, HoursError> {
        let offset = utc_offset(at, timezone)?;
        let local = at + chrono::Duration::seconds(i64::from(offset));
        let weekday = local.weekday().num_days_from_monday() as usize;
        let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(0);
        Ok(self.is_open(weekday, minute))
    }
}

/// Checks that the system knows `timezone`.
pub fn check_timezone(timezone: &str) -> Result<(), HoursError> {
    utc_offset(Utc::now(), Some(timezone)).map(drop)
}

/// The offset from UTC of `timezone` at `at`, in seconds.
fn utc_offset(at: DateTime<Utc>, timezone: Option<&str>) -> Result<i32, HoursError> {
    let Some(name) = timezone else {
        return Ok(0);
    };
    let refused = || HoursError::TimeZone(name.to_owned());
    // A name, not a path or a POSIX rule of the caller's making.
    let valid = !name.is_empty()
        && !name.starts_with('/')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    if !valid {
        return Err(refused());
    }
    let zone = tz::TimeZone::from_posix_tz(name).map_err(|_| refused())?;
    let local = zone
        .find_local_time_type(at.timestamp())
        .map_err(|_| refused())?;
    Ok(local.ut_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_days_and_overnight() {
        let hours = OpeningHours::parse("mon-fri 09:00-18:00; Sat 10:00-14:00").unwrap();
        assert!(hours.is_open(4, 17 * 60 + 59));
        assert!(!hours.is_open(4, 8 * 60 + 59));
        assert!(hours.is_open(5, 10 * 60));
        assert!(!hours.is_open(6, 10 * 60));
        let night = OpeningHours::parse("Fri-Sat 22:00-02:00").unwrap();
        assert!(night.is_open(4, 23 * 60));
        assert!(night.is_open(5, 60), "Saturday 01:00, from Friday");
        assert!(night.is_open(6, 60), "Sunday 01:00, from Saturday");
        assert!(!night.is_open(4, 60), "Friday 01:00: Thursday had none");
        let wrap = OpeningHours::parse("Sat-Mon 00:00-24:00").unwrap();
        assert!(wrap.is_open(0, 0) && wrap.is_open(6, 1439) && !wrap.is_open(1, 600));
    }

    #[test]
    fn malformed_hours_are_refused() {
        for bad in [
            "",
            "Mon-Fri",
            "Mon-Fri 9:00-18:00",
            "Mon-Fri 09:00-25:00",
            "Mon-Fri 09:00-09:00",
            "Mon-Fry 09:00-18:00",
            "Mon-Fri 09:00-18:00,",
            "Mon-Fri 09:60-18:00",
            "Mon-Fri 24:00-01:00",
        ] {
            assert!(
                matches!(OpeningHours::parse(bad), Err(HoursError::Form(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn time_zones_move_the_wall_clock() {
        let hours = OpeningHours::parse("Mon-Fri 09:00-18:00").unwrap();
        // Tuesday 2026-12-01 01:00 UTC is 10:00 in Tokyo, open; 01:00 in
        // UTC, closed.
        let at = DateTime::parse_from_rfc3339("2026-12-01T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(hours.is_open_at(at, Some("Asia/Tokyo")), Ok(true));
        assert_eq!(hours.is_open_at(at, None), Ok(false));
        // New York in summer is UTC-4: 13:30 UTC is 09:30 there.
        let summer = DateTime::parse_from_rfc3339("2026-07-01T13:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(hours.is_open_at(summer, Some("America/New_York")), Ok(true));
        for bad in ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", ""] {
            assert!(
                matches!(
                    hours.is_open_at(at, Some(bad)),
                    Err(HoursError::TimeZone(_))
                ),
                "{bad:?}"
            );
        }
    }
}
