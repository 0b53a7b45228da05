//! Chats that outlive the process: [`Gateway::restore_chats`].

use tracing::Instrument as _;

use super::{Gateway, GatewayError, Launch};
use crate::model::{ChatState, LiveChat};

/// What [`Gateway::restore_chats`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Restored {
    /// Chats brought back, waiting for their visitors to resume.
    pub restored: usize,
    /// Chats left unfinished that could not come back (ended in the store,
    /// as [`Gateway::close_unfinished_chats`] does). In a cluster, only
    /// this node's.
    pub closed: usize,
}

impl Gateway {
    /// Brings back every chat an earlier run of the process left live
    /// (in a cluster, [`crate::Cluster`]: every chat this node ran, and
    /// those no node owns; other nodes' chats are theirs)
    /// (stopped with [`Gateway::shut_down`], or killed), and ends the
    /// unfinished chats that cannot come back (no live state kept, or what
    /// it refers to is gone). Call it once at start, before visitors and
    /// operators connect.
    ///
    /// Every live chat keeps in the store, as it changes, what this needs
    /// ([`LiveChat`]: the resume token's SHA-256 and the members; its
    /// content events for the visitor, [`crate::ChatEvent`]).
    ///
    /// What comes back: the chat, its operator and guests (who find the
    /// visitor on their contact list when they log in again and can write
    /// to it at once), its numbering and the last
    /// [`crate::MAX_CHAT_EVENTS`] content events, so that a visitor who
    /// resumes with `after` gets exactly what they missed. The visitor
    /// counts as away from the restart on: one who does not resume within
    /// the grace ([`crate::GatewayBuilder::visitor_grace`]) leaves, as
    /// after any dropped connection. A chat nobody had accepted waits
    /// again, with a fresh queue timeout, and is offered to operators as
    /// they come online.
    ///
    /// What does not: a pending timed end (`#e 30`), pending transfers and
    /// invitations, and offers, made to devices whose connections the
    /// restart closed (the operator who asked can ask again). A crash
    /// (`kill -9`) loses no more than a stop: members and events are
    /// stored as they change, before the operator who caused them is
    /// answered.
    pub async fn restore_chats(&self) -> Result<Restored, GatewayError> {
        let store = &self.inner.store;
        let unfinished: std::collections::HashSet<_> =
            store.unfinished_chats().await?.into_iter().collect();
        let mut restored = 0;
        for live in store.live_chats().await? {
            let chat = live.chat;
            if !unfinished.contains(&chat) || self.inner.chat(chat).is_some() {
                continue;
            }
            if !self.ours(&live).await? {
                continue;
            }
            match self.restore(live).await {
                Ok(()) => restored += 1,
                Err(error) => {
                    tracing::warn!(chat = chat.0, %error, "a chat could not be restored");
                }
            }
        }
        let closed = self.close_unfinished_chats().await?;
        Ok(Restored { restored, closed })
    }

    /// Whether this node restores `live` at start: alone, every chat; in
    /// a cluster, the chats it owned, and chats no node owns (left by a
    /// single-node run), claimed in the store first so that only one
    /// node restores each.
    async fn ours(&self, live: &LiveChat) -> Result<bool, GatewayError> {
        let Some(me) = self.inner.node() else {
            return Ok(true);
        };
        Ok(match live.owner.as_deref() {
            Some(owner) => owner == me,
            None => {
                self.inner
                    .store
                    .claim_live_chat(live.chat, None, Some(me))
                    .await?
            }
        })
    }

    pub(super) async fn restore(&self, live: LiveChat) -> Result<(), GatewayError> {
        let store = &self.inner.store;
        let chat = store
            .chat(&live.portal, live.chat)
            .await?
            .filter(|chat| chat.state != ChatState::Ended)
            .ok_or(GatewayError::NoSuchChat)?;
        let visitor = store
            .visitor(&live.portal, chat.visitor)
            .await?
            .ok_or(GatewayError::NoSuchChat)?;
        let department = match chat.department {
            Some(id) => store
                .departments(&live.portal)
                .await?
                .into_iter()
                .find(|d| d.id == id),
            None => None,
        };
        let eligible = match &department {
            Some(department) => self.inner.department_operators(department.id).await?,
            None => None,
        };
        let events = store.chat_events(chat.id).await?;
        let launch = Launch {
            chat: chat.id,
            portal: live.portal.clone(),
            visitor,
            question: chat.question,
            department,
            eligible,
            token_hash: live.token_hash.clone(),
            reservation: None,
        };
        self.inner.refresh_capacity(&live.portal).await;
        let (mut task, _gone) = self.launch(launch).await;
        task.restored(live, events);
        if task.operator.is_none() {
            task.enqueue();
        }
        task.offer_to_available();
        task.publish();
        let span = tracing::info_span!("chat", id = chat.id.0, portal = %task.portal);
        tracing::info!(parent: &span, "chat restored");
        tokio::spawn(task.run().instrument(span));
        Ok(())
    }
}
