//! The operators' message archive (XEP-0313, `urn:xmpp:mam:2`), with
//! XEP-0359 stanza ids: what passes is recorded, in order, by a writer
//! task of its own through the gateway's store; queries are parsed here
//! and answered with XEP-0297 forwarded messages.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use minidom::Element;
use salesiq_session::{
    ArchivePage, ArchiveQuery, ArchivedMessage, ContactId, Gateway, OperatorRef, archive_id,
    clean_text,
};
use tokio::sync::{mpsc, watch};

use crate::error::StanzaErrorCondition;
use crate::jids;
use crate::ns;
use crate::stanza::{Address, name};

/// How many messages wait to be archived before the newest are dropped
/// (and logged).
const QUEUE: usize = 4096;

/// How many queued messages the writer stores in one go, at most.
const BATCH: usize = 64;

/// A page's size when the client names none.
const DEFAULT_MAX: usize = 50;

/// A message to archive.
#[derive(Debug)]
struct Entry {
    owner: OperatorRef,
    message: ArchivedMessage,
}

/// The archive's writer: a bounded queue, written in order by a task of
/// its own, and how far it got (so that a query sees what passed before
/// it).
#[derive(Debug)]
pub(crate) struct Archiver {
    queue: mpsc::Sender<Entry>,
    queued: AtomicU64,
    written: watch::Receiver<u64>,
}

impl Archiver {
    /// The writer of `gateway`'s archive.
    pub(crate) fn new(gateway: Gateway) -> Self {
        let (queue, mut rx) = mpsc::channel::<Entry>(QUEUE);
        let (written_tx, written) = watch::channel(0u64);
        tokio::spawn(async move {
            // What queued up meanwhile goes in one write: a chat offered to
            // 200 operators is 200 messages at once.
            while let Some(first) = rx.recv().await {
                let mut batch = vec![(first.owner, first.message)];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(entry) => batch.push((entry.owner, entry.message)),
                        Err(_) => break,
                    }
                }
                let written = batch.len() as u64;
                if let Err(error) = gateway.archive_all(batch).await {
                    tracing::warn!(%error, written, "messages were not archived");
                }
                written_tx.send_modify(|n| *n += written);
            }
        });
        Self {
            queue,
            queued: AtomicU64::new(0),
            written,
        }
    }

    /// Archives a message `owner` exchanged with `with` now; its archive
    /// id, or `None` when it was not queued (no text, or a full queue,
    /// logged).
    pub(crate) fn record(
        &self,
        owner: &OperatorRef,
        with: &ContactId,
        outgoing: bool,
        text: &str,
    ) -> Option<i64> {
        if text.trim().is_empty() {
            return None;
        }
        let id = archive_id();
        let message = ArchivedMessage::new(id, Utc::now(), with.clone(), outgoing, text);
        let entry = Entry {
            owner: owner.clone(),
            message,
        };
        match self.queue.try_send(entry) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::AcqRel);
                Some(id)
            }
            Err(_) => {
                tracing::warn!(%owner, "the archive queue is full: a message was not archived");
                None
            }
        }
    }

    /// Resolves once everything queued so far is written (or the writer
    /// is gone).
    pub(crate) fn flushed(&self) -> impl Future<Output = ()> + Send + 'static {
        let target = self.queued.load(Ordering::Acquire);
        let mut written = self.written.clone();
        async move {
            let _ = written.wait_for(|n| *n >= target).await;
        }
    }
}

/// `<stanza-id/>` (XEP-0359) of a message archived by `by` as `id`.
pub(crate) fn stanza_id(by: &str, id: i64) -> Element {
    Element::builder("stanza-id", ns::SID)
        .attr(name("by"), by)
        .attr(name("id"), id.to_string())
        .build()
}

/// Takes out of a client's message every `<stanza-id/>` it brought: only
/// the server says under which id it archived something.
pub(crate) fn strip_stanza_ids(message: &mut Element) {
    while message.remove_child("stanza-id", ns::SID).is_some() {}
}

/// A parsed XEP-0313 query.
#[derive(Debug)]
pub(crate) struct Request {
    /// The client's `queryid`, echoed in every result.
    pub(crate) queryid: Option<String>,
    /// What to read.
    pub(crate) query: ArchiveQuery,
    /// Whether the `with` names nobody this archive can hold (another
    /// domain, no contact form): an empty page without asking the store.
    pub(crate) matches_nothing: bool,
}

