//! Who is connected: bare JID -> resources, each with the channel its
//! connection task reads and its current presence.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use minidom::Element;
use tokio::sync::{Notify, mpsc};

use crate::error::StreamErrorCondition;

/// What a connection task is told to do by others.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Write this stanza to the client. Boxed, like the contact below, to
    /// keep the enum small: a mailbox allocates room for 32 at a time.
    Stanza(Box<Element>),
    /// Close the stream with this error (e.g. `<conflict/>`).
    Close(StreamErrorCondition, Option<String>),
    /// The operator's contact list changed: add or update this contact
    /// (`true`) or remove it (`false`), and tell the client (RFC 6121,
    /// section 2.1.6, roster push).
    Roster(Box<salesiq_session::Contact>, bool),
    /// Carry on over this new stream (XEP-0198 resumption); the client
    /// has received `h` of our stanzas.
    Resume(Box<crate::stream::XmlStream<crate::stream::SecureIo>>, u32),
}

impl Outbound {
    pub(crate) fn stanza(stanza: Element) -> Self {
        Self::Stanza(Box::new(stanza))
    }

    pub(crate) fn roster(contact: salesiq_session::Contact, present: bool) -> Self {
        Self::Roster(Box::new(contact), present)
    }

    /// A copy, for another resource: stanzas and roster changes (a stream
    /// or a close order is for one connection only).
    pub(crate) fn try_clone(&self) -> Option<Self> {
        match self {
            Self::Stanza(stanza) => Some(Self::Stanza(stanza.clone())),
            Self::Roster(contact, present) => Some(Self::Roster(contact.clone(), *present)),
            Self::Close(..) | Self::Resume(..) => None,
        }
    }
}

/// Where others leave work for one connection task: a bounded queue.
/// When it is full, the client is not reading; the task is told to close
/// the stream, and what did not fit is handed back.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    queue: mpsc::Sender<Outbound>,
    overflow: Arc<Notify>,
}

/// The connection task's side of its [`Mailbox`].
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: mpsc::Receiver<Outbound>,
    overflow: Arc<Notify>,
}

/// A mailbox holding at most `capacity` items.
pub(crate) fn mailbox(capacity: usize) -> (Mailbox, Inbox) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflow = Arc::new(Notify::new());
    (
        Mailbox {
            queue: tx,
            overflow: overflow.clone(),
        },
        Inbox {
            queue: rx,
            overflow,
        },
    )
}

impl Mailbox {
    /// Queues `outbound`, or hands it back when the task is gone or its
    /// queue is full (and then tells the task it overflowed).
    pub(crate) fn send(&self, outbound: Outbound) -> Result<(), Outbound> {
        match self.queue.try_send(outbound) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(outbound)) => {
                self.overflow.notify_one();
                Err(outbound)
            }
            Err(mpsc::error::TrySendError::Closed(outbound)) => Err(outbound),
        }
    }
}

impl Inbox {
    /// The next item; `None` once every mailbox is gone.
    pub(crate) async fn recv(&mut self) -> Option<Outbound> {
        self.queue.recv().await
    }

    /// Closes the queue and takes what was still in it.
    pub(crate) fn drain(&mut self) -> Vec<Outbound> {
        self.queue.close();
        let mut left = Vec::new();
        while let Ok(outbound) = self.queue.try_recv() {
            left.push(outbound);
        }
        left
    }

    /// Notified when a sender found the queue full.
    pub(crate) fn overflow(&self) -> Arc<Notify> {
        self.overflow.clone()
    }
}

#[derive(Debug)]
struct Resource {
    name: String,
    connection: u64,
    mailbox: Mailbox,
    /// The last broadcast available presence; `None` until the initial one.
    presence: Option<Element>,
    /// Whether it asked for XEP-0280 carbon copies.
    carbons: bool,
    /// The bare JIDs of the colleagues on its contact list (lower case):
    /// whom it hears from through a relay.
    contacts: Arc<HashSet<String>>,
}

/// The routing table. Its lock is never held across an await.
#[derive(Debug, Default)]
pub(crate) struct Router {
    sessions: Mutex<HashMap<String, Vec<Resource>>>,
}

impl Router {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Resource>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds `resource` of `bare` to a connection; returns the mailbox of
    /// the connection it replaces, which must be closed with `<conflict/>`.
    pub(crate) fn bind(
        &self,
        bare: &str,
        resource: &str,
        connection: u64,
        mailbox: Mailbox,
    ) -> Option<Mailbox> {
        let mut sessions = self.lock();
        let resources = sessions.entry(bare.to_owned()).or_default();
        let replaced = resources
            .iter()
            .position(|r| r.name == resource)
            .map(|i| resources.swap_remove(i).mailbox);
        resources.push(Resource {
            name: resource.to_owned(),
            connection,
            mailbox,
            presence: None,
            carbons: false,
            contacts: Arc::default(),
        });
        replaced
    }

    /// Removes the binding of `connection`, if it still holds `resource`;
    /// returns whether it had sent available presence.
    pub(crate) fn unbind(&self, bare: &str, resource: &str, connection: u64) -> bool {
        let mut sessions = self.lock();
        let Some(resources) = sessions.get_mut(bare) else {
            return false;
        };
        let Some(i) = resources
            .iter()
            .position(|r| r.name == resource && r.connection == connection)
        else {
            return false;
        };
        let was_available = resources.swap_remove(i).presence.is_some();
        if resources.is_empty() {
            sessions.remove(bare);
        }
        was_available
    }

