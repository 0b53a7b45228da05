//! The operators' message archive (XEP-0313) with XEP-0359 stanza ids:
//! real XMPP clients (tokio-xmpp) over TLS, the gateway over SQLite. A
//! phone that logs in after a chat reads the whole conversation, in pages
//! both ways; colleagues' messages are in both archives; nobody else
//! reads them.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use salesiq_session::{NewOperator, Portal, Store, StoreAccounts, VisitorEvent};
use salesiq_test_support as support;
use support::Operator;
use support::gateway::{ALICE, BOB, PASSWORD, hears_bob, message_saying, world};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::stanza_error::DefinedCondition;
use tokio_xmpp::{IqRequest, IqResponse};

const MAM: &str = "urn:xmpp:mam:2";
const RSM: &str = "http://jabber.org/protocol/rsm";
const ANN: &str = "demo|visitor-1@salesiq.zoho.com/visitor";

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

/// One archived message as a result gave it.
#[derive(Debug, Clone, PartialEq)]
struct Archived {
    id: String,
    from: String,
    to: String,
    stamp: String,
    text: String,
}

/// What a query's `<fin/>` said.
#[derive(Debug)]
struct Fin {
    complete: bool,
    first: Option<String>,
    last: Option<String>,
    count: Option<String>,
}

fn attr(name: &str) -> tokio_xmpp::minidom::rxml::NcName {
    tokio_xmpp::minidom::rxml::NcName::try_from(name).unwrap()
}

fn field(var: &str, value: &str) -> Element {
    Element::builder("field", "jabber:x:data")
        .attr(attr("var"), var)
        .append(
            Element::builder("value", "jabber:x:data")
                .append(value)
                .build(),
        )
        .build()
}

/// A query with a form of `fields` and an RSM set of `set` (name, text).
fn query(queryid: &str, fields: &[(&str, &str)], set: &[(&str, &str)]) -> Element {
    let mut form = Element::builder("x", "jabber:x:data")
        .attr(attr("type"), "submit")
        .append(field("FORM_TYPE", MAM));
    for (var, value) in fields {
        form = form.append(field(var, value));
    }
    let mut rsm = Element::builder("set", RSM);
    for (tag, text) in set {
        rsm = rsm.append(Element::builder(*tag, RSM).append(*text).build());
    }
    Element::builder("query", MAM)
        .attr(attr("queryid"), queryid)
        .append(form.build())
        .append(rsm.build())
        .build()
}

/// Runs a query; its results (oldest first) and its `<fin/>`.
async fn ask(
    operator: &mut Operator,
    q: Element,
) -> Result<(Vec<Archived>, Fin), DefinedCondition> {
    let queryid = q.attr("queryid").unwrap().to_owned();
    let fin = match operator.iq(None, IqRequest::Set(q)).await {
        IqResponse::Result(Some(fin)) => fin,
        IqResponse::Result(None) => panic!("a result without <fin/>"),
        IqResponse::Error(error) => return Err(error.defined_condition),
    };
    assert!(fin.is("fin", MAM), "{fin:?}");
    let set = fin.get_child("set", RSM).unwrap();
    let text = |tag: &str| set.get_child(tag, RSM).map(|e| e.text());
    let fin = Fin {
        complete: fin.attr("complete") == Some("true"),
        first: text("first"),
        last: text("last"),
        count: text("count"),
    };
    // The results came before the iq's result: the client kept them.
    let mut results = Vec::new();
    if let Some(last) = fin.last.clone() {
        loop {
            let message = operator.next_message().await;
            let Some(result) = message.payloads.iter().find(|p| p.is("result", MAM)) else {
                continue;
            };
            assert_eq!(result.attr("queryid"), Some(queryid.as_str()));
            let own = operator.jid.split('/').next().unwrap().to_owned();
            let from = message.from.as_ref().map(|j| j.to_string());
            assert_eq!(from, Some(own), "results come from the own bare JID");
            let forwarded = result.get_child("forwarded", "urn:xmpp:forward:0").unwrap();
            let delay = forwarded.get_child("delay", "urn:xmpp:delay").unwrap();
            let original = forwarded.get_child("message", "jabber:client").unwrap();
            let archived = Archived {
                id: result.attr("id").unwrap().to_owned(),
                from: original.attr("from").unwrap().to_owned(),
                to: original.attr("to").unwrap().to_owned(),
                stamp: delay.attr("stamp").unwrap().to_owned(),
                text: original.get_child("body", "jabber:client").unwrap().text(),
            };
            let done = archived.id == last;
            results.push(archived);
            if done {
                break;
            }
        }
        assert_eq!(results.first().map(|r| r.id.clone()), fin.first);
    }
    Ok((results, fin))
}

