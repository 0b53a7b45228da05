//! Messages for operators with no connected device (XEP-0160): kept
//! through the gateway's store in the order they came, and given at the
//! operator's next initial presence, each with an XEP-0203 delay stamp.

use minidom::Element;
use salesiq_session::{ContactId, Gateway, OfflineMessage, OperatorRef, clean_text};
use tokio::sync::mpsc;

use crate::jids;
use crate::ns;
use crate::stanza::name;

/// How many messages wait to be stored before the newest are dropped
/// (and logged).
const QUEUE: usize = 4096;

/// A message to keep.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) to: OperatorRef,
    pub(crate) from: ContactId,
    pub(crate) text: String,
}

/// The queue of messages to keep, written in order by a task of its own.
pub(crate) fn writer(gateway: Gateway) -> mpsc::Sender<Kept> {
    let (tx, mut rx) = mpsc::channel::<Kept>(QUEUE);
    tokio::spawn(async move {
        while let Some(kept) = rx.recv().await {
            if let Err(error) = gateway
                .keep_for_later(&kept.to, &kept.from, &kept.text)
                .await
            {
                tracing::warn!(to = %kept.to, %error, "an offline message was not stored");
            }
        }
    });
    tx
}

/// Queues `kept`; a full queue loses it, logged.
pub(crate) fn keep(queue: &mpsc::Sender<Kept>, kept: Kept) {
    if queue.try_send(kept).is_err() {
        tracing::warn!("the offline queue is full: a message was dropped");
    }
}

/// The stanzas of what was kept, for the resource `full`: chat messages
/// from the contacts they came from, stamped with when (XEP-0203).
pub(crate) fn stanzas(kept: Vec<OfflineMessage>, domain: &str, full: &str) -> Vec<Element> {
    kept.into_iter()
        .map(|message| {
            let stamp = message
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            Element::builder("message", ns::CLIENT)
                .attr(name("from"), jids::from(&message.from, domain))
                .attr(name("to"), full)
                .attr(name("type"), "chat")
                .attr(
                    name("id"),
                    format!("offline-{:016x}", rand::random::<u64>()),
                )
                .append(
                    Element::builder("body", ns::CLIENT)
                        .append(clean_text(&message.text))
                        .build(),
                )
                .append(
                    Element::builder("delay", ns::DELAY)
                        .attr(name("from"), domain)
                        .attr(name("stamp"), stamp)
                        .append("Offline storage")
                        .build(),
                )
                .build()
        })
        .collect()
}