/// Reads a `<query xmlns='urn:xmpp:mam:2'/>`: the data form's `with`,
/// `start` and `end` (anything else is `<bad-request/>`) and the RSM
/// `max` (default 50, at most 100), `after`, `before` (empty: the last
/// page). An `after` or `before` that is no id of ours is
/// `<item-not-found/>`, as one the archive does not hold.
pub(crate) fn parse(query: &Element, domain: &str) -> Result<Request, StanzaErrorCondition> {
    let mut request = Request {
        queryid: query.attr("queryid").map(str::to_owned),
        query: ArchiveQuery::new(DEFAULT_MAX),
        matches_nothing: false,
    };
    if let Some(form) = query.get_child("x", ns::DATA) {
        for field in form.children().filter(|c| c.is("field", ns::DATA)) {
            let value = field
                .get_child("value", ns::DATA)
                .map(Element::text)
                .unwrap_or_default();
            let value = value.trim();
            match field.attr("var").unwrap_or_default() {
                "FORM_TYPE" if value == ns::MAM => {}
                "with" => match with_contact(value, domain)? {
                    Some(contact) => request.query = request.query.with(contact),
                    None => request.matches_nothing = true,
                },
                "start" => request.query = request.query.start(timestamp(value)?),
                "end" => request.query = request.query.end(timestamp(value)?),
                _ => return Err(StanzaErrorCondition::BadRequest),
            }
        }
    }
    if let Some(set) = query.get_child("set", ns::RSM) {
        let max = match set.get_child("max", ns::RSM) {
            Some(max) => max
                .text()
                .trim()
                .parse::<usize>()
                .map_err(|_| StanzaErrorCondition::BadRequest)?,
            None => DEFAULT_MAX,
        };
        let mut query = request.query.clone();
        query.max = max.min(salesiq_session::MAX_ARCHIVE_PAGE);
        if let Some(after) = set.get_child("after", ns::RSM) {
            query = query.after(archive_ref(&after.text())?);
        }
        if let Some(before) = set.get_child("before", ns::RSM) {
            let text = before.text();
            query = if text.trim().is_empty() {
                query.last_page()
            } else {
                query.before(archive_ref(&text)?)
            };
        }
        if set.has_child("index", ns::RSM) {
            return Err(StanzaErrorCondition::BadRequest);
        }
        request.query = query;
    }
    Ok(request)
}

/// The contact a form's `with` names, `None` for a JID no contact of ours
/// has; a malformed JID is `<bad-request/>`.
fn with_contact(jid: &str, domain: &str) -> Result<Option<ContactId>, StanzaErrorCondition> {
    let address = Address::parse(jid).ok_or(StanzaErrorCondition::BadRequest)?;
    if !address
        .domain
        .trim_end_matches('.')
        .eq_ignore_ascii_case(domain)
    {
        return Ok(None);
    }
    Ok(address.local.and_then(jids::contact))
}

/// An XEP-0082 date and time.
fn timestamp(text: &str) -> Result<DateTime<Utc>, StanzaErrorCondition> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StanzaErrorCondition::BadRequest)
}

/// An RSM `after`/`before` id: ours are numbers, anything else is no id
/// of this archive.
fn archive_ref(text: &str) -> Result<i64, StanzaErrorCondition> {
    text.trim()
        .parse()
        .map_err(|_| StanzaErrorCondition::ItemNotFound)
}

/// The query form (XEP-0313, section 5.1), for `<iq type='get'/>`.
pub(crate) fn form() -> Element {
    let field = |var: &str, kind: &str| {
        Element::builder("field", ns::DATA)
            .attr(name("var"), var)
            .attr(name("type"), kind)
            .build()
    };
    let form_type = Element::builder("field", ns::DATA)
        .attr(name("var"), "FORM_TYPE")
        .attr(name("type"), "hidden")
        .append(Element::builder("value", ns::DATA).append(ns::MAM).build())
        .build();
    let form = Element::builder("x", ns::DATA)
        .attr(name("type"), "form")
        .append(form_type)
        .append(field("with", "jid-single"))
        .append(field("start", "text-single"))
        .append(field("end", "text-single"))
        .build();
    Element::builder("query", ns::MAM).append(form).build()
}

