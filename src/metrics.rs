//! Prometheus metrics: every metric's name in one place, the exporter on `metrics-port`, the
//! handles the request path records into, and the sampler that copies counters kept
//! elsewhere (INFO's, SESSION.STATS's, the AOF's) into gauges once a second.
//!
//! Recording costs the request path two reads of the TSC clock and a push onto its thread's
//! tally; tallies are handed to the shared handles (made once per command, so there is no
//! registry lookup per command) 64 executions at a time, and every second by the sampler.
//! With `metrics-port 0` no recorder is installed and the request path records nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use std::time::Duration;

use metrics::{Counter, Histogram, Unit, counter, describe_counter, describe_gauge};
use metrics::{describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

use crate::command::table::{COMMANDS, CommandSpec};
use crate::server::ServerState;
use crate::session::EndReason;

/// Commands executed, by command (`get`, `client|list`).
pub const COMMANDS_TOTAL: &str = "sessiond_commands_total";
/// Time spent executing a command, by command.
pub const COMMAND_DURATION: &str = "sessiond_command_duration_seconds";
/// Error replies, by kind (the error's first word: `ERR`, `WRONGTYPE`, `NOAUTH`...).
pub const ERRORS_TOTAL: &str = "sessiond_errors_total";
/// Clients connected now.
pub const CONNECTED_CLIENTS: &str = "sessiond_connected_clients";
/// Connections accepted.
pub const CONNECTIONS_ACCEPTED: &str = "sessiond_connections_accepted_total";
/// Connections refused because `maxclients` was reached.
pub const CONNECTIONS_REJECTED: &str = "sessiond_connections_rejected_total";
/// Keys held, by namespace and database (including expired ones not yet removed).
pub const KEYS: &str = "sessiond_keys";
/// Keys removed because their deadline passed.
pub const EXPIRED_KEYS: &str = "sessiond_expired_keys_total";
/// How long after its deadline a key or session was actually expired, by kind.
pub const EXPIRY_LATENESS: &str = "sessiond_expiry_lateness_seconds";
/// Sessions active now, by namespace.
pub const SESSIONS_ACTIVE: &str = "sessiond_sessions_active";
/// Sessions created (CREATE and RECOVER), by namespace.
pub const SESSIONS_CREATED: &str = "sessiond_sessions_created_total";
/// Sessions that stopped being active, by namespace and reason.
pub const SESSIONS_ENDED: &str = "sessiond_sessions_ended_total";
/// Sessions moved to a new id by ROTATE, by namespace.
pub const SESSIONS_ROTATED: &str = "sessiond_sessions_rotated_total";
/// How long sessions were active when they ended, by namespace.
pub const SESSION_DURATION: &str = "sessiond_session_duration_seconds";
/// Size of the AOF (base and incremental files).
pub const AOF_SIZE: &str = "sessiond_aof_size_bytes";
/// Time one fsync of the AOF took.
pub const AOF_FSYNC_DURATION: &str = "sessiond_aof_fsync_duration_seconds";
/// AOF rewrites completed.
pub const AOF_REWRITES: &str = "sessiond_aof_rewrites_total";
/// Memory allocated and not freed (INFO `used_memory`, what `maxmemory` limits).
pub const MEMORY_USED: &str = "sessiond_memory_used_bytes";
/// Resident size of the process (INFO `used_memory_rss`).
pub const MEMORY_RESIDENT: &str = "sessiond_memory_resident_bytes";

/// Histogram buckets, in seconds, chosen for what each histogram measures.
const COMMAND_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.01,
    0.1, 1.0,
];
const LATENESS_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const SESSION_BUCKETS: &[f64] = &[
    1.0, 10.0, 60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 28_800.0, 86_400.0,
    604_800.0,
];
const FSYNC_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// How often samples queued in histograms are folded into their buckets, which bounds the
/// memory they hold between scrapes.
const UPKEEP: Duration = Duration::from_secs(1);
/// How often gauges are brought up to date.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Installs the Prometheus recorder and serves `/metrics` on `addr`. Must run inside the
/// runtime and before any handle is made: handles made earlier record nowhere.
pub fn install(addr: SocketAddr) -> Result<(), BuildError> {
    let buckets = [
        (COMMAND_DURATION, COMMAND_BUCKETS),
        (EXPIRY_LATENESS, LATENESS_BUCKETS),
        (SESSION_DURATION, SESSION_BUCKETS),
        (AOF_FSYNC_DURATION, FSYNC_BUCKETS),
    ];
    let mut builder = PrometheusBuilder::new()
        .with_http_listener(addr)
        .upkeep_timeout(UPKEEP);
    for (name, values) in buckets {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.into()), values)?;
    }
    builder.install()?;
    describe();
    Ok(())
}

