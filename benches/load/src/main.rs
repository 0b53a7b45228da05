//! `salesiq-load`: measures an XMPP server under load, the same way for
//! salesiq-gateway, Prosody and ejabberd.
//!
//! ```text
//! salesiq-load serve --pairs 5000 --cert cert.pem --key key.pem
//! salesiq-load xmpp  --addr 127.0.0.1:6222 --ca cert.pem --naming ours --pairs 5000 --pid PID
//! ```
//!
//! `serve` runs salesiq-gateway's XMPP server for the load: `2 × pairs`
//! operators, two per portal (`p{k}|load{i}`), password `load-pw`, each
//! pair colleagues of each other. `xmpp` opens `2 × pairs` TLS client
//! connections, logs them all in, measures the server's memory idle, then
//! drives user pairs messaging each other: first as fast as a window of
//! messages in flight allows (throughput), then at a fixed rate (latency).
//! It prints one JSON object. `gateway` measures the chat gateway itself:
//! visitors over the WebSocket API (`serve --gateway`), operators over XMPP
//! answering them. Everything goes to the address given; the
//! scripts under `benches/` only ever give 127.0.0.1. Every phase is
//! bounded in count and time.

mod args;
mod client;
mod gateway;
mod report;
mod serve;
mod traffic;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  salesiq-load serve --pairs N --cert FILE --key FILE [--host 127.0.0.1]
                     [--starttls-port 6222] [--direct-port 6223] [--domain load.test]
                     [--gateway [--http-port 8080] [--database FILE]]
                     [--nodes N --nats URL]   (node n on each port + n)
  salesiq-load xmpp --addr HOST:PORT [--addr2 HOST:PORT] --ca FILE [--direct] [--domain load.test]
                    [--naming ours|plain] [--pairs N] [--mech plain|scram-sha-1]
                    [--concurrency 64] [--pid PID] [--label NAME]
                    [--seconds 10] [--window 8] [--rate 2000]
  salesiq-load gateway --addr HOST:PORT --ws HOST:PORT --ca FILE [--pairs 50]
                       [--visitors 500] [--seconds 10] [--rate 2000] [--pid PID]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("salesiq-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command.as_str() {
        "serve" => args::Args::parse(rest).and_then(|a| runtime.block_on(serve::run(&a))),
        "xmpp" => args::Args::parse(rest).and_then(|a| runtime.block_on(traffic::run(&a))),
        "gateway" => args::Args::parse(rest).and_then(|a| runtime.block_on(gateway::run(&a))),
        _ => Err(format!("unknown command {command:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("salesiq-load: {e}");
            ExitCode::FAILURE
        }
    }
}