/// One `<message><result/></message>` per archived message, oldest first,
/// from the owner's bare JID to the querying resource `full`.
pub(crate) fn results(
    page: &ArchivePage,
    queryid: Option<&str>,
    bare: &str,
    full: &str,
    domain: &str,
) -> Vec<Element> {
    page.messages
        .iter()
        .map(|m| {
            let contact = jids::from(&m.with, domain);
            let (from, to) = if m.outgoing {
                (bare.to_owned(), contact)
            } else {
                (contact, bare.to_owned())
            };
            let stamp = m.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let original = Element::builder("message", ns::CLIENT)
                .attr(name("from"), from)
                .attr(name("to"), to)
                .attr(name("type"), "chat")
                .append(
                    Element::builder("body", ns::CLIENT)
                        .append(clean_text(&m.text))
                        .build(),
                )
                .build();
            let forwarded = Element::builder("forwarded", ns::FORWARD)
                .append(
                    Element::builder("delay", ns::DELAY)
                        .attr(name("stamp"), stamp)
                        .build(),
                )
                .append(original)
                .build();
            let mut result = Element::builder("result", ns::MAM).attr(name("id"), m.id.to_string());
            if let Some(queryid) = queryid {
                result = result.attr(name("queryid"), queryid);
            }
            Element::builder("message", ns::CLIENT)
                .attr(name("from"), bare)
                .attr(name("to"), full)
                .attr(name("id"), format!("mam-{:016x}", rand::random::<u64>()))
                .append(result.append(forwarded).build())
                .build()
        })
        .collect()
}

/// `<fin/>`: whether the page completes the result set, and its RSM set
/// (first, last, count; the count alone for an empty page).
pub(crate) fn fin(page: &ArchivePage) -> Element {
    let text = |tag: &str, value: String| Element::builder(tag, ns::RSM).append(value).build();
    let mut set = Element::builder("set", ns::RSM);
    if let (Some(first), Some(last)) = (page.messages.first(), page.messages.last()) {
        set = set
            .append(text("first", first.id.to_string()))
            .append(text("last", last.id.to_string()));
    }
    set = set.append(text("count", page.count.to_string()));
    let mut fin = Element::builder("fin", ns::MAM);
    if page.complete {
        fin = fin.attr(name("complete"), "true");
    }
    fin.append(set.build()).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(xml: &str) -> Element {
        xml.parse().unwrap_or_else(|e| panic!("{e}: {xml}"))
    }

    #[test]
    fn a_form_and_a_set() {
        let q = query(
            "<query xmlns='urn:xmpp:mam:2' queryid='q1'><x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>\
             <field var='with'><value>demo|visitor-3@d.example/visitor</value></field>\
             <field var='start'><value>2026-01-02T03:04:05Z</value></field></x>\
             <set xmlns='http://jabber.org/protocol/rsm'><max>500</max><before/></set></query>",
        );
        let request = parse(&q, "d.example").unwrap();
        assert_eq!(request.queryid.as_deref(), Some("q1"));
        assert_eq!(request.query.with, Some(ContactId::visitor("demo", 3)));
        assert_eq!(request.query.max, 100);
        assert!(request.query.last_page && !request.matches_nothing);
        assert!(request.query.start.is_some());
    }

    #[test]
    fn what_is_refused() {
        let form = |field: &str| {
            query(&format!(
                "<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>{field}</x></query>"
            ))
        };
        let bad = StanzaErrorCondition::BadRequest;
        assert_eq!(
            parse(&form("<field var='color'><value>red</value></field>"), "d").err(),
            Some(bad)
        );
        assert_eq!(
            parse(
                &form("<field var='start'><value>yesterday</value></field>"),
                "d"
            )
            .err(),
            Some(bad)
        );
        assert_eq!(
            parse(&form("<field var='with'><value>@d</value></field>"), "d").err(),
            Some(bad)
        );
        let elsewhere = parse(
            &form("<field var='with'><value>a|bob.ops@other</value></field>"),
            "d",
        );
        assert!(elsewhere.unwrap().matches_nothing);
        let rsm = query(
            "<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'>\
             <after>nope</after></set></query>",
        );
        assert_eq!(
            parse(&rsm, "d").err(),
            Some(StanzaErrorCondition::ItemNotFound)
        );
    }

    #[test]
    fn a_client_cannot_name_its_own_stanza_id() {
        let mut message = query(
            "<message xmlns='jabber:client'><body>x</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='a@d' id='1'/><stanza-id xmlns='urn:xmpp:sid:0' by='b@d' id='2'/></message>",
        );
        strip_stanza_ids(&mut message);
        assert!(!message.has_child("stanza-id", ns::SID));
        assert!(message.has_child("body", ns::CLIENT));
    }
}
