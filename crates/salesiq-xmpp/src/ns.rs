//! The XML namespaces the server speaks.

/// XEP-0203 delayed delivery.
pub(crate) const DELAY: &str = "urn:xmpp:delay";
/// RFC 6120 client stanzas.
pub(crate) const CLIENT: &str = "jabber:client";
/// The stream element.
pub(crate) const STREAM: &str = "http://etherx.jabber.org/streams";
/// Stream errors.
pub(crate) const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// Stanza errors.
pub(crate) const STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// STARTTLS.
pub(crate) const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// SASL.
pub(crate) const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// Resource binding.
pub(crate) const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// The legacy session establishment of RFC 3921.
pub(crate) const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
/// RFC 6121 roster.
pub(crate) const ROSTER: &str = "jabber:iq:roster";
/// XEP-0199 ping.
pub(crate) const PING: &str = "urn:xmpp:ping";
/// XEP-0030 service discovery, info.
pub(crate) const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// XEP-0030 service discovery, items.
pub(crate) const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// XEP-0280 message carbons.
pub(crate) const CARBONS: &str = "urn:xmpp:carbons:2";
/// XEP-0297 stanza forwarding.
pub(crate) const FORWARD: &str = "urn:xmpp:forward:0";
/// XEP-0334 message processing hints.
pub(crate) const HINTS: &str = "urn:xmpp:hints";
/// XEP-0054 vCards.
pub(crate) const VCARD: &str = "vcard-temp";
/// XEP-0115 entity capabilities.
pub(crate) const CAPS: &str = "http://jabber.org/protocol/caps";
/// XEP-0085 chat state notifications.
pub(crate) const CHAT_STATES: &str = "http://jabber.org/protocol/chatstates";
/// XEP-0313 message archive management.
pub(crate) const MAM: &str = "urn:xmpp:mam:2";
/// XEP-0359 unique and stable stanza ids.
pub(crate) const SID: &str = "urn:xmpp:sid:0";
/// XEP-0059 result set management.
pub(crate) const RSM: &str = "http://jabber.org/protocol/rsm";
/// XEP-0004 data forms.
pub(crate) const DATA: &str = "jabber:x:data";
