//! `serve`: salesiq-gateway's XMPP server with load accounts.
//!
//! The accounts are an embedder's [`Authenticator`] and [`Directory`] in
//! memory: `2 × pairs` operators, `load{i:06}` in portal `p{i / 2}`, all
//! with the password `load-pw`. SCRAM credentials are derived once and
//! shared (one salt), so that starting 20,000 accounts takes no time; a
//! PLAIN login compares in constant time. Each operator's only contact is
//! the other operator of its portal.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use salesiq_jid::LoginKey;
use salesiq_session::{
    Account, AuthError, Authenticator, BoxFuture, Contact, Directory, ScramCredentials, ScramHash,
};
use salesiq_xmpp::{Config, Server, TlsIdentity};
use subtle::ConstantTimeEq;

use crate::args::Args;

/// Every load account's password.
pub(crate) const PASSWORD: &str = "load-pw";

/// The username of load user `i`.
pub(crate) fn username(i: usize) -> String {
    format!("load{i:06}")
}

/// What load user `i` signs in with: `p{i / 2}|load{i:06}`.
pub(crate) fn login_name(i: usize) -> String {
    format!("{}|{}", portal(i), username(i))
}

/// The portal of load user `i`.
pub(crate) fn portal(i: usize) -> String {
    format!("p{}", i / 2)
}

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let pairs: usize = args.need("pairs")?;
    let host: IpAddr = args.get("host", IpAddr::from([127, 0, 0, 1]))?;
    let nodes: u16 = args.get("nodes", 1)?;
    let nats = args.text("nats", "");
    if nodes == 0 || (nodes > 1 && nats.is_empty()) {
        return Err("--nodes: 1, or more with --nats URL".into());
    }
    let accounts = Arc::new(LoadAccounts::new(pairs));
    let with_gateway = args.flag("gateway");
    let store = if with_gateway {
        let database = args.text("database", "target/load-gateway.sqlite3");
        println!("salesiq-load serve: gateway on {database}");
        Some(gateway_store(pairs, &database).await?)
    } else {
        None
    };
    let mut servers = Vec::new();
    for index in 0..nodes {
        // Node n listens on each port + n; with --nats, the nodes are one
        // gateway over NATS (salesiq-cluster), sharing the store.
        let cluster = if nats.is_empty() {
            None
        } else {
            let bus = salesiq_cluster::NatsBus::connect(&nats)
                .await
                .map_err(|e| e.to_string())?;
            let id =
                salesiq_cluster::NodeId::new(&format!("load{index}")).map_err(|e| e.to_string())?;
            Some(
                salesiq_cluster::ClusterNode::start(Arc::new(bus), id)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        };
        let server = node(args, host, index, &accounts, store.clone(), cluster.clone()).await?;
        if let Some(cluster) = &cluster {
            cluster
                .serve(server.handle())
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(gateway) = server.gateway().filter(|_| with_gateway) {
            let http = SocketAddr::new(host, args.get::<u16>("http-port", 8080)? + index);
            visitors(gateway.clone(), http).await?;
        }
        println!(
            "salesiq-load serve: node {index}: pid {} on {} (STARTTLS) and {} (direct TLS), {} accounts",
            std::process::id(),
            server
                .starttls_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            server
                .direct_tls_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            2 * pairs
        );
        servers.push(tokio::spawn(server.run(async {
            let _ = tokio::signal::ctrl_c().await;
        })));
    }
    for server in servers {
        let _ = server.await;
    }
    Ok(())
}

/// One node's XMPP server (and gateway, over `store`).
async fn node(
    args: &Args,
    host: IpAddr,
    index: u16,
    accounts: &Arc<LoadAccounts>,
    store: Option<Arc<dyn salesiq_session::Store>>,
    cluster: Option<salesiq_cluster::ClusterNode>,
) -> Result<Server, String> {
    let domain = args.text("domain", "load.test");
    let cert: PathBuf = args.need("cert")?;
    let key: PathBuf = args.need("key")?;
    let mut config = Config::new(&domain);
    let port = |name: &str, default: u16| args.get(name, default).map(|p: u16| p + index);
    config.starttls_addr = Some(SocketAddr::new(host, port("starttls-port", 6222)?));
    config.direct_tls_addr = Some(SocketAddr::new(host, port("direct-port", 6223)?));
    // Load comes from one address.
    config.max_connections_per_ip = usize::MAX;
    // The peers run without rate limits (no mod_limits, no shaping): so
    // does ours, or the throughput phase would measure the pacing.
    config.max_stanza_rate = u32::MAX;
    config.stanza_burst = u32::MAX;
    config.max_connections = args.get("max-connections", 100_000)?;
    let identity = TlsIdentity::from_pem_files(&cert, &key).map_err(|e| e.to_string())?;
    let mut builder = Server::builder(config, identity, accounts.clone(), accounts.clone());
    if let Some(cluster) = &cluster {
        builder = builder.relay(cluster.relay());
    }
    if let Some(store) = store {
        // 1,000 visitors from one loopback address, as fast as they can:
        // unbounded, like the pacing above.
        builder = builder.gateway(move |sink| {
            let gateway = salesiq_session::Gateway::builder(store)
                .visitor_limits(salesiq_session::VisitorLimits::unlimited())
                .offline_when_nobody(false);
            match cluster {
                Some(cluster) => gateway.cluster(cluster.cluster()).build(cluster.sink(sink)),
                None => gateway.build(sink),
            }
        });
    }
    builder.bind().await.map_err(|e| e.to_string())
}

/// A fresh SQLite file with the load operators (portal `p{k}` of two
/// operators, no departments: every offer goes to both), for the gateway.
async fn gateway_store(
    pairs: usize,
    database: &str,
) -> Result<Arc<dyn salesiq_session::Store>, String> {
    use salesiq_session::{NewOperator, Portal, SqliteStore, Store};
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{database}{suffix}"));
    }
    let store = Arc::new(SqliteStore::open(database).map_err(|e| e.to_string())?);
    let failed = |e: salesiq_session::StoreError| e.to_string();
    for k in 0..pairs {
        store
            // Load, not routing, is measured: operators take every chat.
            .put_portal(&Portal::new(&format!("p{k}"), "en").with_max_chats_per_operator(1_000_000))
            .await
            .map_err(failed)?;
        for i in [2 * k, 2 * k + 1] {
            let name = username(i);
            let operator = store
                .add_operator(&NewOperator::new(
                    &portal(i),
                    &format!("{name}@load.example"),
                    &name,
                ))
                .await
                .map_err(failed)?;
            store
                .claim_username(operator.id, &name)
                .await
                .map_err(failed)?;
        }
    }
    Ok(store)
}

