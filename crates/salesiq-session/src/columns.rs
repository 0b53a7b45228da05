//! How the shipped stores ([`crate::SqliteStore`] and salesiq-pg's
//! `PgStore`) write a contact and a visitor event into plain text columns,
//! and read them back. An embedder's store may use the same encoding; what
//! one store wrote, another reads.

use crate::contact::{Activity, ContactId};
use crate::gateway::VisitorEvent;

/// A contact as two columns: its kind (`colleague`, `visitor`, `board`)
/// and a key (`portal|username`, `portal|number`, `portal`).
pub fn contact_key(contact: &ContactId) -> (&'static str, String) {
    match contact {
        ContactId::Colleague(from) => (
            "colleague",
            format!("{}|{}", from.portal(), from.username()),
        ),
        ContactId::Visitor { portal, number } => ("visitor", format!("{portal}|{number}")),
        ContactId::Board { portal } => ("board", portal.clone()),
    }
}

/// The contact [`contact_key`] wrote; `None` for columns it never writes.
pub fn contact_from_key(kind: &str, key: &str) -> Option<ContactId> {
    match kind {
        "colleague" => {
            let (portal, username) = key.split_once('|')?;
            Some(ContactId::colleague(portal, username))
        }
        "visitor" => {
            let (portal, number) = key.split_once('|')?;
            Some(ContactId::visitor(portal, number.parse().ok()?))
        }
        "board" => Some(ContactId::board(key)),
        _ => None,
    }
}

/// A visitor event as three columns: its kind and up to two texts.
pub fn event_columns(event: &VisitorEvent) -> (&'static str, &str, &str) {
    match event {
        // Never stored (not content); its position is of the moment.
        VisitorEvent::Queued { .. } => ("queued", "", ""),
        VisitorEvent::Joined { operator } => ("joined", operator, ""),
        VisitorEvent::Message { from, text } => ("message", from, text),
        VisitorEvent::Typing { from, state } => ("typing", from, state.as_str()),
        VisitorEvent::Push { url } => ("push", url, ""),
        VisitorEvent::Ended { reason } => ("ended", reason, ""),
    }
}

/// The visitor event [`event_columns`] wrote; `None` for columns it never
/// writes.
pub fn event_from_columns(kind: &str, a: String, b: String) -> Option<VisitorEvent> {
    Some(match kind {
        "queued" => VisitorEvent::Queued { position: 1 },
        "joined" => VisitorEvent::Joined { operator: a },
        "message" => VisitorEvent::Message { from: a, text: b },
        "typing" => VisitorEvent::Typing {
            from: a,
            state: Activity::from_name(&b)?,
        },
        "push" => VisitorEvent::Push { url: a },
        "ended" => VisitorEvent::Ended { reason: a },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        for contact in [
            ContactId::colleague("demo", "alice.ops"),
            ContactId::visitor("demo", 42),
            ContactId::board("demo"),
        ] {
            let (kind, key) = contact_key(&contact);
            assert_eq!(contact_from_key(kind, &key), Some(contact));
        }
        for event in [
            VisitorEvent::Queued { position: 1 },
            VisitorEvent::Joined {
                operator: "Bob".into(),
            },
            VisitorEvent::Message {
                from: "Bob".into(),
                text: "hi|there".into(),
            },
            VisitorEvent::Typing {
                from: "Bob".into(),
                state: Activity::Composing,
            },
            VisitorEvent::Push {
                url: "https://example.com".into(),
            },
            VisitorEvent::Ended {
                reason: "bye".into(),
            },
        ] {
            let (kind, a, b) = event_columns(&event);
            let back = event_from_columns(kind, a.to_owned(), b.to_owned());
            assert_eq!(back, Some(event));
        }
        assert_eq!(contact_from_key("nobody", "x"), None);
        assert_eq!(
            event_from_columns("nothing", String::new(), String::new()),
            None
        );
    }
}
