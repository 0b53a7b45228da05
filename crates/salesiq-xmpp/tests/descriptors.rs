//! A moment without file descriptors does not stop the listeners (issue
//! 11, finding 4). Alone in its own test binary: it lowers the process's
//! open-file limit, which every thread of the process shares.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use std::fs::File;

use support::{HEADER, Operator, Raw, TestServer};

/// The soft open-file limit of this process, set with util-linux's
/// `prlimit` (no unsafe code here).
fn set_soft_limit(limit: u64) {
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={limit}:")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success());
}

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listeners_survive_running_out_of_descriptors() {
    let server = TestServer::start().await;
    let before = String::from_utf8(
        std::process::Command::new("prlimit")
            .args([
                "--pid",
                &std::process::id().to_string(),
                "--nofile",
                "--output=SOFT",
                "--noheadings",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse::<u64>()
    .unwrap();
    set_soft_limit(open_descriptors() + 32);
    // Use up every descriptor, then free one for a client's socket: the
    // server's accept then fails (EMFILE) with the connection waiting.
    let mut hog = Vec::new();
    while let Ok(file) = File::open("/dev/null") {
        hog.push(file);
        assert!(hog.len() < 10_000, "the limit did not take");
    }
    hog.pop();
    let mut first = Raw::connect(server.starttls).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // Descriptors come back.
    drop(hog);
    set_soft_limit(before);

    // The waiting connection is served, and so is a new login on the same
    // port: the listener did not give up.
    first.send(HEADER).await;
    first.read_until("</stream:features>").await;
    Operator::alice_logs_in(&server, "after").await;
    server.stop().await;
}