/// The visitor WebSocket API on `http`.
async fn visitors(gateway: salesiq_session::Gateway, http: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(http)
        .await
        .map_err(|e| format!("HTTP on {http}: {e}"))?;
    let app = salesiq_web::visitor_ws::router(gateway)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("salesiq-load serve: HTTP stopped: {e}");
        }
    });
    println!("salesiq-load serve: visitors on ws://{http}/ws/visitor");
    Ok(())
}

/// The load accounts.
struct LoadAccounts {
    /// `(portal, username)` to user index.
    users: HashMap<(String, String), usize>,
    sha1: ScramCredentials,
    sha256: ScramCredentials,
}

impl std::fmt::Debug for LoadAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadAccounts")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl LoadAccounts {
    fn new(pairs: usize) -> Self {
        let users = (0..2 * pairs)
            .map(|i| ((portal(i), username(i)), i))
            .collect();
        let salt = b"salesiq-load-salt";
        let iterations = ScramCredentials::DEFAULT_ITERATIONS;
        Self {
            users,
            sha1: ScramCredentials::derive(ScramHash::Sha1, PASSWORD, salt, iterations),
            sha256: ScramCredentials::derive(ScramHash::Sha256, PASSWORD, salt, iterations),
        }
    }

    fn find(&self, login: &LoginKey) -> Option<Account> {
        let key = (login.portal().to_owned(), login.username().to_owned());
        let i = *self.users.get(&key)?;
        Some(account(i))
    }
}

fn account(i: usize) -> Account {
    let name = username(i);
    Account::new(
        &portal(i),
        Some(&name),
        &name,
        &format!("{name}@load.example"),
    )
}

impl Authenticator for LoadAccounts {
    fn check_password<'a>(
        &'a self,
        login: &'a LoginKey,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        Box::pin(async move {
            let account = self.find(login).ok_or(AuthError::NotAuthorized)?;
            // Constant time, as a real store would compare hashes.
            if bool::from(password.as_bytes().ct_eq(PASSWORD.as_bytes())) {
                Ok(account)
            } else {
                Err(AuthError::NotAuthorized)
            }
        })
    }

    fn scram_hashes(&self) -> &[ScramHash] {
        &[ScramHash::Sha256, ScramHash::Sha1]
    }

    fn scram_credentials<'a>(
        &'a self,
        login: &'a LoginKey,
        hash: ScramHash,
    ) -> BoxFuture<'a, Result<Option<(Account, ScramCredentials)>, AuthError>> {
        Box::pin(async move {
            let credentials = match hash {
                ScramHash::Sha1 => self.sha1.clone(),
                _ => self.sha256.clone(),
            };
            Ok(self.find(login).map(|account| (account, credentials)))
        })
    }
}

impl Directory for LoadAccounts {
    fn contacts<'a>(&'a self, me: &'a Account) -> BoxFuture<'a, Vec<Contact>> {
        Box::pin(async move {
            let Some(i) = me
                .username
                .as_deref()
                .and_then(|u| self.users.get(&(me.portal.clone(), u.to_owned())))
            else {
                return Vec::new();
            };
            let partner = i ^ 1;
            let name = username(partner);
            vec![Contact::colleague(&portal(partner), &name, &name)]
        })
    }
}
