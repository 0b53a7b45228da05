//! The whole server stream, driven from bytes: the entry point of the
//! `server_stream` fuzz target (feature `fuzzing`, off by default).
//!
//! [`serve_bytes`] serves one connection of a real server (the same
//! negotiation, SASL, binding, session, XEPs and chat domain as over TCP)
//! over bytes in memory instead of a socket, and returns what the server
//! wrote. TLS is the one part left out: the fuzzer sees either the
//! plain-text stream of the STARTTLS port up to `<proceed/>`, or the
//! stream as it is once TLS is up (stream header, SASL, restart, bind,
//! stanzas). The server has the portal `demo` with the operators
//! `demo|alice.ops` and `demo|bob.ops` (password `pw`, for PLAIN and
//! SCRAM), an account without a username (`carol.smith@demo.example`), and one
//! visitor waiting for a chat (`demo|visitor-1@salesiq.zoho.com/visitor`),
//! so that a fuzzer that logs in reaches offers, `y` and every `#` command.
//!
//! It runs on a current-thread runtime with paused time: whenever nothing
//! else can happen, the clock jumps to the next timer (negotiation
//! deadline, resumption, queue timeout), so a run takes as long as its
//! work, and a connection that never ends within six hours of virtual time
//! is reported as [`Served::finished`] `false`: a hang.
//!
//! Every run starts from a copy of one seeded SQLite database (in
//! `/dev/shm` where there is one), so runs do not see each other's chats.
//! The client sends a new stream header only after the server answered
//! the last element of the old stream, as a client waiting for
//! `<success/>` or `<proceed/>` does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use salesiq_session::{
    Account, ChatRequest, Gateway, MemoryAccounts, NewOperator, Portal, SqliteStore, Store,
    VisitorDetails,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::negotiation::{secured, until_starttls};
use crate::server::share;
use crate::stream::{SecureIo, XmlStream};
use crate::tls::TlsIdentity;

/// The server's domain in [`serve_bytes`].
pub const DOMAIN: &str = "salesiq.zoho.com";

/// What [`serve_bytes`] keeps of the server's output, at most.
pub const MAX_OUTPUT: usize = 1 << 20;

/// At most this many writes (and pauses) per run: a long input is cut in
/// bigger pieces.
const MAX_PAUSES: usize = 256;

/// The pause between two writes, in virtual time.
const PAUSE: Duration = Duration::from_millis(1);

/// How long, in virtual time, a connection may take before it counts as
/// a hang: longer than every timer of a connection (XEP-0198 resumption
/// waits an hour).
const HANG: Duration = Duration::from_secs(6 * 3600);

/// What the server did with one input.
#[derive(Debug)]
#[non_exhaustive]
pub struct Served {
    /// What it wrote (the first [`MAX_OUTPUT`] bytes).
    pub output: Vec<u8>,
    /// Whether the connection ended within six hours of virtual time after
    /// the client's last byte.
    pub finished: bool,
}

/// Serves `input` as the bytes of one client connection.
///
/// The first byte chooses: its lowest bit the stage (0: the stream once
/// TLS is up; 1: the plain-text STARTTLS stream), the others how the rest
/// is cut into writes (1 to 65,536 bytes each, but at most 256 writes,
/// with a pause between them in which the server does all it can with
/// what it has). The rest is what the client
/// sends; then it closes its side and reads until the server closes.
pub fn serve_bytes(input: &[u8]) -> Served {
    let Some((&control, bytes)) = input.split_first() else {
        return Served {
            output: Vec::new(),
            finished: true,
        };
    };
    let plain = control & 1 == 1;
    let chunk = (1usize << ((control >> 1) % 17)).max(bytes.len().div_ceil(MAX_PAUSES));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    let Ok(runtime) = runtime else {
        return Served {
            output: Vec::new(),
            finished: true,
        };
    };
    let Some(template) = template() else {
        return Served {
            output: Vec::new(),
            finished: true,
        };
    };
    let database = scratch("run");
    let served = runtime.block_on(serve(plain, chunk, bytes, (&database, template)));
    drop(runtime);
    remove_database(&database);
    served
}

/// `bytes` cut every `chunk` bytes, and before every stream header, as a
/// client that waits for `<success/>` (or `<proceed/>`) before it
/// restarts the stream sends them. (A client that sends the new header
/// with the old stream's last element gets `<not-well-formed/>`: the
/// server does not carry bytes across a restart, as it must not across
/// STARTTLS.)
fn pieces(bytes: &[u8], chunk: usize) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = (0..bytes.len())
        .filter(|&at| {
            let rest = bytes.get(at..).unwrap_or_default();
            at > 0 && (rest.starts_with(b"<?xml") || rest.starts_with(b"<stream:stream"))
        })
        .collect();
    starts.push(bytes.len());
    let mut pieces = Vec::new();
    let mut from = 0;
    for end in starts {
        if let Some(segment) = bytes.get(from..end) {
            pieces.extend(segment.chunks(chunk.max(1)));
        }
        from = end;
    }
    pieces
}

/// A file name of its own, in memory if the system has `/dev/shm`.
fn scratch(what: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // Memory-backed where there is such a directory: a run writes its
    // database copy, and disk was a third of a run's time.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join(format!(
        "salesiq-fuzz-{}-{what}-{n}.sqlite3",
        std::process::id()
    ))
}

