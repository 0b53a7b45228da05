//! A second client library reads the archive and the offline messages:
//! slixmpp's xep_0313 (with xep_0059 paging) after a chat made with
//! tokio-xmpp, and slixmpp's xep_0203 on what was kept while the operator
//! had no device (XEP-0160), against the in-process server. Skipped,
//! saying why, when python3 or slixmpp is missing, unless CI is set (then
//! it must run: `scripts/test.sh` installs it).

#![allow(clippy::unwrap_used)]

use salesiq_session::VisitorEvent;
use salesiq_test_support as support;
use support::Mode;
use support::gateway::{ALICE, BOB, PASSWORD, hears_bob, message_saying, world};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message};

const ANN: &str = "demo|visitor-1@salesiq.zoho.com/visitor";

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

/// Whether python3 can import slixmpp; when not, says why, and fails
/// under CI (where `scripts/test.sh` installs it).
fn slixmpp_available() -> bool {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import slixmpp"])
        .output();
    let why = match probe {
        Ok(out) if out.status.success() => return true,
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(error) => format!("python3: {error}"),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the slixmpp test: {why}"
    );
    println!("skipped: slixmpp is not available ({why})");
    false
}

/// Runs `scripts/interop/<script>` with `args` against the server on
/// `port`, beside this runtime (which serves it), and returns what it
/// printed, which must end in `DONE`.
async fn run_script(script: &str, port: u16, args: &[&str]) -> String {
    let path = format!(
        "{}/../../scripts/interop/{script}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut argv = vec![path, port.to_string()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").args(&argv).output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("DONE"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

#[tokio::test]
async fn slixmpp_reads_the_archive() {
    if !slixmpp_available() {
        return;
    }
    let w = world(&[], None).await;
    let mut desk = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Where is my refund?").await;
    message_saying(&mut desk, "Reply y to accept").await;
    desk.send(chat(ANN, "y")).await;
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    desk.send(chat(ANN, "Hello from the desk")).await;
    hears_bob(&mut ann, "Hello from the desk").await;
    w.gateway
        .visitor_says(ann.chat, "Hello from Ann")
        .await
        .unwrap();
    message_saying(&mut desk, "Hello from Ann").await;

    let port = w.server.addr(Mode::StartTls).port();
    let stdout = run_script("slixmpp_mam.py", port, &[BOB, PASSWORD, ANN]).await;
    let lines: Vec<&str> = stdout.lines().collect();
    let archived: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("in\t") || l.starts_with("out\t"))
        .collect();
    let position = |wanted: &str| archived.iter().position(|l| *l == wanted);
    let (hello, answer) = (
        position("out\tHello from the desk"),
        position("in\tHello from Ann"),
    );
    assert!(
        matches!((hello, answer), (Some(h), Some(a)) if h < a),
        "{stdout}"
    );
    assert!(!stdout.contains("NO MAM FEATURE"), "{stdout}");
    let iterated = format!("ITERATED {}", archived.len());
    assert!(lines.contains(&iterated.as_str()), "{stdout}");
    desk.end().await;
}

/// What a colleague and a visitor said while Bob had no device comes to
/// slixmpp at login, in order, each with an XEP-0203 delay stamp.
#[tokio::test]
async fn slixmpp_gets_what_was_kept_with_delay_stamps() {
    if !slixmpp_available() {
        return;
    }
    let w = world(&[], None).await;
    let mut alice = w.online(ALICE, "desk").await;
    alice
        .send(chat(BOB, "Can you cover the evening shift?"))
        .await;
    let ping = tokio_xmpp::minidom::Element::builder("ping", "urn:xmpp:ping").build();
    alice.iq(None, tokio_xmpp::IqRequest::Get(ping)).await;
    w.gateway
        .post_to_board("demo", "The admins", "Maintenance at 22:00")
        .await
        .unwrap();

    let port = w.server.addr(Mode::StartTls).port();
    let stdout = run_script("slixmpp_offline.py", port, &[BOB, PASSWORD, "2"]).await;
    let kept: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| *l != "DONE")
        .map(|l| l.split('\t').collect())
        .collect();
    let find = |text: &str| {
        kept.iter()
            .find(|fields| fields.get(2).is_some_and(|body| body.contains(text)))
            .unwrap_or_else(|| panic!("{text}: {stdout}"))
    };
    let shift = find("Can you cover the evening shift?");
    assert!(shift[0].starts_with(ALICE), "{stdout}");
    let board = find("Maintenance at 22:00");
    assert!(
        board[0].starts_with("demo|board@salesiq.zoho.com"),
        "{stdout}"
    );
    for fields in [shift, board] {
        // slixmpp parsed the stamp into a date and time (not "-").
        assert!(fields[1].contains('T'), "no delay stamp: {stdout}");
    }
    alice.end().await;
}
