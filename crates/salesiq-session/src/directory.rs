//! Whom an operator sees: the `Directory` seam.

use std::fmt;

use crate::auth::{Account, Photo};
use crate::contact::ContactId;
use crate::future::BoxFuture;

/// A contact on an operator's list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contact {
    /// Who it is: a colleague, a visitor or the message board.
    pub id: ContactId,
    /// The name to show.
    pub name: String,
    /// The roster group, e.g. "Colleagues".
    pub group: String,
    /// The picture to show, if any.
    pub photo: Option<Photo>,
}

impl Contact {
    /// A contact with that id, name and group.
    pub fn new(id: ContactId, name: &str, group: &str) -> Self {
        Self {
            id,
            name: name.to_owned(),
            group: group.to_owned(),
            photo: None,
        }
    }
}

impl Contact {
    /// A colleague: `username` of `portal`, in the Colleagues group.
    pub fn colleague(portal: &str, username: &str, name: &str) -> Self {
        Self::new(
            ContactId::colleague(portal, username),
            name,
            COLLEAGUES_GROUP,
        )
    }

    /// The same contact with a picture.
    pub fn with_photo(mut self, photo: Option<Photo>) -> Self {
        self.photo = photo;
        self
    }
}

/// The name of the roster group colleagues appear in.
pub const COLLEAGUES_GROUP: &str = "Colleagues";

/// Names the contacts of an operator: their roster, and so whom their
/// presence reaches and whom they may message. Supplied by the embedder (or
/// the session layer) as `Arc<dyn Directory>`.
///
/// Contacts never cross portals: an implementation returns only contacts of
/// `account.portal`, and the transport refuses anything addressed elsewhere.
pub trait Directory: Send + Sync + fmt::Debug {
    /// The contacts of `account`, not including the account itself.
    fn contacts<'a>(&'a self, account: &'a Account) -> BoxFuture<'a, Vec<Contact>>;
}
