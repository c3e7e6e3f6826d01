//! The network server: shared state, the accept loop and connection tasks.
//!
//! ```text
//!   tokio runtime (threads = `threads`)
//!   ┌────────────────────────────────────────────────────────────┐
//!   │ accept loop ──spawn──▶ connection task (one per client)    │
//!   │                        read → parse → execute → one write  │
//!   │                              │ short shard locks           │
//!   └──────────────────────────────┼─────────────────────────────┘
//!                                  ▼
//!            Store: namespaces → databases → shards (map + wheel)
//!                                  ▲
//!   expiry driver thread ──────────┘ advances wheels, publishes `expired`
//! ```

pub mod client;
pub mod connection;
pub mod monitor;
pub mod namespaces;
pub mod open_files;
pub mod persistence;
pub mod secrets;
pub mod slowlog;
pub mod stats;
pub mod tls;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

pub use client::{ClientHandle, ClientRegistry, ClientState};
pub use namespaces::NamespaceError;
pub use stats::{Stats, resident_bytes};
pub use tls::{TlsContext, TlsError};
pub use users::{User, Users};

use crate::config::{Config, OutputLimit, SharedOutputLimit};
use crate::memory::MemoryReading;
use crate::metrics::CommandMetrics;
use crate::persistence::Journal;
use crate::pubsub::Hub;
use crate::store::eviction::EvictionPolicy;
use crate::store::{DEFAULT_NAMESPACE, Namespace, Store, StoreLayout};
use monitor::Monitors;
use slowlog::SlowLog;

/// Configuration values read on every request, kept in atomics so the hot path takes no lock.
#[derive(Debug, Default)]
pub struct LiveSettings {
    proto_max_bulk_len: AtomicU64,
    timeout: AtomicU64,
    normal_output_limit: SharedOutputLimit,
    maxmemory: AtomicU64,
    maxmemory_policy: AtomicU8,
    maxmemory_samples: AtomicU64,
    slowlog_log_slower_than: AtomicI64,
    slowlog_max_len: AtomicU64,
}

impl LiveSettings {
    /// Longest accepted bulk string.
    pub fn proto_max_bulk_len(&self) -> u64 {
        self.proto_max_bulk_len.load(Ordering::Relaxed)
    }

    /// Seconds of inactivity after which a client is closed (0 = never).
    pub fn timeout(&self) -> u64 {
        self.timeout.load(Ordering::Relaxed)
    }

    /// The memory limit in bytes (0 = none).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// What goes when memory is over the limit, and how many keys each pick samples.
    pub fn eviction(&self) -> (EvictionPolicy, usize) {
        (
            EvictionPolicy::from_code(self.maxmemory_policy.load(Ordering::Relaxed)),
            self.maxmemory_samples.load(Ordering::Relaxed) as usize,
        )
    }

    /// Microseconds from which a command is slow-logged (negative: none), and how many
    /// entries the slow log keeps.
    pub fn slowlog(&self) -> (i64, usize) {
        (
            self.slowlog_log_slower_than.load(Ordering::Relaxed),
            self.slowlog_max_len.load(Ordering::Relaxed) as usize,
        )
    }

    /// How much reply output may wait for a client without subscriptions.
    pub fn normal_output_limit(&self) -> OutputLimit {
        self.normal_output_limit.load()
    }

    /// Copies the hot values out of a configuration.
    pub fn refresh(&self, config: &Config) {
        self.proto_max_bulk_len
            .store(config.proto_max_bulk_len, Ordering::Relaxed);
        self.timeout.store(config.timeout, Ordering::Relaxed);
        self.maxmemory.store(config.maxmemory, Ordering::Relaxed);
        self.maxmemory_policy
            .store(config.maxmemory_policy.code(), Ordering::Relaxed);
        self.maxmemory_samples
            .store(config.maxmemory_samples, Ordering::Relaxed);
        self.normal_output_limit.store(config.output_limits.normal);
        self.slowlog_log_slower_than
            .store(config.slowlog_log_slower_than, Ordering::Relaxed);
        self.slowlog_max_len
            .store(config.slowlog_max_len, Ordering::Relaxed);
    }
}

