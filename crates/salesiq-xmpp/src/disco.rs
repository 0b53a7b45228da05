//! What the server says it is: XEP-0030 disco#info and its XEP-0115
//! capabilities hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minidom::Element;
use sha1::{Digest, Sha1};

use crate::ns;
use crate::stanza::name;

/// The node of our capabilities (XEP-0115, section 4).
pub(crate) const CAPS_NODE: &str = "https://github.com/salesiq-gateway/salesiq-gateway";

/// The server's identity: category, type, name.
const IDENTITY: (&str, &str, &str) = ("server", "im", "salesiq-gateway");

/// Exactly what is implemented.
pub(crate) const FEATURES: &[&str] = &[
    ns::CARBONS,
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    ns::ROSTER,
    ns::PING,
    ns::VCARD,
];

/// The server's `<query xmlns='disco#info'/>`, for `node` if asked.
pub(crate) fn server_info(node: Option<&str>) -> Element {
    let (category, kind, title) = IDENTITY;
    let identity = Element::builder("identity", ns::DISCO_INFO)
        .attr(name("category"), category)
        .attr(name("type"), kind)
        .attr(name("name"), title)
        .build();
    let features = FEATURES.iter().map(|var| {
        Element::builder("feature", ns::DISCO_INFO)
            .attr(name("var"), *var)
            .build()
    });
    let mut query = Element::builder("query", ns::DISCO_INFO);
    if let Some(node) = node {
        query = query.attr(name("node"), node);
    }
    query.append(identity).append_all(features).build()
}

/// The XEP-0115 verification string of identities and features (section
/// 5.1, without extended data forms).
pub(crate) fn caps_ver(identities: &[(&str, &str, &str, &str)], features: &[&str]) -> String {
    let mut identities: Vec<String> = identities
        .iter()
        .map(|(category, kind, lang, title)| format!("{category}/{kind}/{lang}/{title}<"))
        .collect();
    identities.sort_unstable();
    let mut features: Vec<&str> = features.to_vec();
    features.sort_unstable();
    let mut text = identities.concat();
    for feature in features {
        text.push_str(feature);
        text.push('<');
    }
    B64.encode(Sha1::digest(text.as_bytes()))
}

/// The server's own verification string.
pub(crate) fn server_ver() -> String {
    let (category, kind, title) = IDENTITY;
    caps_ver(&[(category, kind, "", title)], FEATURES)
}

/// `<c/>` announcing the server's capabilities in its stream features.
pub(crate) fn caps_element() -> Element {
    Element::builder("c", ns::CAPS)
        .attr(name("hash"), "sha-1")
        .attr(name("node"), CAPS_NODE)
        .attr(name("ver"), server_ver())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0115, section 5.2: the simple example.
    #[test]
    fn the_verification_string_of_the_xep_example() {
        let ver = caps_ver(
            &[("client", "pc", "", "Exodus 0.9.1")],
            &[
                "http://jabber.org/protocol/caps",
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/muc",
            ],
        );
        assert_eq!(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    }

    #[test]
    fn the_advertised_info_matches_the_hash() {
        let info = server_info(None);
        let features: Vec<&str> = info.children().filter_map(|c| c.attr("var")).collect();
        assert_eq!(features, FEATURES);
        assert_eq!(caps_element().attr("ver"), Some(server_ver().as_str()));
    }
}