/// The HELP and unit of every metric, as `/metrics` shows them.
fn describe() {
    describe_counter!(COMMANDS_TOTAL, "Commands executed, by command");
    describe_histogram!(COMMAND_DURATION, Unit::Seconds, "Command execution time");
    describe_counter!(ERRORS_TOTAL, "Error replies, by error kind");
    describe_gauge!(CONNECTED_CLIENTS, "Clients connected now");
    describe_counter!(CONNECTIONS_ACCEPTED, "Connections accepted");
    describe_counter!(CONNECTIONS_REJECTED, "Connections refused at maxclients");
    describe_gauge!(KEYS, "Keys held, by namespace and database");
    describe_counter!(EXPIRED_KEYS, "Keys removed because their deadline passed");
    describe_histogram!(
        EXPIRY_LATENESS,
        Unit::Seconds,
        "Time from a key's or session's deadline to its expiry, by kind"
    );
    describe_gauge!(SESSIONS_ACTIVE, "Sessions active now, by namespace");
    describe_counter!(SESSIONS_CREATED, "Sessions created or recovered");
    describe_counter!(SESSIONS_ENDED, "Sessions ended, by namespace and reason");
    describe_counter!(SESSIONS_ROTATED, "Sessions moved to a new id");
    describe_histogram!(
        SESSION_DURATION,
        Unit::Seconds,
        "Active lifetime of ended sessions"
    );
    describe_gauge!(AOF_SIZE, Unit::Bytes, "Size of the append-only file");
    describe_histogram!(AOF_FSYNC_DURATION, Unit::Seconds, "AOF fsync time");
    describe_counter!(AOF_REWRITES, "AOF rewrites completed");
    describe_gauge!(
        MEMORY_USED,
        Unit::Bytes,
        "Memory allocated, as maxmemory counts it"
    );
    describe_gauge!(
        MEMORY_RESIDENT,
        Unit::Bytes,
        "Resident memory of the process"
    );
}

/// The request path's handles: a counter and a latency histogram for every command of the
/// table, keyed by the address of its static table entry. Each command's pair is made on its
/// first use, so `/metrics` lists only the commands that ran.
pub struct CommandMetrics {
    by_spec: HashMap<usize, OnceLock<CommandHandles>, foldhash::fast::FixedState>,
}

/// One command's counter and latency histogram.
struct CommandHandles {
    calls: Counter,
    duration: Histogram,
}

impl CommandMetrics {
    /// Room for the handles of every command and subcommand.
    pub fn new() -> Self {
        let by_spec = COMMANDS
            .iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
            .map(|spec| (spec_key(spec), OnceLock::new()))
            .collect();
        CommandMetrics { by_spec }
    }

    fn handles(&self, spec: &'static CommandSpec) -> Option<&CommandHandles> {
        let handles = self.by_spec.get(&spec_key(spec))?;
        Some(handles.get_or_init(|| CommandHandles {
            calls: counter!(COMMANDS_TOTAL, "command" => spec.name),
            duration: histogram!(COMMAND_DURATION, "command" => spec.name),
        }))
    }
}

impl Default for CommandMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Executions noted on one thread and not yet handed to the shared handles. The request path
/// touches only its own thread's tally, so cores do not pass the shared counters' cache lines
/// back and forth on every command; a tally is handed over when it fills, and by the sampler
/// every second.
#[derive(Debug, Default)]
struct Tally {
    pending: Mutex<Vec<(&'static CommandSpec, Duration)>>,
}

/// Every thread's tally, for the sampler.
static TALLIES: Mutex<Vec<Arc<Tally>>> = Mutex::new(Vec::new());

thread_local! {
    static THREAD_TALLY: Arc<Tally> = {
        let tally = Arc::new(Tally::default());
        TALLIES.lock().push(tally.clone());
        tally
    };
}

impl CommandMetrics {
    /// Most executions a thread keeps before handing them over.
    const TALLY_CAPACITY: usize = 64;

    /// Notes that `spec` ran for `took`.
    pub fn note(&self, spec: &'static CommandSpec, took: Duration) {
        THREAD_TALLY.with(|tally| {
            let mut pending = tally.pending.lock();
            pending.push((spec, took));
            if pending.len() >= Self::TALLY_CAPACITY {
                self.hand_over(&mut pending);
            }
        });
    }

    /// Hands every thread's noted executions to the shared handles.
    fn hand_over_all(&self) {
        let tallies = TALLIES.lock().clone();
        for tally in tallies {
            self.hand_over(&mut tally.pending.lock());
        }
    }