/// Everything the connections share.
pub struct ServerState {
    /// The configuration, as changed by CONFIG SET.
    pub config: RwLock<Config>,
    /// Hot configuration values.
    pub live: LiveSettings,
    /// The keyspace.
    pub store: Arc<Store>,
    /// The default user and the configured ones.
    pub users: Users,
    /// Serialises creating, entering and dropping namespaces (see [`namespaces`]).
    namespace_changes: Mutex<()>,
    /// Pub/sub and keyspace notifications.
    pub hub: Arc<Hub>,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// INFO counters.
    pub stats: Stats,
    /// When the server started.
    pub started: Instant,
    /// Random identifier of this run (INFO `run_id`).
    pub run_id: String,
    /// The TCP port actually listened on (differs from `port` when that was 0).
    pub tcp_port: AtomicU64,
    /// The aof thread, while the AOF is on.
    pub aof: Mutex<Option<persistence::AofThread>>,
    /// Set by the SHUTDOWN command: the server stops as on SIGTERM.
    pub shutdown: tokio::sync::Notify,
    /// Per-command metric handles, when the Prometheus exporter is on.
    pub metrics: Option<CommandMetrics>,
    /// Memory in use, as `maxmemory` checks it.
    pub memory: MemoryReading,
    /// What TLS connections are accepted with, when `tls-port` is set.
    pub tls: Option<TlsContext>,
    /// The latest slow commands (SLOWLOG).
    pub slowlog: SlowLog,
    /// Clients streaming every command (MONITOR).
    pub monitors: Monitors,
}

impl ServerState {
    /// Builds the state for a configuration: the store with its namespaces, the users, the
    /// hub.
    pub fn new(config: Config) -> Self {
        let hub = Arc::new(Hub::new(config.notify_keyspace_events));
        hub.set_output_limit(config.output_limits.pubsub);
        let layout = StoreLayout {
            databases: config.databases,
            shards: config.shards,
        };
        let journal = Arc::new(Journal::new(&config.dir, config.appendfsync));
        let store = Arc::new(Store::new(layout, hub.clone(), journal));
        store.set_hash_limits(config.hash_limits());
        store.set_zset_limits(config.zset_limits());
        store.set_list_limits(config.list_limits());
        store.set_set_limits(config.set_limits());
        namespaces::declare_namespaces(&store, &config);
        let users = Users::from_config(&config);
        let live = LiveSettings::default();
        live.refresh(&config);
        ServerState {
            config: RwLock::new(config),
            live,
            store,
            users,
            namespace_changes: Mutex::new(()),
            hub,
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            started: Instant::now(),
            run_id: random_hex_id(),
            tcp_port: AtomicU64::new(0),
            aof: Mutex::new(None),
            shutdown: tokio::sync::Notify::new(),
            metrics: None,
            memory: MemoryReading::default(),
            tls: None,
            slowlog: SlowLog::default(),
            monitors: Monitors::default(),
        }
    }

    /// The namespace new connections start in.
    pub fn default_namespace(&self) -> Arc<Namespace> {
        self.store
            .namespace(DEFAULT_NAMESPACE)
            .expect("the default namespace exists from start-up on")
    }

    /// Drops a closed connection's subscriptions and registry entry.
    pub fn forget_client(&self, client: &mut ClientState) {
        client.unsubscribe_all(&self.hub);
        if client.is_monitoring() {
            self.monitors.remove(client.id());
        }
        self.clients.unregister(client.id());
    }
}

/// A 40-character hex id, like Redis's run_id, from the process's randomly seeded hasher.
fn random_hex_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    (0..3)
        .map(|i| format!("{:016x}", RandomState::new().hash_one(i)))
        .collect::<String>()[..40]
        .to_string()
}

