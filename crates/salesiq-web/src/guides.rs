//! What to type into each common Jabber client: the "Jabber settings"
//! view of SPEC §1, one guide per client, built from the server's real
//! domain, host and ports.
//!
//! Clients differ only in which fields they ask for: Pidgin wants the
//! login split into username and domain, Profanity takes one command,
//! the others take the whole address and hide host and port under an
//! "advanced" switch.

use serde::Serialize;

use crate::pages::JabberSettings;

/// How to set up one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClientGuide {
    /// The client's name.
    pub client: &'static str,
    /// Where it runs.
    pub platform: &'static str,
    /// Field label (as the client words it) and what to type.
    pub fields: Vec<(String, String)>,
    /// Anything else worth knowing.
    pub note: String,
}

fn field(label: &str, value: impl Into<String>) -> (String, String) {
    (label.to_owned(), value.into())
}

/// The guides for `login` (`portal|username`).
pub fn client_guides(login: &str, server: &JabberSettings) -> Vec<ClientGuide> {
    let jid = format!("{login}@{}", server.domain);
    let (host, starttls, direct) = (&server.host, server.starttls_port, server.direct_tls_port);
    let password = "your account password";
    let accept = "When the client shows the certificate, compare its SHA-256 fingerprint \
                  with the one above, then accept it.";
    vec![
        ClientGuide {
            client: "Conversations",
            platform: "Android",
            fields: vec![
                field("XMPP address", &jid),
                field("Password", password),
                field("Hostname", host),
                field("Port", starttls.to_string()),
            ],
            note: format!(
                "Turn on Settings > Expert settings > \"Extended connection settings\" to see \
                 Hostname and Port. Conversations uses STARTTLS on port {starttls}. {accept}"
            ),
        },
        ClientGuide {
            client: "Gajim",
            platform: "Windows, Linux, macOS",
            fields: vec![
                field("XMPP address", &jid),
                field("Password", password),
                field("Hostname", host),
                field("Port", starttls.to_string()),
                field("Connection type", "STARTTLS"),
            ],
            note: format!(
                "Hostname, Port and Connection type are under \"Advanced\" when adding the \
                 account. Direct TLS works too: port {direct}, connection type \"Direct TLS\". \
                 {accept}"
            ),
        },
        ClientGuide {
            client: "Pidgin",
            platform: "Windows, Linux",
            fields: vec![
                field("Protocol", "XMPP"),
                field("Username", login),
                field("Domain", &server.domain),
                field("Resource", "any name, e.g. Pidgin"),
                field("Password", password),
                field("Connection security (Advanced)", "Require encryption"),
                field("Connect port (Advanced)", starttls.to_string()),
                field("Connect server (Advanced)", host),
            ],
            note: format!(
                "For direct TLS choose \"Use old-style SSL\" and port {direct}. {accept}"
            ),
        },
        ClientGuide {
            client: "Profanity",
            platform: "terminal",
            fields: vec![
                field(
                    "Command",
                    format!("/connect {jid} server {host} port {starttls} tls force"),
                ),
                field(
                    "or, direct TLS",
                    format!("/connect {jid} server {host} port {direct} tls direct"),
                ),
            ],
            note: "Profanity asks for the password. When it shows the certificate, compare its \
                   fingerprint with the one above and type /tls allow (or /tls always)."
                .into(),
        },
        ClientGuide {
            client: "Monal",
            platform: "iOS, macOS",
            fields: vec![
                field("XMPP-ID", &jid),
                field("Password", password),
                field("Server (Advanced)", host),
                field("Port (Advanced)", direct.to_string()),
                field("Direct TLS (Advanced)", "on"),
            ],
            note: "Monal only accepts certificates the device trusts: give the server a real \
                   certificate (server.certificate and server.key in the configuration) \
                   before using Monal."
                .into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> JabberSettings {
        JabberSettings {
            domain: "salesiq.zoho.com".into(),
            host: "127.0.0.1".into(),
            starttls_port: 6222,
            direct_tls_port: 6223,
            fingerprint: "AB:CD".into(),
        }
    }

    fn value<'g>(guide: &'g ClientGuide, label: &str) -> &'g str {
        guide
            .fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{}: no {label}", guide.client))
    }

    #[test]
    fn every_common_client_gets_what_it_asks_for() {
        let guides = client_guides("demo|alice.ops", &server());
        let names: Vec<_> = guides.iter().map(|g| g.client).collect();
        assert_eq!(
            names,
            ["Conversations", "Gajim", "Pidgin", "Profanity", "Monal"]
        );
        let by = |name: &str| guides.iter().find(|g| g.client == name).unwrap();
        assert_eq!(
            value(by("Conversations"), "XMPP address"),
            "demo|alice.ops@salesiq.zoho.com"
        );
        assert_eq!(value(by("Gajim"), "Port"), "6222");
        assert_eq!(value(by("Gajim"), "Connection type"), "STARTTLS");
        // Pidgin splits the login.
        assert_eq!(value(by("Pidgin"), "Username"), "demo|alice.ops");
        assert_eq!(value(by("Pidgin"), "Domain"), "salesiq.zoho.com");
        assert_eq!(
            value(by("Profanity"), "Command"),
            "/connect demo|alice.ops@salesiq.zoho.com server 127.0.0.1 port 6222 tls force"
        );
        assert_eq!(value(by("Monal"), "Port (Advanced)"), "6223");
        assert!(by("Gajim").note.contains("fingerprint"));
    }
}
