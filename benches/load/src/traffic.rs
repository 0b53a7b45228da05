//! `xmpp`: log in user pairs, then make them talk.
//!
//! Phases, each bounded in time:
//! 1. logins, `--concurrency` at a time: logins/s and login latency;
//! 2. idle, 2 s: the server's RSS, and so memory per connection;
//! 3. throughput, `--seconds`: every user keeps `--window` messages in
//!    flight to its partner, sending one more for each it receives;
//! 4. a pause until nothing has arrived for 500 ms (at most 60 s), so
//!    that the backlog of phase 3 is not measured as latency in phase 5;
//! 5. latency, `--seconds`: `--rate` messages/s in total, spread evenly
//!    over a set of senders (each sending at least 20/s);
//!
//! then one JSON object on stdout.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::args::Args;
use crate::client::{self, Session, Target};
use crate::report::{Summary, micros, round, rss_kib};
use crate::serve;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Throughput,
    Pause,
    Latency,
    Stop,
}

/// What one user's task measured.
#[derive(Debug, Default)]
struct Tally {
    throughput: Vec<u32>,
    latency: Vec<u32>,
    sent_latency: u64,
}

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let scram = match args.text("mech", "plain").as_str() {
        "plain" => false,
        "scram-sha-1" => true,
        other => return Err(format!("--mech: {other:?} is not plain or scram-sha-1")),
    };
    let target = Target::from_args(args, scram)?;
    // `--addr2`: odd users (each pair's second) log in there, so that
    // every message crosses between two nodes.
    let mut targets = vec![target.clone()];
    if let Ok(addr2) = args.need("addr2") {
        targets.push(Target {
            addr: addr2,
            ..target.clone()
        });
    }
    let ours = match args.text("naming", "ours").as_str() {
        "ours" => true,
        "plain" => false,
        other => return Err(format!("--naming: {other:?} is not ours or plain")),
    };
    let pairs: usize = args.get("pairs", 1000)?;
    let users = 2 * pairs;
    let concurrency: usize = args.get("concurrency", 64)?;
    let seconds = Duration::from_secs_f64(args.get("seconds", 10.0)?);
    let window: usize = args.get("window", 8)?;
    let rate: f64 = args.get("rate", 2000.0)?;
    let pid = args.pid()?;
    let label = args.text("label", &target.addr.to_string());
    let password = args.text("password", serve::PASSWORD);

    let rss_before = pid.and_then(rss_kib);

    // 1. Logins.
    let started = Instant::now();
    let names: Vec<String> = (0..users)
        .map(|i| {
            if ours {
                serve::login_name(i)
            } else {
                format!("u{i}")
            }
        })
        .collect();
    let (sessions, login_times) =
        client::login_all(&targets, names, &password, concurrency).await?;
    let login_secs = started.elapsed().as_secs_f64();
    let logins_per_sec = users as f64 / login_secs;
    let login_latency = Summary::of(login_times);
    eprintln!("{label}: {users} logged in, {logins_per_sec:.0}/s");

    // 2. Idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = pid.and_then(rss_kib);

    // 3-5. Traffic.
    let jids: Vec<String> = sessions.iter().map(|s| s.jid.clone()).collect();
    let clock = Instant::now();
    let (phase_tx, phase_rx) = watch::channel(Phase::Idle);
    let senders = users.min(((rate / 20.0).ceil() as usize).max(1));
    let period = Duration::from_secs_f64(senders as f64 / rate.max(0.001));
    let mut tasks = JoinSet::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let peer = jids.get(i ^ 1).cloned().unwrap_or_default();
        let offset = period.mul_f64(i as f64 / senders as f64);
        let sends = (i < senders).then_some((period, offset));
        tasks.spawn(talk(
            session,
            i,
            peer,
            window,
            sends,
            clock,
            phase_rx.clone(),
        ));
    }
    let _ = phase_tx.send(Phase::Throughput);
    tokio::time::sleep(seconds).await;
    let _ = phase_tx.send(Phase::Pause);
    let paused = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let last = LAST_ARRIVAL.load(std::sync::atomic::Ordering::Relaxed);
        let quiet = micros(clock).saturating_sub(last) > 500_000;
        if quiet || paused.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let drained_secs = paused.elapsed().as_secs_f64();
    let _ = phase_tx.send(Phase::Latency);
    let latency_start = Instant::now();
    tokio::time::sleep(seconds).await;
    let _ = phase_tx.send(Phase::Stop);
    let latency_secs = latency_start.elapsed().as_secs_f64();
    let rss_end = pid.and_then(rss_kib);

    let mut throughput = Vec::new();
    let mut latency = Vec::new();
    let mut sent = 0;
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(tally)) => {
                throughput.extend(tally.throughput);
                latency.extend(tally.latency);
                sent += tally.sent_latency;
            }
            _ => failed += 1,
        }
    }
    let routed = throughput.len() as f64 / seconds.as_secs_f64();
    let report = serde_json::json!({
        "label": label,
        "users": users,
        "mechanism": if target.scram { "SCRAM-SHA-1" } else { "PLAIN" },
        "direct_tls": target.direct_tls,
        "logins_per_sec": round(logins_per_sec),
        "login": login_latency.json(),
        "rss_before_kib": rss_before,
        "rss_idle_kib": rss_idle,
        "kib_per_connection": match (rss_before, rss_idle) {
            (Some(before), Some(idle)) => Some(round((idle as f64 - before as f64) / users as f64)),
            _ => None,
        },
        "throughput_msgs_per_sec": round(routed),
        "throughput_latency": Summary::of(throughput).json(),
        "backlog_drained_secs": round(drained_secs),
        "rate_asked": rate,
        "rate_sent": round(sent as f64 / latency_secs),
        "latency": Summary::of(latency).json(),
        "rss_end_kib": rss_end,
        "connections_failed_during_traffic": failed,
    });
    println!("{report}");
    Ok(())
}