/// How long the accept loop waits after a failed accept.
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

/// What a listener's clients speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// RESP over plain TCP (`port`).
    Tcp,
    /// RESP over TLS (`tls-port`).
    Tls,
}

impl Transport {
    /// As the ready line names it.
    fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// Accepts connections on `listener` until the task is dropped, one task per client. A TLS
/// client is admitted (or refused at `maxclients`) before its handshake, which its own task
/// does, and refused by protected mode after it, as in Redis; a refusal at `maxclients` just
/// closes a TLS socket, as nothing can be said to it before a handshake.
pub async fn accept_loop(state: Arc<ServerState>, listener: TcpListener, transport: Transport) {
    let mut client_limit_log = BurstLog::default();
    let mut accept_error_log = BurstLog::default();
    loop {
        let (socket, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, say: the error repeats until a client leaves, so pause
                // rather than spin, and log once per burst.
                if let Some(others) = accept_error_log.note() {
                    tracing::warn!(
                        "accept failed: {error}; {others} other failure(s) since the last \
                         report"
                    );
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let (maxclients, protected) = {
            let config = state.config.read();
            let protected = config.protected_mode && config.requirepass.is_none();
            (config.maxclients, protected)
        };
        let denied = protected && !is_local(addr);
        if denied && transport == Transport::Tcp {
            tracing::debug!("refused {addr}: protected mode");
            tokio::spawn(refuse(socket, PROTECTED_MODE_DENIED.as_bytes()));
            continue;
        }
        if !state.clients.try_admit(maxclients) {
            state.stats.count_rejected();
            crate::metrics::connection_rejected();
            if let Some(others) = client_limit_log.note() {
                tracing::warn!(
                    "maxclients ({maxclients}) reached: refused {addr} and {others} other \
                     connection(s) since the last report"
                );
            }
            if transport == Transport::Tcp {
                tokio::spawn(refuse(socket, b"-ERR max number of clients reached\r\n"));
            }
            continue;
        }
        state.stats.count_connection();
        crate::metrics::connection_accepted();
        match transport {
            Transport::Tcp => {
                tokio::spawn(connection::serve(state.clone(), socket));
            }
            Transport::Tls => {
                let acceptor = state
                    .tls
                    .as_ref()
                    .expect("a TLS listener runs only with a TLS context")
                    .acceptor();
                tokio::spawn(tls::serve(state.clone(), socket, acceptor, denied));
            }
        }
    }
}

/// What a client that is not local gets in protected mode (`protected-mode yes` and no
/// `requirepass`), before the connection is closed: Redis 7.0's words, typo included, as
/// the differential test compares them.
const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because \
    protected mode is enabled and no password is set for the default user. In this mode \
    connections are only accepted from the loopback interface. If you want to connect from \
    external computers to Redis you may adopt one of the following solutions: 1) Just \
    disable protected mode sending the command 'CONFIG SET protected-mode no' from the \
    loopback interface by connecting to Redis from the same host the server is running, \
    however MAKE SURE Redis is not publicly accessible from internet if you do so. Use \
    CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the \
    protected mode by editing the Redis configuration file, and setting the protected mode \
    option to 'no', and then restarting the server. 3) If you started the server manually \
    just for testing, restart it with the '--protected-mode no' option. 4) Setup a an \
    authentication password for the default user. NOTE: You only need to do one of the \
    above things in order for the server to start accepting connections from the \
    outside.\r\n";