fn remove_database(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// The seeded database's bytes, made once. Every run starts from a copy:
/// creating and migrating a database was most of a run's time.
fn template() -> Option<&'static [u8]> {
    static TEMPLATE: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let path = scratch("template");
            let runtime = tokio::runtime::Builder::new_current_thread().build().ok()?;
            let seeded = runtime.block_on(async {
                let store = SqliteStore::open(&path).ok()?;
                seed(&store).await
            });
            // The store is closed: what the WAL held is in the file now.
            drop(runtime);
            let bytes = seeded.and_then(|()| std::fs::read(&path).ok());
            remove_database(&path);
            bytes
        })
        .as_deref()
}

async fn serve(
    plain: bool,
    chunk: usize,
    bytes: &[u8],
    (database, template): (&std::path::Path, &[u8]),
) -> Served {
    let Some((store, visitor)) = world(database, template) else {
        return Served {
            output: Vec::new(),
            finished: true,
        };
    };
    let accounts = accounts();
    let (shared, _shutdown) = share(
        Config::new(DOMAIN),
        acceptor().clone(),
        accounts.clone(),
        accounts,
        // The visitor waits for the operator (nobody is there yet).
        Some(Box::new(move |sink| {
            Gateway::builder(store)
                .offline_when_nobody(false)
                .build(sink)
        })),
        None,
    );
    let Some(gateway) = shared.gateway.clone() else {
        return Served {
            output: Vec::new(),
            finished: true,
        };
    };
    // The visitor is waiting before the operator logs in, as in a busy
    // portal; its events are kept (and ignored) for the whole run.
    let _visitor = gateway.request_chat(visitor).await;

    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let peer = SocketAddr::from(([192, 0, 2, 1], 40_000));
    let serving = async {
        let deadline = Instant::now() + shared.config.negotiation_timeout;
        if plain {
            drop(until_starttls(&shared, server, deadline).await);
        } else {
            let io: SecureIo = Box::new(server);
            let stream = Box::new(XmlStream::new(io, shared.config.xml_limits()));
            secured(shared.clone(), stream, peer, deadline).await;
        }
    };
    let (mut reading, mut writing) = tokio::io::split(&mut client);
    let talking = async {
        for piece in pieces(bytes, chunk) {
            if writing.write_all(piece).await.is_err() {
                break;
            }
            // With paused time this returns once the server has done all
            // it can with the bytes so far: runs are reproducible, and a
            // stanza in a piece of its own is handled before the next.
            tokio::time::sleep(PAUSE).await;
        }
        let _ = writing.shutdown().await;
    };
    let listening = async {
        let mut output = Vec::new();
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(read @ 1..) = reading.read(&mut buffer).await {
            let room = MAX_OUTPUT.saturating_sub(output.len()).min(read);
            output.extend_from_slice(buffer.get(..room).unwrap_or_default());
        }
        output
    };
    let served = async {
        let ((), (), output) = tokio::join!(serving, talking, listening);
        output
    };
    match tokio::time::timeout(HANG, served).await {
        Ok(output) => Served {
            output,
            finished: true,
        },
        Err(_) => Served {
            output: Vec::new(),
            finished: false,
        },
    }
}

/// A store with the portal and its operators (a copy of the template at
/// `database`), and the visitor's request.
fn world(database: &std::path::Path, template: &[u8]) -> Option<(Arc<dyn Store>, ChatRequest)> {
    std::fs::write(database, template).ok()?;
    let store = SqliteStore::open(database).ok()?;
    let mut details = VisitorDetails::default();
    details.name = "Ann".into();
    details.email = Some("ann@visitor.example".into());
    details.ip = Some("198.51.100.7".into());
    let request = ChatRequest::new("demo", details, "Where is my order?", None);
    Some((Arc::new(store), request))
}

/// The portal `demo`, its department and its operators.
async fn seed(store: &SqliteStore) -> Option<()> {
    store.put_portal(&Portal::new("demo", "en")).await.ok()?;
    let sales = store.add_department("demo", "Sales", true).await.ok()?;
    for (email, name, username) in [
        ("alice@demo.example", "Alice", "alice.ops"),
        ("bob@demo.example", "Bob", "bob.ops"),
    ] {
        let operator = store
            .add_operator(&NewOperator::new("demo", email, name))
            .await
            .ok()?;
        store.claim_username(operator.id, username).await.ok()?;
        store.assign_department(operator.id, sales.id).await.ok()?;
    }
    Some(())
}

/// The operators' credentials: made once (4,096 PBKDF2 iterations each),
/// shared by every run.
fn accounts() -> Arc<MemoryAccounts> {
    static ACCOUNTS: OnceLock<Arc<MemoryAccounts>> = OnceLock::new();
    ACCOUNTS
        .get_or_init(|| {
            Arc::new(
                MemoryAccounts::new()
                    .with_account(
                        Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"),
                        "pw",
                    )
                    .with_account(
                        Account::new("demo", Some("bob.ops"), "Bob", "bob@demo.example"),
                        "pw",
                    )
                    .with_account(
                        Account::new("demo", None, "Carol", "carol.smith@demo.example"),
                        "pw",
                    ),
            )
        })
        .clone()
}

/// The TLS acceptor the server is built with (never used: TLS is left
/// out), made once.
fn acceptor() -> &'static TlsAcceptor {
    static ACCEPTOR: OnceLock<TlsAcceptor> = OnceLock::new();
    ACCEPTOR.get_or_init(|| {
        let config = TlsIdentity::self_signed(DOMAIN)
            .and_then(|identity| identity.server_config())
            .unwrap_or_else(|e| panic!("a self-signed certificate for {DOMAIN}: {e}"));
        TlsAcceptor::from(config)
    })
}