/// When the last message arrived, in microseconds of the traffic clock.
static LAST_ARRIVAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One user: reads what arrives, and sends as the phase says.
async fn talk(
    session: Session,
    me: usize,
    peer: String,
    window: usize,
    sends: Option<(Duration, Duration)>,
    clock: Instant,
    mut phase: watch::Receiver<Phase>,
) -> Result<Tally, String> {
    let mut stream = session.stream;
    let mut tally = Tally::default();
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut seq = 0u64;
    let mut current = Phase::Idle;
    let (period, offset) = sends.unwrap_or((Duration::from_secs(3600), Duration::ZERO));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut out = String::new();
    loop {
        tokio::select! {
            read = stream.read(&mut chunk) => {
                let n = read.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the server closed the stream".into());
                }
                buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
                let now = micros(clock);
                let mut arrived = 0;
                LAST_ARRIVAL.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
                client::drain_messages(&mut buffer, |sent| {
                    let took = u32::try_from(now.saturating_sub(sent)).unwrap_or(u32::MAX);
                    match current {
                        Phase::Throughput => tally.throughput.push(took),
                        Phase::Latency => tally.latency.push(took),
                        _ => {}
                    }
                    arrived += 1;
                });
                if current == Phase::Throughput && arrived > 0 {
                    out.clear();
                    for _ in 0..arrived {
                        seq += 1;
                        out.push_str(&client::message(&peer, me, seq, micros(clock)));
                    }
                    write(&mut stream, &out).await?;
                }
            }
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                current = *phase.borrow_and_update();
                match current {
                    Phase::Throughput => {
                        out.clear();
                        for _ in 0..window {
                            seq += 1;
                            out.push_str(&client::message(&peer, me, seq, micros(clock)));
                        }
                        write(&mut stream, &out).await?;
                    }
                    Phase::Latency => ticks.reset_after(offset),
                    Phase::Stop => break,
                    _ => {}
                }
            }
            _ = ticks.tick(), if current == Phase::Latency && sends.is_some() => {
                seq += 1;
                tally.sent_latency += 1;
                write(&mut stream, &client::message(&peer, me, seq, micros(clock))).await?;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(b"</stream:stream>").await;
        let _ = stream.shutdown().await;
    })
    .await;
    Ok(tally)
}

async fn write<S: tokio::io::AsyncWrite + Unpin>(stream: &mut S, text: &str) -> Result<(), String> {
    stream
        .write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())
}