/// Whether a client connects from this host, as protected mode sees it: from 127.0.0.1 or
/// ::1 exactly, as Redis 7 checks.
pub fn is_local(addr: SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(ip) => {
            ip == std::net::Ipv6Addr::LOCALHOST
                || ip.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// Writes `error` to a connection that will not be served, then closes it so that the
/// client reads it even if it already sent a command.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S, error: &'static [u8]) {
    if socket.write_all(error).await.is_ok() {
        connection::close_gracefully(&mut socket).await;
    }
}

/// Logs an event that comes in bursts (refusals at `maxclients`, failed accepts) as one
/// line per burst, not one per event.
#[derive(Default)]
struct BurstLog {
    last_logged: Option<Instant>,
    since: u64,
}

impl BurstLog {
    /// How long a burst is summed up before the next line.
    const QUIET: std::time::Duration = std::time::Duration::from_secs(10);

    /// Counts one event. When a line is due, how many other events came since the last.
    fn note(&mut self) -> Option<u64> {
        self.since += 1;
        if self
            .last_logged
            .is_some_and(|at| at.elapsed() < Self::QUIET)
        {
            return None;
        }
        self.last_logged = Some(Instant::now());
        Some(std::mem::take(&mut self.since) - 1)
    }
}

/// The address `host` (a `bind` entry) and `port` name.
pub fn socket_addr(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    let host = host.trim_start_matches('-');
    let addr = if host.contains(':') {
        format!("[{host}]:{port}").parse()
    } else {
        format!("{host}:{port}").parse()
    };
    addr.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid bind address '{host}'"),
        )
    })
}

/// Binds every `bind` address on `port` and on `tls-port`: plain TCP unless `port` is 0
/// with a `tls-port` (a TLS-only server, as in Redis), TLS when `tls-port` is set.
pub async fn bind(config: &Config) -> std::io::Result<Vec<(TcpListener, Transport)>> {
    let mut listeners = Vec::new();
    if config.port != 0 || config.tls_port == 0 {
        for listener in bind_port(config, config.port)? {
            listeners.push((listener, Transport::Tcp));
        }
    }
    if config.tls_port != 0 {
        for listener in bind_port(config, config.tls_port)? {
            listeners.push((listener, Transport::Tls));
        }
    }
    Ok(listeners)
}

/// Binds every `bind` address on `port`, with room for `tcp-backlog` connections waiting to
/// be accepted (tokio's default, 128, drops bursts of new clients).
fn bind_port(config: &Config, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    for host in &config.bind {
        let addr = socket_addr(host, port)?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            let socket = TcpSocket::new_v6()?;
            set_only_v6(&socket)?;
            socket
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        listeners.push(socket.listen(config.tcp_backlog)?);
    }
    Ok(listeners)
}

