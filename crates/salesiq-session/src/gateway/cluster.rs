//! Chats spanning nodes (issue 14): what a gateway asks of the other
//! nodes of its deployment, through [`Cluster`].
//!
//! The gateway stays the same on one node and on many; what differs is
//! only where things are:
//!
//! * **A chat runs on one node**: the one whose gateway took the
//!   visitor's request (the node holding the visitor's socket), or the one
//!   the visitor resumed on after that node died or gave the chat up. The
//!   store says which: [`crate::LiveChat::owner`], moved only by
//!   [`crate::Store::claim_live_chat`], a compare-and-set, so two nodes
//!   never both take a chat over.
//! * **Operators are available anywhere**: the cluster tells this gateway
//!   of devices on other nodes with [`Gateway::device_available`], with
//!   device ids of its own choosing, and carries the events this gateway's
//!   sink gets for those devices to the node holding them. Offers, "first
//!   `y` wins", transfers and invitations work unchanged: the chat task
//!   serialises every answer wherever it comes from.
//! * **Operator input goes to the chat's node**: input for a visitor
//!   contact no chat of this node has is handed to
//!   [`Cluster::forward`], and the owner's cluster glue submits it there
//!   ([`Gateway::submit`]).
//! * **Contact lists show every node's chats**: each chat tells the
//!   cluster what it shows operators ([`Listing`]) whenever that changes;
//!   [`Gateway::roster`] adds [`Cluster::roster`].

use std::collections::HashSet;

use super::{Gateway, GatewayError, RosterItem};
use crate::contact::{ContactId, DeviceId, OperatorRef};
use crate::future::BoxFuture;
use crate::gateway::OperatorInput;
use crate::gateway::PortError;
use crate::model::ChatId;

/// What a gateway asks of the other nodes of its deployment; set with
/// [`crate::GatewayBuilder::cluster`]. Without one, the gateway is alone
/// (every chat and every device is its own).
///
/// Implemented by a bus glue such as `salesiq-cluster`'s. Every method
/// but [`Cluster::release`] is called from the gateway's hot paths and
/// must not block: queue what goes over the network.
pub trait Cluster: Send + Sync + std::fmt::Debug {
    /// This node's id: the owner the store records on the chats it runs.
    fn node(&self) -> &str;

    /// Operator input for a visitor contact no chat of this node has:
    /// to the node whose chat it is. [`PortError::NoSuchChat`] when no
    /// node's chat shows the contact to `operator`.
    fn forward(
        &self,
        operator: &OperatorRef,
        device: DeviceId,
        to: &ContactId,
        input: OperatorInput,
    ) -> Result<(), PortError>;

    /// The visitor contacts of other nodes' chats that `operator` has on
    /// their list (is a member of, offered, or asked to join).
    fn roster(&self, operator: &OperatorRef) -> Vec<RosterItem>;

    /// What chat `chat` of this node shows operators changed, or (`None`)
    /// it is no longer run here (it ended, or was given up).
    fn listing(&self, chat: ChatId, listing: Option<&Listing>);

    /// Asks `owner`, the node that runs `chat` according to the store, to
    /// give it up because its visitor came back here
    /// ([`Gateway::release_chat`] there). Resolves to whether the chat may
    /// be taken over: `owner` gave it up, or is not alive. A live owner
    /// that does not answer within a few seconds keeps it.
    fn release<'a>(&'a self, chat: ChatId, owner: &'a str) -> BoxFuture<'a, bool>;
}

/// What one live chat shows operators: the visitor contact, and who has
/// it on their list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listing {
    /// The chat's portal.
    pub portal: String,
    /// The visitor contact, as the roster shows it.
    pub item: RosterItem,
    /// Who has the contact on their list: members, offered, asked to join.
    pub audience: Vec<OperatorRef>,
    /// Whether nobody has accepted yet.
    pub waiting: bool,
}

impl Listing {
    /// Chat of `portal` showing `item` to `audience`.
    pub fn new(portal: &str, item: RosterItem, audience: Vec<OperatorRef>, waiting: bool) -> Self {
        Self {
            portal: portal.to_owned(),
            item,
            audience,
            waiting,
        }
    }
}

