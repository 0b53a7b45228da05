//! The server's own iq services for a session: ping, disco, roster (and
//! its pushes), carbons switch, vCards, legacy session.

use minidom::Element;
use salesiq_session::{ArchivePage, Contact, ContactId, GatewayError, StoreError};

use super::Session;
use crate::archive;
use crate::error::StanzaErrorCondition;
use crate::jids;
use crate::ns;
use crate::router::Outbound;
use crate::stanza::{error_reply, iq_result, name};

impl Session {
    /// The server's own iq services.
    pub(super) async fn serve_iq(&mut self, iq: &Element, get: bool) -> Element {
        let Some(payload) = iq.children().next() else {
            return error_reply(iq, StanzaErrorCondition::BadRequest);
        };
        match (payload.name(), payload.ns().as_str(), get) {
            ("ping", ns::PING, true) => iq_result(iq, None),
            ("query", ns::DISCO_INFO, true) => iq_result(iq, Some(self.disco_info(iq, payload))),
            ("query", ns::MAM, true) if self.own_archive(iq) => {
                iq_result(iq, Some(archive::form()))
            }
            ("query", ns::DISCO_ITEMS, true) => {
                iq_result(iq, Some(Element::bare("query", ns::DISCO_ITEMS)))
            }
            ("query", ns::ROSTER, true) => {
                self.refresh_contacts().await;
                iq_result(iq, Some(self.roster()))
            }
            // The roster is the directory's: clients may not edit it.
            ("query", ns::ROSTER, false) => error_reply(iq, StanzaErrorCondition::NotAllowed),
            ("enable" | "disable", ns::CARBONS, false) => {
                let enabled = payload.name() == "enable";
                let router = &self.shared.router;
                router.set_carbons(&self.bare, &self.resource, self.connection, enabled);
                iq_result(iq, None)
            }
            ("vCard", ns::VCARD, true) => {
                let account = &self.account;
                let own = vcard(
                    &account.display_name,
                    Some(&account.email),
                    account.photo.as_ref(),
                );
                iq_result(iq, Some(own))
            }
            // vCards come from the account directory: clients may not edit them.
            ("vCard", ns::VCARD, false) => error_reply(iq, StanzaErrorCondition::NotAllowed),
            // RFC 3921 session establishment: a no-op kept for old clients.
            ("session", ns::SESSION, false) => iq_result(iq, None),
            _ => error_reply(iq, StanzaErrorCondition::ServiceUnavailable),
        }
    }

    pub(super) fn disco_info(&self, iq: &Element, query: &Element) -> Element {
        let to_account = iq.attr("to").is_some_and(|to| to.contains('@'));
        if !to_account {
            return crate::disco::server_info(query.attr("node"));
        }
        let identity = Element::builder("identity", ns::DISCO_INFO)
            .attr(name("category"), "account")
            .attr(name("type"), "registered")
            .build();
        // The archive is the account's (XEP-0313, section 6.1).
        let own = iq
            .attr("to")
            .is_some_and(|to| to.eq_ignore_ascii_case(&self.bare));
        let features = [ns::MAM, ns::SID]
            .into_iter()
            .filter(|_| own && self.shared.archive.is_some())
            .map(|var| {
                Element::builder("feature", ns::DISCO_INFO)
                    .attr(name("var"), var)
                    .build()
            });
        Element::builder("query", ns::DISCO_INFO)
            .append(identity)
            .append_all(features)
            .build()
    }

    /// Whether an iq asks this operator's archive: it has one (a gateway),
    /// and the iq is to no one or to the own bare JID (not the server's
    /// domain).
    fn own_archive(&self, iq: &Element) -> bool {
        self.shared.archive.is_some() && iq.attr("to").is_none_or(|to| to.contains('@'))
    }

