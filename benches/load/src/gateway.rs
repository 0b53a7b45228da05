//! `gateway`: visitors over the WebSocket API, operators over XMPP.
//!
//! `2 × pairs` operators log in (portal `p{k}` has two) and answer every
//! offer with `y` and every visitor line by sending it back. Then
//! `--visitors` visitors open WebSockets, spread over the portals, and
//! request a chat; once joined, they send `--rate` lines/s in total for
//! `--seconds`. Measured: the time from request to `joined`, the round
//! trip visitor → gateway → operator's client → gateway → visitor, lines
//! per second, and the server's memory.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::args::Args;
use crate::client::sent_at;
use crate::client::{self, Session, Target};
use crate::report::{Summary, micros, round, rss_kib};
use crate::serve;

/// How long a visitor waits to be joined.
const JOIN_WAIT: Duration = Duration::from_secs(60);

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let target = Target::from_args(args, false)?;
    let ws: std::net::SocketAddr = args.need("ws")?;
    let pairs: usize = args.get("pairs", 50)?;
    let visitors: usize = args.get("visitors", 500)?;
    let seconds = Duration::from_secs_f64(args.get("seconds", 10.0)?);
    let rate: f64 = args.get("rate", 2000.0)?;
    let pid = args.pid()?;
    let rss_before = pid.and_then(rss_kib);

    // Operators.
    let names = (0..2 * pairs).map(serve::login_name).collect();
    let (sessions, _) =
        client::login_all(std::slice::from_ref(&target), names, serve::PASSWORD, 64).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut operators = JoinSet::new();
    for session in sessions {
        operators.spawn(operate(session, stop_rx.clone()));
    }
    // Presence must reach the gateway before the first request.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Visitors.
    let clock = Instant::now();
    let period = Duration::from_secs_f64(visitors as f64 / rate.max(0.001));
    let (phase_tx, phase_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for v in 0..visitors {
        let url = format!("ws://{ws}/ws/visitor?portal=p{}", v % pairs.max(1));
        let offset = period.mul_f64(v as f64 / visitors as f64);
        tasks.spawn(visit(url, v, period, offset, clock, phase_rx.clone()));
    }
    // Everyone joined (or gave up) before the measured phase.
    let wait_all = Instant::now();
    let joined_all = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let joined = JOINED.load(std::sync::atomic::Ordering::Relaxed);
        if joined >= visitors || wait_all.elapsed() > JOIN_WAIT {
            break joined;
        }
    };
    let rss_joined = pid.and_then(rss_kib);
    let _ = phase_tx.send(true);
    let measured = Instant::now();
    tokio::time::sleep(seconds).await;
    let _ = phase_tx.send(false);
    let secs = measured.elapsed().as_secs_f64();
    let rss_end = pid.and_then(rss_kib);

    let mut joins = Vec::new();
    let mut round_trips = Vec::new();
    let mut sent = 0u64;
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(visit)) => {
                joins.push(visit.joined);
                round_trips.extend(visit.round_trips);
                sent += visit.sent;
            }
            _ => failed += 1,
        }
    }
    let _ = stop_tx.send(true);
    while operators.join_next().await.is_some() {}

    let report = serde_json::json!({
        "label": args.text("label", "gateway"),
        "operators": 2 * pairs,
        "visitors": visitors,
        "visitors_joined": joined_all,
        "visitors_failed": failed,
        "join": Summary::of(joins).json(),
        "rate_asked": rate,
        "lines_sent_per_sec": round(sent as f64 / secs),
        "round_trips_per_sec": round(round_trips.len() as f64 / secs),
        "round_trip": Summary::of(round_trips).json(),
        "rss_before_kib": rss_before,
        "rss_joined_kib": rss_joined,
        "rss_end_kib": rss_end,
    });
    println!("{report}");
    Ok(())
}

static JOINED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What one visitor measured.
#[derive(Debug, Default)]
struct Visit {
    joined: u32,
    round_trips: Vec<u32>,
    sent: u64,
}

async fn visit(
    url: String,
    me: usize,
    period: Duration,
    offset: Duration,
    clock: Instant,
    mut phase: watch::Receiver<bool>,
) -> Result<Visit, String> {
    let (socket, _) = tokio::time::timeout(JOIN_WAIT, tokio_tungstenite::connect_async(&url))
        .await
        .map_err(|_| "WebSocket connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let (mut out, mut incoming) = socket.split();
    let start = serde_json::json!({
        "type": "start", "name": format!("Visitor {me}"), "question": "load test",
    });
    let asked = Instant::now();
    out.send(Frame::Text(start.to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let mut visit = Visit::default();
    tokio::time::timeout(JOIN_WAIT, async {
        while let Some(frame) = incoming.next().await {
            if let Ok(Frame::Text(text)) = frame
                && text.contains("\"joined\"")
            {
                return Ok(());
            }
        }
        Err("closed before joined".to_owned())
    })
    .await
    .map_err(|_| "not joined in time".to_owned())??;
    visit.joined = u32::try_from(asked.elapsed().as_micros()).unwrap_or(u32::MAX);
    JOINED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);

    // Wait for the measured phase.
    while !*phase.borrow_and_update() {
        if phase.changed().await.is_err() {
            return Ok(visit);
        }
    }
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            frame = incoming.next() => {
                let Some(Ok(frame)) = frame else { break };
                if let Frame::Text(text) = frame
                    && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
                    && value["type"] == "message"
                    && let Some(sent) = value["text"].as_str().and_then(sent_at)
                {
                    let now = micros(clock);
                    visit.round_trips.push(u32::try_from(now.saturating_sub(sent)).unwrap_or(u32::MAX));
                }
            }
            _ = ticks.tick() => {
                seq += 1;
                let line = serde_json::json!({"type": "message", "text": format!("{me} {seq} {}", micros(clock))});
                if out.send(Frame::Text(line.to_string().into())).await.is_err() {
                    break;
                }
                visit.sent += 1;
            }
            changed = phase.changed() => {
                if changed.is_err() || !*phase.borrow_and_update() {
                    break;
                }
            }
        }
    }
    let _ = out.send(Frame::Text(r#"{"type":"leave"}"#.into())).await;
    let _ = out.close().await;
    Ok(visit)
}

/// An operator: `y` to every offer, every visitor line sent back.
async fn operate(session: Session, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let mut stream = session.stream;
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut out = String::new();
    loop {
        tokio::select! {
            read = stream.read(&mut chunk) => {
                let n = read.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the server closed the stream".into());
                }
                buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
                out.clear();
                client::drain_stanzas(&mut buffer, |from, body| {
                    if body.contains("Reply y to accept") {
                        out.push_str(&client::chat(from, "y"));
                    } else if sent_at(body).is_some() {
                        out.push_str(&client::chat(from, body));
                    }
                });
                if !out.is_empty() {
                    stream.write_all(out.as_bytes()).await.map_err(|e| e.to_string())?;
                    stream.flush().await.map_err(|e| e.to_string())?;
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = stream.write_all(b"</stream:stream>").await;
    Ok(())
}