    /// Counts `pending` into the shared handles, one counter increment per run of the same
    /// command, and empties it.
    fn hand_over(&self, pending: &mut Vec<(&'static CommandSpec, Duration)>) {
        for run in pending.chunk_by(|(a, _), (b, _)| std::ptr::eq(*a, *b)) {
            let Some(handles) = self.handles(run[0].0) else {
                continue;
            };
            handles.calls.increment(run.len() as u64);
            for (_, took) in run {
                handles.duration.record(*took);
            }
        }
        pending.clear();
    }
}

fn spec_key(spec: &'static CommandSpec) -> usize {
    std::ptr::from_ref(spec) as usize
}

/// Counts an error reply by its kind, the first word of its text.
pub fn error_reply(text: &str) {
    let kind = text.split(' ').next().unwrap_or_default();
    counter!(ERRORS_TOTAL, "kind" => kind.to_owned()).increment(1);
}

/// Counts an accepted connection.
pub fn connection_accepted() {
    counter!(CONNECTIONS_ACCEPTED).increment(1);
}

/// Counts a connection refused at `maxclients`.
pub fn connection_rejected() {
    counter!(CONNECTIONS_REJECTED).increment(1);
}

/// Counts `keys` keys expired, each `late_ms` after its deadline.
pub fn keys_expired(late_ms: impl ExactSizeIterator<Item = u64>) {
    counter!(EXPIRED_KEYS).increment(late_ms.len() as u64);
    let lateness = histogram!(EXPIRY_LATENESS, "kind" => "key");
    for late in late_ms {
        lateness.record(late as f64 / 1000.0);
    }
}

/// Times one fsync of the AOF.
pub fn aof_fsynced(took: Duration) {
    histogram!(AOF_FSYNC_DURATION).record(took);
}

/// One namespace's session handles, made when the namespace is.
#[derive(Debug)]
pub struct SessionMetrics {
    ended: [Counter; 4],
    duration: Histogram,
    lateness: Histogram,
}

impl SessionMetrics {
    /// The handles of the namespace `namespace`.
    pub fn new(namespace: &str) -> Self {
        let reasons = [
            EndReason::Ended,
            EndReason::Expired,
            EndReason::Evicted,
            EndReason::Cleanup,
        ];
        SessionMetrics {
            ended: reasons.map(|reason| {
                counter!(SESSIONS_ENDED, "namespace" => namespace.to_owned(), "reason" => reason.name())
            }),
            duration: histogram!(SESSION_DURATION, "namespace" => namespace.to_owned()),
            lateness: histogram!(EXPIRY_LATENESS, "kind" => "session"),
        }
    }

    /// A session ended for `reason` after `duration_ms` active, `late_ms` after its deadline
    /// when it expired.
    pub fn ended(&self, reason: EndReason, duration_ms: u64, late_ms: u64) {
        let index = match reason {
            EndReason::Ended => 0,
            EndReason::Expired => 1,
            EndReason::Evicted => 2,
            EndReason::Cleanup => 3,
        };
        self.ended[index].increment(1);
        self.duration.record(duration_ms as f64 / 1000.0);
        if reason == EndReason::Expired {
            self.lateness.record(late_ms as f64 / 1000.0);
        }
    }
}

/// Brings the gauges and the counters kept elsewhere up to date every second, until the
/// task is dropped.
pub async fn sample(state: Arc<ServerState>) {
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        ticks.tick().await;
        sample_once(&state);
    }
}

fn sample_once(state: &ServerState) {
    if let Some(metrics) = &state.metrics {
        metrics.hand_over_all();
    }
    gauge!(CONNECTED_CLIENTS).set(state.clients.count() as f64);
    state.memory.refresh();
    gauge!(MEMORY_USED).set(state.memory.used() as f64);
    gauge!(MEMORY_RESIDENT).set(crate::server::resident_bytes() as f64);
    for namespace in state.store.namespaces() {
        let name = namespace.name().to_owned();
        for db in namespace.databases() {
            let labels = [("namespace", name.clone()), ("db", db.index().to_string())];
            gauge!(KEYS, &labels).set(db.len() as f64);
        }
        let stats = namespace.sessions().stats();
        let labels = [("namespace", name)];
        gauge!(SESSIONS_ACTIVE, &labels).set(stats.active as f64);
        counter!(SESSIONS_CREATED, &labels).absolute(stats.created_total);
        counter!(SESSIONS_ROTATED, &labels).absolute(stats.rotated_total);
    }
    let journal = state.store.journal();
    let size = journal.stats.current_size.load(Ordering::Relaxed);
    gauge!(AOF_SIZE).set(if journal.is_active() {
        size as f64
    } else {
        0.0
    });
    counter!(AOF_REWRITES).absolute(journal.stats.rewrites.load(Ordering::Relaxed));
}
