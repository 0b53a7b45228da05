//! The message board: one contact per portal; what an operator writes to
//! it (or the embedder posts) is stored and reaches every available
//! operator of the portal.

use crate::directory::Contact;

use super::{Gateway, GatewayError, OperatorEvent, OperatorRef};

/// The board contact's id in `portal`.
pub(crate) fn contact_id(portal: &str) -> String {
    format!("{}|board", portal.to_ascii_lowercase())
}

/// The board contact of `portal`, for operators' contact lists.
pub fn board_contact(portal: &str) -> Contact {
    Contact::new(&contact_id(portal), "Message board", "Message board")
}

impl Gateway {
    /// Posts to `portal`'s message board as `author` (the embedder's
    /// API): stored, and sent to every available operator of the portal.
    pub async fn post_to_board(
        &self,
        portal: &str,
        author: &str,
        text: &str,
    ) -> Result<(), GatewayError> {
        self.post(portal, author, text, None).await
    }

    /// An operator wrote to the board contact.
    pub(super) async fn post_from(
        &self,
        operator: &OperatorRef,
        text: &str,
    ) -> Result<(), GatewayError> {
        let name = self.display_name(operator).await;
        self.post(operator.portal(), &name, text, Some(operator))
            .await
    }

    async fn post(
        &self,
        portal: &str,
        author: &str,
        text: &str,
        except: Option<&OperatorRef>,
    ) -> Result<(), GatewayError> {
        self.inner.store.post(portal, author, text).await?;
        let readers: Vec<OperatorRef> = self
            .lock()
            .available
            .iter()
            .filter(|o| o.portal() == portal.to_ascii_lowercase() && Some(*o) != except)
            .cloned()
            .collect();
        let from = contact_id(portal);
        for reader in readers {
            let message = OperatorEvent::Message {
                from: from.clone(),
                text: format!("({author}) {text}"),
            };
            self.inner.sink.send(&reader, message);
        }
        Ok(())
    }
}