    /// An archive query (XEP-0313): a malformed one answered at once; else
    /// read beside the session (the read loop waits for no store), once
    /// everything archived before it is written, and its results and
    /// `<fin/>` queued, in order, to this resource.
    pub(super) fn query_archive(&self, iq: &Element, query: &Element) -> Option<Element> {
        let (Some(gateway), Some(archiver)) = (self.shared.gateway.clone(), &self.shared.archive)
        else {
            return Some(error_reply(iq, StanzaErrorCondition::ServiceUnavailable));
        };
        if !self.own_archive(iq) {
            return Some(error_reply(iq, StanzaErrorCondition::ServiceUnavailable));
        }
        let domain = self.shared.config.domain.clone();
        let request = match archive::parse(query, &domain) {
            Ok(request) => request,
            Err(condition) => return Some(error_reply(iq, condition)),
        };
        let flushed = archiver.flushed();
        let (operator, mailbox) = (self.operator.clone(), self.mailbox.clone());
        let (bare, full, iq) = (self.bare.clone(), self.full.clone(), iq.clone());
        tokio::spawn(async move {
            let page = if request.matches_nothing {
                Ok(ArchivePage::new(Vec::new(), true, 0))
            } else {
                flushed.await;
                gateway.archived(&operator, &request.query).await
            };
            let reply = match page {
                Ok(page) => {
                    let queryid = request.queryid.as_deref();
                    for result in archive::results(&page, queryid, &bare, &full, &domain) {
                        let _ = mailbox.send(Outbound::stanza(result));
                    }
                    iq_result(&iq, Some(archive::fin(&page)))
                }
                Err(GatewayError::Store(StoreError::NotFound(_))) => {
                    error_reply(&iq, StanzaErrorCondition::ItemNotFound)
                }
                Err(error) => {
                    tracing::warn!(%operator, %error, "an archive query failed");
                    error_reply(&iq, StanzaErrorCondition::InternalServerError)
                }
            };
            let _ = mailbox.send(Outbound::stanza(reply));
        });
        None
    }

    /// Applies a change of the contact list and returns its roster push.
    pub(super) fn roster_change(&mut self, contact: Contact, present: bool) -> Element {
        let jid = jids::bare(&contact.id, &self.shared.config.domain);
        self.contacts.retain(|c| c.id != contact.id);
        let colleague = matches!(contact.id, ContactId::Colleague(_));
        let item = if present {
            if colleague {
                std::sync::Arc::make_mut(&mut self.contact_jids).insert(jid);
                self.publish_contacts();
            }
            let item = roster_item(&self.shared.config.domain, &contact);
            self.contacts.push(contact);
            item
        } else {
            if self.contact_jids.contains(&jid) {
                std::sync::Arc::make_mut(&mut self.contact_jids).remove(&jid);
                self.publish_contacts();
            }
            self.statuses.remove(&contact.id);
            Element::builder("item", ns::ROSTER)
                .attr(name("jid"), jid)
                .attr(name("subscription"), "remove")
                .build()
        };
        Element::builder("iq", ns::CLIENT)
            .attr(name("type"), "set")
            .attr(name("id"), format!("push-{:016x}", rand::random::<u64>()))
            .attr(name("to"), self.full.as_str())
            .append(Element::builder("query", ns::ROSTER).append(item).build())
            .build()
    }

    pub(super) fn roster(&self) -> Element {
        let domain = &self.shared.config.domain;
        let items = self
            .contacts
            .iter()
            .map(|contact| roster_item(domain, contact));
        Element::builder("query", ns::ROSTER)
            .append_all(items)
            .build()
    }
}

/// A roster item: the contact, subscribed both ways, in its group.
pub(super) fn roster_item(domain: &str, contact: &Contact) -> Element {
    Element::builder("item", ns::ROSTER)
        .attr(name("jid"), jids::bare(&contact.id, domain))
        .attr(name("name"), salesiq_session::clean_line(&contact.name))
        .attr(name("subscription"), "both")
        .append(
            Element::builder("group", ns::ROSTER)
                .append(salesiq_session::clean_line(&contact.group))
                .build(),
        )
        .build()
}

/// A vCard (XEP-0054) with a name, an e-mail address and a photo.
pub(super) fn vcard(
    full_name: &str,
    email: Option<&str>,
    photo: Option<&salesiq_session::Photo>,
) -> Element {
    use base64::Engine as _;
    // Names and addresses come from the embedder's directory: one clean
    // line each, whatever the store holds.
    let full_name = salesiq_session::clean_line(full_name);
    let mut card = Element::builder("vCard", ns::VCARD)
        .append(Element::builder("FN", ns::VCARD).append(full_name).build());
    if let Some(email) = email {
        let email = salesiq_session::clean_line(email);
        let userid = Element::builder("USERID", ns::VCARD).append(email).build();
        card = card.append(Element::builder("EMAIL", ns::VCARD).append(userid).build());
    }
    if let Some(photo) = photo {
        let data = base64::engine::general_purpose::STANDARD.encode(&photo.data);
        let photo = Element::builder("PHOTO", ns::VCARD)
            .append(
                Element::builder("TYPE", ns::VCARD)
                    .append(photo.mime_type.as_str())
                    .build(),
            )
            .append(Element::builder("BINVAL", ns::VCARD).append(data).build())
            .build();
        card = card.append(photo);
    }
    card.build()
}
