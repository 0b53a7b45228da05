//! The one place where the domain's contacts become JIDs and back.
//!
//! * A colleague is `portal|username@domain`, as they log in.
//! * A visitor is `portal|visitor-N@domain/visitor`: no username can take
//!   that localpart (usernames have no `-`), and it has a fixed resource,
//!   so clients that show chat states only from full JIDs (profanity) or
//!   address them to `bare/` (mcabber) work.
//! * The message board is `portal|board@domain/board`: `board` is shorter
//!   than any username.
//!
//! Everything is lower case: clients lowercase localparts anyway.

use salesiq_session::{ContactId, OperatorRef};

/// The resource of every visitor contact.
pub(crate) const VISITOR_RESOURCE: &str = "visitor";
/// The resource of the board contact.
pub(crate) const BOARD_RESOURCE: &str = "board";
/// The localpart of a board after `portal|`.
const BOARD: &str = "board";
/// What a visitor's localpart starts with after `portal|`.
const VISITOR: &str = "visitor-";

/// An operator's bare JID.
pub(crate) fn operator(operator: &OperatorRef, domain: &str) -> String {
    format!("{}|{}@{domain}", operator.portal(), operator.username())
}

/// A contact's bare JID.
pub(crate) fn bare(contact: &ContactId, domain: &str) -> String {
    match contact {
        ContactId::Colleague(colleague) => operator(colleague, domain),
        ContactId::Visitor { portal, number } => format!("{portal}|{VISITOR}{number}@{domain}"),
        ContactId::Board { portal } => format!("{portal}|{BOARD}@{domain}"),
    }
}

/// The JID a contact's stanzas come from: the full JID of a visitor or the
/// board, a colleague's bare JID (their resources speak for themselves).
pub(crate) fn from(contact: &ContactId, domain: &str) -> String {
    let bare = bare(contact, domain);
    match contact {
        ContactId::Colleague(_) => bare,
        ContactId::Visitor { .. } => format!("{bare}/{VISITOR_RESOURCE}"),
        ContactId::Board { .. } => format!("{bare}/{BOARD_RESOURCE}"),
    }
}

/// The contact a localpart names (any case), if any: a visitor or the
/// board by their forms, else a colleague if the rest is a username.
pub(crate) fn contact(local: &str) -> Option<ContactId> {
    let local = local.to_lowercase();
    let (portal, rest) = local.split_once('|')?;
    salesiq_jid::check_portal(portal).ok()?;
    if rest == BOARD {
        return Some(ContactId::board(portal));
    }
    if let Some(number) = rest.strip_prefix(VISITOR) {
        let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        let number: i64 = number.parse().ok().filter(|n| *n > 0 && digits)?;
        return Some(ContactId::visitor(portal, number));
    }
    let username = salesiq_jid::Username::parse(rest).ok()?;
    Some(ContactId::colleague(portal, username.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_goes_there_and_back() {
        let domain = "salesiq.zoho.com";
        for id in [
            ContactId::colleague("demo", "bob.ops"),
            ContactId::visitor("demo", 1),
            ContactId::visitor("demo", 123_456),
            ContactId::board("demo"),
        ] {
            let jid = bare(&id, domain);
            let local = jid.split('@').next().unwrap_or_default();
            assert_eq!(contact(local), Some(id.clone()), "{jid}");
            assert_eq!(contact(&local.to_uppercase()), Some(id), "{jid}");
        }
        assert_eq!(
            from(&ContactId::visitor("demo", 7), domain),
            "demo|visitor-7@salesiq.zoho.com/visitor"
        );
    }

    #[test]
    fn no_username_can_be_a_visitor_or_the_board() {
        // Issue 10, defect 6: `visitor.1` is a username; `visitor-1` is not.
        for rest in ["visitor-1", "visitor-42", "board"] {
            assert!(salesiq_jid::Username::parse(rest).is_err(), "{rest}");
        }
        assert_eq!(
            contact("demo|visitor.1"),
            Some(ContactId::colleague("demo", "visitor.1"))
        );
    }

    #[test]
    fn malformed_visitor_forms_are_nobody() {
        for local in [
            "demo|visitor-",
            "demo|visitor-0",
            "demo|visitor-+1",
            "demo|visitor--1",
            "demo|visitor-1x",
            "demo|visitor-99999999999999999999",
            "|visitor-1",
            "demo",
        ] {
            assert_eq!(contact(local), None, "{local}");
        }
    }
}