impl Gateway {
    /// Another node asks for `chat` because its visitor came back there
    /// (see [`Cluster::release`]): the chat's task stops as at
    /// [`Gateway::shut_down`], keeping everything in the store for the
    /// node that takes it over, and its offers are withdrawn. The
    /// visitor's old connection here closes. Returns whether this node ran
    /// the chat (either way, it runs it no more).
    pub async fn release_chat(&self, chat: ChatId) -> Result<bool, GatewayError> {
        let Some(tx) = self.inner.chat(chat) else {
            return Ok(false);
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        if tx.send(super::Msg::Release(Some(done))).await.is_err() {
            return Ok(false);
        }
        Ok(matches!(answer.await, Ok(Ok(()))))
    }
}

impl super::Inner {
    /// This node's id in a cluster, `None` alone.
    pub(super) fn node(&self) -> Option<&str> {
        self.cluster.as_deref().map(Cluster::node)
    }

    /// Tells the cluster what a chat shows now.
    pub(super) fn list(&self, chat: ChatId, listing: Option<&Listing>) {
        if let Some(cluster) = &self.cluster {
            cluster.listing(chat, listing);
        }
    }

    /// The audience as a sorted list, as the cluster gets it.
    pub(super) fn sorted(audience: &HashSet<OperatorRef>) -> Vec<OperatorRef> {
        let mut audience: Vec<OperatorRef> = audience.iter().cloned().collect();
        audience.sort();
        audience
    }
}

impl Gateway {
    /// A visitor came back with a token no chat of this node has: another
    /// node's chat, found in the store, is taken over if its owner gives
    /// it up (or is gone), and restored here ([`Gateway::restore_chats`]
    /// tells what comes back). Whether the chat runs here now.
    ///
    /// Take-overs on one node are one at a time, so two resumes of one
    /// chat restore it once.
    pub(super) async fn take_over(&self, portal: &str, hash: &str) -> Result<bool, GatewayError> {
        let Some(cluster) = &self.inner.cluster else {
            return Ok(false);
        };
        let _one_at_a_time = self.inner.takeover.lock().await;
        let store = &self.inner.store;
        let Some(live) = store.live_chat(hash).await? else {
            return Ok(false);
        };
        if !live.portal.eq_ignore_ascii_case(portal) {
            return Ok(false);
        }
        if self.inner.chat(live.chat).is_some() {
            return Ok(true);
        }
        let me = cluster.node();
        if live.owner.as_deref() != Some(me) {
            if let Some(owner) = live.owner.as_deref()
                && !cluster.release(live.chat, owner).await
            {
                tracing::info!(chat = live.chat.0, owner, "a chat's node keeps it");
                return Ok(false);
            }
            if !store
                .claim_live_chat(live.chat, live.owner.as_deref(), Some(me))
                .await?
            {
                tracing::info!(chat = live.chat.0, "another node took the chat over first");
                return Ok(false);
            }
        }
        // Read again: the former owner stored its last state as it stopped.
        let live = store.live_chat(hash).await?.ok_or(GatewayError::BadToken)?;
        let chat = live.chat;
        self.restore(live).await?;
        tracing::info!(chat = chat.0, "chat taken over from another node");
        Ok(true)
    }

    /// Takes over the chats of `node`, a node that is gone (its presence
    /// expired): each is claimed from it in the store (where several
    /// nodes adopt at once, each chat goes to one of them) and restored
    /// here, its visitor away until they resume, on this node or another
    /// (which then asks for it, [`Cluster::release`]). Returns how many
    /// this node took.
    pub async fn adopt_chats(&self, node: &str) -> Result<usize, GatewayError> {
        let Some(cluster) = &self.inner.cluster else {
            return Ok(0);
        };
        let me = cluster.node();
        if node == me {
            return Ok(0);
        }
        let _one_at_a_time = self.inner.takeover.lock().await;
        let store = &self.inner.store;
        let mut adopted = 0;
        for live in store.live_chats().await? {
            if live.owner.as_deref() != Some(node) || self.inner.chat(live.chat).is_some() {
                continue;
            }
            if !store
                .claim_live_chat(live.chat, Some(node), Some(me))
                .await?
            {
                continue;
            }
            let chat = live.chat;
            match self.restore(live).await {
                Ok(()) => adopted += 1,
                Err(error) => {
                    tracing::warn!(chat = chat.0, %error, "an adopted chat could not be restored");
                }
            }
        }
        if adopted > 0 {
            tracing::info!(node, adopted, "chats of a lost node taken over");
        }
        Ok(adopted)
    }
}