/// Makes an IPv6 socket take IPv6 connections only, as Redis does: otherwise `::` also
/// takes IPv4 ones, and `bind 0.0.0.0 ::` fails with EADDRINUSE on the second address.
fn set_only_v6(socket: &TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: the descriptor is the socket's own, open while `socket` lives, and the option
    // value is a valid `c_int` of the size passed.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs the server until SIGINT, SIGTERM or SHUTDOWN: binds, loads the AOF, announces readiness,
/// starts the expiry driver and serves every listener. On the signal it stops accepting and
/// flushes and fsyncs the AOF before returning.
pub async fn run(mut config: Config) -> Result<(), ServerError> {
    config.maxclients = open_files::fit_clients(config.maxclients)?;
    let tls = (config.tls_port != 0)
        .then(|| TlsContext::from_config(&config))
        .transpose()?;
    let listeners = bind(&config).await?;
    let metrics_addr = start_metrics(&config)?;
    log_banner(&config, metrics_addr);
    let mut state = ServerState::new(config);
    if metrics_addr.is_some() {
        state.metrics = Some(CommandMetrics::new());
    }
    state.tls = tls;
    let state = Arc::new(state);
    persistence::start(&state)?;
    let driver = crate::store::expiry::spawn_driver(state.store.clone());
    let mut accepting = tokio::task::JoinSet::new();
    for (listener, transport) in listeners {
        let addr = listener.local_addr()?;
        if transport == Transport::Tcp {
            state
                .tcp_port
                .store(u64::from(addr.port()), Ordering::Relaxed);
        }
        tracing::info!(
            "Ready to accept connections {} on {addr}",
            transport.as_str()
        );
        accepting.spawn(accept_loop(state.clone(), listener, transport));
    }
    accepting.spawn(close_idle_clients(state.clone()));
    if metrics_addr.is_some() {
        accepting.spawn(crate::metrics::sample(state.clone()));
    }
    tokio::select! {
        () = wait_for_signal() => tracing::info!("Received a shutdown signal, exiting"),
        () = state.shutdown.notified() => tracing::info!("SHUTDOWN asked for, exiting"),
    }
    accepting.abort_all();
    crate::store::expiry::stop(state.store.clock());
    let _ = driver.join();
    persistence::stop(&state);
    Ok(())
}

/// Serves `/metrics` on the first `bind` address at `metrics-port`, unless that is 0.
fn start_metrics(config: &Config) -> Result<Option<SocketAddr>, ServerError> {
    let (Some(host), port @ 1..) = (config.bind.first(), config.metrics_port) else {
        return Ok(None);
    };
    let addr = socket_addr(host, port)?;
    crate::metrics::install(addr).map_err(|error| ServerError::Metrics(addr, error))?;
    Ok(Some(addr))
}

/// The start-up banner: what is running, where, and with which state.
fn log_banner(config: &Config, metrics_addr: Option<SocketAddr>) {
    let config_file = config
        .config_file
        .as_ref()
        .map_or("none (embedded defaults)".to_string(), |path| {
            path.display().to_string()
        });
    let persistence = if config.appendonly {
        format!(
            "AOF in {} (appendfsync {})",
            config.dir.display(),
            config.appendfsync.as_str()
        )
    } else {
        "off (appendonly no)".to_string()
    };
    let configured = config.namespaces.iter().map(|spec| spec.name.as_str());
    let namespaces: Vec<&str> = std::iter::once(DEFAULT_NAMESPACE)
        .chain(configured.filter(|name| *name != DEFAULT_NAMESPACE))
        .collect();
    let metrics = metrics_addr.map_or("off".to_string(), |addr| format!("http://{addr}/metrics"));
    tracing::info!(
        "sessiond {} starting: pid {}, bind {} port {} tls-port {}, config file {config_file}, \
         persistence {persistence}, metrics {metrics}, namespaces {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        config.bind.join(" "),
        config.port,
        config.tls_port,
        namespaces.join(", "),
    );
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding or another socket operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The AOF could not be loaded or created.
    #[error("cannot load the AOF: {0}")]
    Aof(#[from] crate::persistence::AofError),
    /// The open-file limit leaves no room for a single client.
    #[error(transparent)]
    OpenFiles(#[from] open_files::TooFewFiles),
    /// The `tls-*` files do not make a TLS configuration.
    #[error("cannot serve TLS: {0}")]
    Tls(#[from] TlsError),
    /// The metrics endpoint could not be served.
    #[error("cannot serve metrics on {0}: {1}")]
    Metrics(SocketAddr, metrics_exporter_prometheus::BuildError),
}

/// How often idle clients are looked for (`timeout`).
const IDLE_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Closes clients idle for longer than `timeout` seconds, except pub/sub subscribers, as
/// Redis's client cron does. One sweep for all clients instead of a timer in every connection
/// keeps the request path free of timer work, and sees CONFIG SET timeout at once.
pub async fn close_idle_clients(state: Arc<ServerState>) {
    let mut ticks = tokio::time::interval(IDLE_SWEEP_INTERVAL);
    loop {
        ticks.tick().await;
        let limit_ms = state.live.timeout().saturating_mul(1000);
        if limit_ms == 0 {
            continue;
        }
        let now = crate::store::now_ms();
        for handle in state.clients.all() {
            let info = handle.info();
            if !info.is_pubsub() && handle.idle_ms(now) > limit_ms {
                handle.kill();
            }
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
