//! What visitors may ask of the gateway: chats per address and per
//! portal, and how fast one visitor may write.

use tokio::time::Instant;

/// Bounds on what anonymous visitors may make the gateway hold and
/// store. Visitors are strangers on the internet: without these, one
/// script could queue thousands of chats, or write megabytes a second
/// into the transcript before anyone accepts.
///
/// * A request past [`chats_per_address`](Self::chats_per_address) is
///   refused with [`GatewayError::TooManyChats`](crate::GatewayError::TooManyChats);
///   past the portal's bounds with
///   [`GatewayError::PortalBusy`](crate::GatewayError::PortalBusy). Nothing
///   is stored for a refused request, and requests being made count, so
///   parallel requests cannot slip past a bound together.
/// * Lines and page changes past the rate are refused with
///   [`GatewayError::TooFast`](crate::GatewayError::TooFast) and neither
///   relayed nor stored; typing is coalesced instead (a state every 250 ms
///   at most).
///
/// ```
/// use salesiq_session::VisitorLimits;
///
/// let mut limits = VisitorLimits::default();
/// assert_eq!(limits.chats_per_address, 5);
/// limits.chats_per_address = 20; // a site whose visitors share one NAT
/// assert!(VisitorLimits::unlimited().chats_per_portal > 1_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VisitorLimits {
    /// Live chats (waiting or accepted) from one IP address, across all
    /// portals: 5. Requests that name no address (an embedder's own
    /// visitors) are not counted.
    pub chats_per_address: usize,
    /// Chats of one portal waiting for an operator: 200.
    pub waiting_per_portal: usize,
    /// Live chats of one portal: 2,000.
    pub chats_per_portal: usize,
    /// Lines (and page changes) one visitor may send at once: 20...
    pub line_burst: u32,
    /// ...and per minute after that: 60.
    pub lines_per_minute: u32,
    /// Messages one address may leave an hour when nobody is there
    /// ([`crate::Gateway::leave_message`]): 5.
    pub messages_per_hour: u32,
}

impl Default for VisitorLimits {
    fn default() -> Self {
        Self {
            chats_per_address: 5,
            waiting_per_portal: 200,
            chats_per_portal: 2_000,
            line_burst: 20,
            lines_per_minute: 60,
            messages_per_hour: 5,
        }
    }
}

impl VisitorLimits {
    /// No bounds: for load tests and embedders who bound visitors
    /// themselves.
    pub const fn unlimited() -> Self {
        Self {
            chats_per_address: usize::MAX,
            waiting_per_portal: usize::MAX,
            chats_per_portal: usize::MAX,
            line_burst: u32::MAX,
            lines_per_minute: u32::MAX,
            messages_per_hour: u32::MAX,
        }
    }

    /// A full bucket of lines for a new chat.
    pub(crate) fn bucket(&self) -> Bucket {
        Bucket {
            tokens: f64::from(self.line_burst),
            at: Instant::now(),
        }
    }
}

/// A visitor's lines: a token bucket refilled at the per-minute rate.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a line's token, if there is one.
    pub(crate) fn take(&mut self, limits: &VisitorLimits) -> bool {
        let now = Instant::now();
        let per_second = f64::from(limits.lines_per_minute) / 60.0;
        let refill = now.duration_since(self.at).as_secs_f64() * per_second;
        self.tokens = (self.tokens + refill).min(f64::from(limits.line_burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_rate() {
        let limits = VisitorLimits::default();
        let mut bucket = limits.bucket();
        assert!((0..20).all(|_| bucket.take(&limits)));
        assert!(!bucket.take(&limits));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert!(bucket.take(&limits));
        assert!(!bucket.take(&limits));
        let unlimited = VisitorLimits::unlimited();
        let mut bucket = unlimited.bucket();
        assert!((0..100_000).all(|_| bucket.take(&unlimited)));
    }
}
