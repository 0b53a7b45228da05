//! Small helpers to read and build stanzas on top of minidom.

use minidom::Element;

use crate::error::StanzaErrorCondition;
use crate::ns;

/// An XMPP address split into its parts, borrowed from the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Address<'a> {
    pub(crate) local: Option<&'a str>,
    pub(crate) domain: &'a str,
    pub(crate) resource: Option<&'a str>,
}

impl<'a> Address<'a> {
    /// Splits `local@domain/resource` (RFC 7622, section 3.1: the resource
    /// starts at the first `/`, the local part ends at the `@` before it).
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let (bare, resource) = match text.split_once('/') {
            Some((bare, resource)) if !resource.is_empty() => (bare, Some(resource)),
            Some(_) => return None,
            None => (text, None),
        };
        let (local, domain) = match bare.split_once('@') {
            Some((local, domain)) if !local.is_empty() => (Some(local), domain),
            Some(_) => return None,
            None => (None, bare),
        };
        (!domain.is_empty()).then_some(Self {
            local,
            domain,
            resource,
        })
    }
}

/// An attribute name known at compile time. (rxml's `xml_ncname!` checks
/// at compile time but expands to `unsafe`, which this crate forbids.)
pub(crate) fn name(text: &'static str) -> rxml::NcName {
    rxml::NcName::try_from(text).expect("attribute names in this crate are valid NCNames")
}

/// Serializes an element for the wire; nothing for an element that cannot
/// be written.
///
/// Text that XML cannot carry is kept out where it enters (the chat
/// domain cleans what visitors and embedders send, the transport what
/// directories name); should some still reach minidom, which panics on
/// it, the stanza is dropped and logged rather than the connection task
/// taken down.
pub(crate) fn to_bytes(element: &Element) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let written =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| element.write_to(&mut out)));
    match written {
        Ok(Ok(())) => out,
        Ok(Err(error)) => {
            tracing::warn!(%error, name = element.name(), "a stanza could not be written");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!(name = element.name(), "a stanza held text XML cannot carry");
            Vec::new()
        }
    }
}

/// A copy of `stanza` turned into an error reply to its sender
/// (RFC 6120, section 8.3.1).
pub(crate) fn error_reply(stanza: &Element, condition: StanzaErrorCondition) -> Element {
    error_reply_saying(stanza, condition, None)
}

/// As [`error_reply`], with a human-readable `<text>` (RFC 6120, 8.3.2).
pub(crate) fn error_reply_saying(
    stanza: &Element,
    condition: StanzaErrorCondition,
    text: Option<&str>,
) -> Element {
    let mut reply = Element::builder(stanza.name(), ns::CLIENT);
    if let Some(id) = stanza.attr("id") {
        reply = reply.attr(name("id"), id);
    }
    if let Some(from) = stanza.attr("from") {
        reply = reply.attr(name("to"), from);
    }
    if let Some(to) = stanza.attr("to") {
        reply = reply.attr(name("from"), to);
    }
    let mut error = Element::builder("error", ns::CLIENT)
        .attr(name("type"), condition.error_type())
        .append(Element::bare(condition.as_str(), ns::STANZA_ERRORS));
    if let Some(text) = text {
        error = error.append(
            Element::builder("text", ns::STANZA_ERRORS)
                .append(text)
                .build(),
        );
    }
    reply
        .attr(name("type"), "error")
        .append(error.build())
        .build()
}

/// `<iq type='result'>` answering `request`, with an optional payload.
pub(crate) fn iq_result(request: &Element, payload: Option<Element>) -> Element {
    let mut reply = Element::builder("iq", ns::CLIENT)
        .attr(name("type"), "result")
        .attr(name("id"), request.attr("id").unwrap_or_default());
    if let Some(from) = request.attr("from") {
        reply = reply.attr(name("to"), from);
    }
    if let Some(to) = request.attr("to") {
        reply = reply.attr(name("from"), to);
    }
    if let Some(payload) = payload {
        reply = reply.append(payload);
    }
    reply.build()
}

/// Whether a client could bind `resource`: 1 to 1023 bytes, no control
/// characters.
pub(crate) fn valid_resource(resource: &str) -> bool {
    !resource.is_empty()
        && resource.len() <= salesiq_jid::RESOURCE_MAX_LEN
        && !resource.chars().any(char::is_control)
}

/// The `<priority/>` of a presence (RFC 6121, 4.7.2.3), 0 when absent.
pub(crate) fn priority(presence: &Element) -> i8 {
    presence
        .get_child("priority", ns::CLIENT)
        .and_then(|p| p.text().trim().parse().ok())
        .unwrap_or(0)
}

/// Sets (or replaces) an attribute.
pub(crate) fn set_attr(element: &mut Element, name: rxml::NcName, value: &str) {
    element.set_attr(rxml::Namespace::NONE, name, value.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_stanza_is_dropped_not_a_panic() {
        let body = Element::builder("body", ns::CLIENT)
            .append("a\u{1}b")
            .build();
        assert!(to_bytes(&body).is_empty());
        let fine = Element::builder("body", ns::CLIENT).append("a b").build();
        assert_eq!(
            to_bytes(&fine),
            b"<body xmlns='jabber:client'>a b</body>".to_vec()
        );
    }

    #[test]
    fn addresses() {
        let full = Address::parse("demo|alice.ops@salesiq.zoho.com/Gajim/2").unwrap();
        assert_eq!(
            (full.local, full.domain, full.resource),
            (Some("demo|alice.ops"), "salesiq.zoho.com", Some("Gajim/2"))
        );
        let domain = Address::parse("salesiq.zoho.com").unwrap();
        assert_eq!((domain.local, domain.resource), (None, None));
        assert_eq!(Address::parse("a@b/"), None);
        assert_eq!(Address::parse("@b"), None);
        assert_eq!(Address::parse(""), None);
        // An @ inside the resource belongs to the resource.
        assert_eq!(Address::parse("d/x@y").unwrap().resource, Some("x@y"));
    }

    #[test]
    fn error_replies_swap_addresses() {
        let stanza: Element =
            "<message xmlns='jabber:client' id='m1' from='a@d/r' to='b@d'><body>x</body></message>"
                .parse()
                .unwrap();
        let reply = error_reply(&stanza, StanzaErrorCondition::ServiceUnavailable);
        assert_eq!(
            (reply.attr("to"), reply.attr("from"), reply.attr("type")),
            (Some("a@d/r"), Some("b@d"), Some("error"))
        );
        let error = reply.get_child("error", ns::CLIENT).unwrap();
        assert_eq!(error.attr("type"), Some("cancel"));
        assert!(error.has_child("service-unavailable", ns::STANZA_ERRORS));
        let bytes = String::from_utf8(to_bytes(&reply)).unwrap();
        assert!(bytes.starts_with("<message"), "{bytes}");
    }
}