    /// Records the current presence of a resource (`None`: unavailable).
    pub(crate) fn set_presence(
        &self,
        bare: &str,
        resource: &str,
        connection: u64,
        presence: Option<Element>,
    ) {
        if let Some(r) = self.lock().get_mut(bare).and_then(|rs| {
            rs.iter_mut()
                .find(|r| r.name == resource && r.connection == connection)
        }) {
            r.presence = presence;
        }
    }

    /// Records the colleagues on a resource's contact list.
    pub(crate) fn set_contacts(
        &self,
        bare: &str,
        resource: &str,
        connection: u64,
        contacts: Arc<HashSet<String>>,
    ) {
        if let Some(r) = self.lock().get_mut(bare).and_then(|rs| {
            rs.iter_mut()
                .find(|r| r.name == resource && r.connection == connection)
        }) {
            r.contacts = contacts;
        }
    }

    /// The resources of `bare` that may hear from the bare JID `from`:
    /// all of them if it is `bare` itself, else those with `from` on
    /// their contact list; with names, mailboxes and presence (`None`:
    /// not available).
    pub(crate) fn hearing(
        &self,
        bare: &str,
        from: &str,
    ) -> Vec<(String, Mailbox, Option<Element>)> {
        self.lock()
            .get(bare)
            .map(|rs| {
                rs.iter()
                    .filter(|r| bare == from || r.contacts.contains(from))
                    .map(|r| (r.name.clone(), r.mailbox.clone(), r.presence.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every available resource of an operator of `portal` that sees the
    /// presence of the bare JID `of`: its own, and those with `of` on
    /// their contact list; with their full JIDs. (One pass over the
    /// table.)
    pub(crate) fn watchers(&self, of: &str, portal: &str) -> Vec<(String, Mailbox)> {
        let prefix = format!("{portal}|");
        self.lock()
            .iter()
            .filter(|(bare, _)| bare.starts_with(&prefix))
            .flat_map(|(bare, rs)| {
                rs.iter()
                    .filter(move |r| {
                        r.presence.is_some() && (bare == of || r.contacts.contains(of))
                    })
                    .map(move |r| (format!("{bare}/{}", r.name), r.mailbox.clone()))
            })
            .collect()
    }

    /// The mailbox of one resource.
    pub(crate) fn resource(&self, bare: &str, resource: &str) -> Option<Mailbox> {
        self.lock()
            .get(bare)
            .and_then(|rs| rs.iter().find(|r| r.name == resource))
            .map(|r| r.mailbox.clone())
    }

    /// The mailbox of the resource of `bare` bound by `connection`.
    pub(crate) fn connection(&self, bare: &str, connection: u64) -> Option<Mailbox> {
        self.lock()
            .get(bare)
            .and_then(|rs| rs.iter().find(|r| r.connection == connection))
            .map(|r| r.mailbox.clone())
    }

    /// The resources of `bare` that sent available presence, with their
    /// names, mailboxes and presence.
    pub(crate) fn available(&self, bare: &str) -> Vec<(String, Mailbox, Element)> {
        self.lock()
            .get(bare)
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| Some((r.name.clone(), r.mailbox.clone(), r.presence.clone()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Turns XEP-0280 carbons on or off for one resource.
    pub(crate) fn set_carbons(&self, bare: &str, resource: &str, connection: u64, enabled: bool) {
        if let Some(r) = self.lock().get_mut(bare).and_then(|rs| {
            rs.iter_mut()
                .find(|r| r.name == resource && r.connection == connection)
        }) {
            r.carbons = enabled;
        }
    }

    /// The resources of `bare` other than `except` that want carbons and
    /// are available, with their names.
    pub(crate) fn carbon_copies(&self, bare: &str, except: &str) -> Vec<(String, Mailbox)> {
        self.lock()
            .get(bare)
            .map(|rs| {
                rs.iter()
                    .filter(|r| r.carbons && r.presence.is_some() && r.name != except)
                    .map(|r| (r.name.clone(), r.mailbox.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The mailboxes of every bound resource of `bare`.
    pub(crate) fn mailboxes(&self, bare: &str) -> Vec<Mailbox> {
        self.lock()
            .get(bare)
            .map(|rs| rs.iter().map(|r| r.mailbox.clone()).collect())
            .unwrap_or_default()
    }

    /// How many resources are bound, for [`crate::ServerHandle::stats`].
    pub(crate) fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Every mailbox, to tell all connections something (shutdown).
    pub(crate) fn all(&self) -> Vec<Mailbox> {
        self.lock()
            .values()
            .flatten()
            .map(|r| r.mailbox.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    /// A mailbox allocates its slots 32 at a time, and every connection
    /// has one: with a 128-byte `Outbound` that was 4 KiB per idle
    /// connection, with boxed payloads it is 1 KiB.
    #[test]
    fn outbound_stays_small() {
        assert!(std::mem::size_of::<super::Outbound>() <= 32);
    }
}
