//! The message board: one contact per portal; what an operator writes to
//! it (or the embedder posts) is stored and reaches every available
//! operator of the portal. Posts are handled in order by a task of their
//! own, so a slow store never holds up an operator's connection.

use tokio::sync::mpsc;

use super::{Done, Gateway, GatewayError, Inner, OperatorEvent, WeakInner, logged};
use crate::contact::{ContactId, OperatorRef};
use crate::directory::Contact;

/// The board's presence status text.
pub(crate) const STATUS: &str = "Messages for every operator of the portal";

/// The board contact of `portal`, for operators' contact lists.
pub fn board_contact(portal: &str) -> Contact {
    Contact::new(ContactId::board(portal), "Message board", "Message board")
}

/// Who wrote a post.
#[derive(Debug)]
pub(super) enum Author {
    /// An operator, from their client: they do not get their own post.
    Operator(OperatorRef),
    /// The embedder, under this name.
    Named(String),
}

/// A post waiting for the board's task.
#[derive(Debug)]
pub(super) struct Post {
    pub(super) portal: String,
    pub(super) author: Author,
    pub(super) text: String,
    pub(super) done: Done,
}

/// The board's task: stores each post and sends it to the portal's
/// operators (kept for those not connected), until the gateway is gone.
pub(super) async fn run(inner: WeakInner, mut posts: mpsc::Receiver<Post>) {
    while let Some(post) = posts.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        let result = publish(&inner, &post).await;
        if let Some(done) = post.done {
            let _ = done.send(result);
        } else {
            logged(result, "a board post was not stored");
        }
    }
}

async fn publish(inner: &Inner, post: &Post) -> Result<(), GatewayError> {
    let (name, except) = match &post.author {
        Author::Operator(operator) => (inner.display_name(operator).await, Some(operator)),
        Author::Named(name) => (name.clone(), None),
    };
    inner.store.post(&post.portal, &name, &post.text).await?;
    // Every operator of the portal: those with no device connected get it
    // at their next login (the transport keeps it), so the board's backlog
    // since they were last online is theirs too.
    let readers: Vec<OperatorRef> = inner
        .store
        .operators(&post.portal)
        .await?
        .iter()
        .filter_map(|o| Some(OperatorRef::new(&o.portal, o.username.as_deref()?)))
        .filter(|o| Some(o) != except)
        .collect();
    let from = ContactId::board(&post.portal);
    for reader in readers {
        let text = format!("({name}) {}", post.text);
        inner
            .sink
            .send(&reader, OperatorEvent::message(&from, text));
    }
    Ok(())
}

impl Gateway {
    /// Posts to `portal`'s message board as `author` (the embedder's
    /// API): stored, and sent to every operator of the portal (kept for
    /// the next login of those not connected).
    /// Returns once done.
    pub async fn post_to_board(
        &self,
        portal: &str,
        author: &str,
        text: &str,
    ) -> Result<(), GatewayError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let post = Post {
            portal: portal.to_ascii_lowercase(),
            author: Author::Named(crate::clean_line(author)),
            text: crate::clean_text(text),
            done: Some(done),
        };
        self.inner
            .board
            .send(post)
            .await
            .map_err(|_| GatewayError::NoSuchChat)?;
        answer.await.unwrap_or(Err(GatewayError::NoSuchChat))
    }
}