/// The XEP-0359 stanza id of a live message: (by, id).
fn stanza_id(message: &Message) -> Option<(String, String)> {
    let sid = message
        .payloads
        .iter()
        .find(|p| p.is("stanza-id", "urn:xmpp:sid:0"))?;
    Some((sid.attr("by")?.to_owned(), sid.attr("id")?.to_owned()))
}

async fn ping(operator: &mut Operator) {
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    operator.iq(None, IqRequest::Get(ping)).await;
}

#[tokio::test]
async fn a_phone_reads_the_whole_chat_and_nobody_else_does() {
    let w = world(&[], None).await;
    let mut desk = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Where is my refund?").await;
    let offer = message_saying(&mut desk, "Reply y to accept").await;
    assert_eq!(stanza_id(&offer).map(|s| s.0).as_deref(), Some(BOB));
    desk.send(chat(ANN, "y")).await;
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    message_saying(&mut desk, "ann@example.com").await;
    desk.send(chat(ANN, "Hello Ann, let me look")).await;
    hears_bob(&mut ann, "Hello Ann, let me look").await;
    w.gateway.visitor_says(ann.chat, "Order 42").await.unwrap();
    let line = message_saying(&mut desk, "Order 42").await;
    let (by, live_id) = stanza_id(&line).expect("a stanza id");
    assert_eq!(by, BOB);
    desk.send(chat(ANN, "#info")).await;
    message_saying(&mut desk, "Country").await;
    // The desk's own lines were taken once this round trip is back.
    ping(&mut desk).await;

    // The phone logs in afterwards; a line reaches both devices, and is
    // archived once, under one id.
    let mut phone = w.online(BOB, "phone").await;
    w.gateway.visitor_says(ann.chat, "Thanks!").await.unwrap();
    let on_desk = stanza_id(&message_saying(&mut desk, "Thanks!").await);
    let on_phone = stanza_id(&message_saying(&mut phone, "Thanks!").await);
    assert_eq!(on_desk, on_phone);

    let (all, fin) = ask(&mut phone, query("all", &[("with", ANN)], &[]))
        .await
        .unwrap();
    assert!(fin.complete, "{fin:?}");
    assert_eq!(fin.count, Some(all.len().to_string()));
    let said: Vec<(&str, bool)> = all
        .iter()
        .map(|m| (m.text.as_str(), m.from == BOB))
        .collect();
    let expected = [
        ("Reply y to accept", false),
        ("y", true),
        ("ann@example.com", false),
        ("Hello Ann, let me look", true),
        ("Order 42", false),
        ("#info", true),
        ("Country", false),
        ("Thanks!", false),
    ];
    let mut at = 0;
    for (text, outgoing) in expected {
        let found = said[at..]
            .iter()
            .position(|(t, o)| t.contains(text) && *o == outgoing)
            .unwrap_or_else(|| panic!("{text:?} (outgoing: {outgoing}) not in order in {said:?}"));
        at += found + 1;
    }
    assert_eq!(
        said.iter().filter(|(t, _)| *t == "Thanks!").count(),
        1,
        "once per operator"
    );
    for m in &all {
        let pair = (m.from.as_str(), m.to.as_str());
        assert!(pair == (BOB, ANN) || pair == (ANN, BOB), "{m:?}");
        assert!(m.stamp.ends_with('Z') && m.stamp.contains('T'), "{m:?}");
    }
    let stamps: Vec<&str> = all.iter().map(|m| m.stamp.as_str()).collect();
    assert!(stamps.is_sorted(), "{stamps:?}");
    assert!(
        all.iter().any(|m| m.id == live_id),
        "the live stanza id is the archive's"
    );

    // Two at a time, forwards, until complete.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    for round in 0.. {
        assert!(round < 20, "paging never completed");
        let mut set = vec![("max", "2")];
        if let Some(after) = &after {
            set.push(("after", after.as_str()));
        }
        let (page, fin) = ask(
            &mut phone,
            query(&format!("p{round}"), &[("with", ANN)], &set),
        )
        .await
        .unwrap();
        assert!(page.len() <= 2);
        paged.extend(page.iter().map(|m| m.id.clone()));
        if fin.complete {
            break;
        }
        after = fin.last;
    }
    let ids: Vec<String> = all.iter().map(|m| m.id.clone()).collect();
    assert_eq!(paged, ids);
    // The last page: an empty <before/>.
    let (last, fin) = ask(
        &mut phone,
        query("last", &[("with", ANN)], &[("max", "2"), ("before", "")]),
    )
    .await
    .unwrap();
    assert_eq!(last, all[all.len() - 2..].to_vec());
    assert!(!fin.complete);

    // Alice writes to Bob: in both archives.
    let mut alice = w.online(ALICE, "desk").await;
    alice.send(chat(BOB, "Lunch at noon?")).await;
    let got = message_saying(&mut phone, "Lunch at noon?").await;
    assert_eq!(stanza_id(&got).map(|s| s.0).as_deref(), Some(BOB));
    ping(&mut alice).await;
    let (bobs, _) = ask(&mut phone, query("c1", &[("with", ALICE)], &[]))
        .await
        .unwrap();
    let bobs: Vec<(&str, &str, &str)> = bobs
        .iter()
        .map(|m| (m.from.as_str(), m.to.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(bobs, [(ALICE, BOB, "Lunch at noon?")]);
    let (alices, _) = ask(&mut alice, query("c2", &[("with", BOB)], &[]))
        .await
        .unwrap();
    let alices: Vec<(&str, &str, &str)> = alices
        .iter()
        .map(|m| (m.from.as_str(), m.to.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(alices, [(ALICE, BOB, "Lunch at noon?")]);

    // Alice never saw Bob's chat with Ann; nor does another portal's
    // operator.
    let (none, fin) = ask(&mut alice, query("a", &[("with", ANN)], &[]))
        .await
        .unwrap();
    assert!(none.is_empty() && fin.complete);
    assert_eq!((fin.first, fin.count.as_deref()), (None, Some("0")));
    w.store
        .put_portal(&Portal::new("other", "en"))
        .await
        .unwrap();
    let carol = w
        .store
        .add_operator(&NewOperator::new("other", "carol@other.example", "Carol"))
        .await
        .unwrap();
    w.store.claim_username(carol.id, "carol.ops").await.unwrap();
    StoreAccounts::new(Arc::new((*w.store).clone()))
        .set_password(carol.id, PASSWORD)
        .await
        .unwrap();
    let mut carol = w.online("other|carol.ops@salesiq.zoho.com", "desk").await;
    let (none, _) = ask(&mut carol, query("o", &[("with", ANN)], &[]))
        .await
        .unwrap();
    assert!(none.is_empty());
    let (none, _) = ask(&mut carol, query("o2", &[], &[])).await.unwrap();
    assert!(none.is_empty());

    carol.end().await;
    alice.end().await;
    phone.end().await;
    desk.end().await;
}

#[tokio::test]
async fn disco_and_refusals() {
    let w = world(&[], None).await;
    let mut bob = w.online(BOB, "desk").await;
    let info = Element::builder("query", "http://jabber.org/protocol/disco#info").build();
    let IqResponse::Result(Some(info)) = bob.iq(Some(BOB), IqRequest::Get(info)).await else {
        panic!("no disco#info");
    };
    let features: Vec<&str> = info.children().filter_map(|c| c.attr("var")).collect();
    assert!(
        features.contains(&MAM) && features.contains(&"urn:xmpp:sid:0"),
        "{features:?}"
    );
    // The form (XEP-0313, 5.1).
    let get = Element::builder("query", MAM).build();
    let IqResponse::Result(Some(form)) = bob.iq(None, IqRequest::Get(get)).await else {
        panic!("no form");
    };
    let x = form.get_child("x", "jabber:x:data").unwrap();
    let vars: Vec<&str> = x.children().filter_map(|c| c.attr("var")).collect();
    assert_eq!(vars, ["FORM_TYPE", "with", "start", "end"]);

    let bad = query("b", &[("colour", "red")], &[]);
    assert_eq!(
        ask(&mut bob, bad).await.err(),
        Some(DefinedCondition::BadRequest)
    );
    let bad = query("b2", &[("start", "last tuesday")], &[]);
    assert_eq!(
        ask(&mut bob, bad).await.err(),
        Some(DefinedCondition::BadRequest)
    );
    let unknown = query("u", &[], &[("after", "12345")]);
    assert_eq!(
        ask(&mut bob, unknown).await.err(),
        Some(DefinedCondition::ItemNotFound)
    );
    bob.end().await;
}
