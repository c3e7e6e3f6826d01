//! Expiry precision: how late does the `expired` event arrive?
//!
//! For each server under test this benchmark
//! 1. starts a fresh server process: sessiond from the release build
//!    (`--port 0 --appendonly no`), or redis-server at a given `hz`;
//! 2. turns on `expired` key-event notifications (`CONFIG SET
//!    notify-keyspace-events Ex`) and subscribes to `__keyevent@0__:expired`
//!    on a dedicated connection;
//! 3. pipelines `SET k:<i> 1 PXAT <deadline>` for `KEYS` keys whose deadlines
//!    are spread evenly over 2 s, the first one 1 s from now;
//! 4. reads events until every key has been reported, or until 30 s after the
//!    last deadline, stamping each event with the wall clock as soon as it has
//!    been read;
//! 5. reports lateness = arrival − deadline in milliseconds (p50, p99, p99.9,
//!    max) and how many keys were never reported.
//!
//! The `sessiond-sessions` target measures sessions instead of keys: it
//! subscribes to `__session@default__:expired` and creates `KEYS` sessions with
//! `SESSION.CREATE u<i> IDLE 1 DATA k v`, paced evenly over 2 s, so their idle
//! deadlines are spread over 2 s as well. A session's deadline is taken as the
//! moment its CREATE was sent plus 1 s, an upper bound of the real one, so the
//! lateness reported for sessions errs on the high side by the CREATE's latency.
//!
//! Redis fires `expired` only when its active expiry cycle (`hz` times a
//! second, sampling keys at random) or an access finds the key, so its
//! lateness is large; sessiond expires keys from a timing wheel, and
//! DESIGN.md §3 asks for a p99 under 10 ms. Comparing the two is the point.
//!
//! Environment:
//! - `SERVERS`: comma-separated, from `sessiond`, `sessiond-sessions`,
//!   `redis-hz10`, `redis-hz100` (any `redis-hzN` works); default all four, in
//!   that order.
//! - `KEYS`: keys per server; default 100000.
//! - `SESSIOND_BIN`: the sessiond binary to run instead of the release build.
//!
//! Run it with `cargo bench --bench expiry_lateness`. Without cargo bench's
//! `--bench` flag (as under `cargo test --all-targets`) it only says so and
//! exits, because a run takes tens of seconds and needs redis-server.

use std::collections::HashMap;
use std::env;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::PubSub;

/// Errors carry a message for the operator; `Send + Sync` so that the
/// listener thread can return them.
type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Servers measured when `SERVERS` is not set.
const DEFAULT_SERVERS: &str = "sessiond,sessiond-sessions,redis-hz10,redis-hz100";
/// Keys per server when `KEYS` is not set.
const DEFAULT_KEYS: usize = 100_000;
/// Time from planning the deadlines to the first one: room to set every key.
const LEAD_MS: u64 = 1_000;
/// The deadlines are spread evenly over this span.
const SPREAD_MS: u64 = 2_000;
/// How long after the last deadline to keep waiting for missing events.
const GRACE_MS: f64 = 30_000.0;
/// Keys per pipelined batch of SETs.
const BATCH: usize = 1_000;
/// How often the listener wakes up to check the time when no event comes.
const POLL: Duration = Duration::from_millis(100);
/// How long a server may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The channel on which database 0 announces expired keys.
const KEY_CHANNEL: &str = "__keyevent@0__:expired";
/// The channel on which the default namespace announces expired sessions.
const SESSION_CHANNEL: &str = "__session@default__:expired";
/// The idle timeout of the measured sessions, in seconds.
const SESSION_IDLE_S: u64 = 1;
/// Sessions per pipelined batch of CREATEs; small, so that the send time of a
/// batch is close to each session's creation time.
const SESSION_BATCH: usize = 50;

fn main() -> ExitCode {
    if !env::args().any(|arg| arg == "--bench") {
        println!("expiry_lateness: not run; start it with `cargo bench --bench expiry_lateness`");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("expiry_lateness: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Measures every selected server in turn and prints one table.
fn run() -> Result<()> {
    let targets = env::var("SERVERS")
        .unwrap_or_else(|_| DEFAULT_SERVERS.to_owned())
        .split(',')
        .map(|name| Target::parse(name.trim()))
        .collect::<Result<Vec<_>>>()?;
    let keys = match env::var("KEYS") {
        Ok(text) => text
            .parse()
            .ok()
            .filter(|&keys| keys > 0)
            .ok_or_else(|| format!("KEYS must be a positive integer, not {text:?}"))?,
        Err(_) => DEFAULT_KEYS,
    };

    let mut rows = Vec::new();
    for target in &targets {
        let name = target.name();
        let server = target.start().map_err(|err| format!("{name}: {err}"))?;
        println!("{name}: {} (at {})", server.command, server.addr);
        let outcome = measure(&server.addr, keys, target.workload())
            .map_err(|err| format!("{name}: {err}"))?;
        drop(server);
        rows.push((name, outcome));
    }
    print_table(keys, &rows);
    Ok(())
}

/// A server to measure.
enum Target {
    /// The release build of sessiond.
    Sessiond,
    /// The release build of sessiond, measuring sessions rather than keys.
    SessiondSessions,
    /// redis-server with the given `hz` (active expiry cycles per second).
    Redis { hz: u32 },
}

impl Target {
    /// Parses one `SERVERS` entry: `sessiond` or `redis-hzN`.
    fn parse(name: &str) -> Result<Self> {
        if name == "sessiond" {
            return Ok(Target::Sessiond);
        }
        if name == "sessiond-sessions" {
            return Ok(Target::SessiondSessions);
        }
        name.strip_prefix("redis-hz")
            .and_then(|hz| hz.parse().ok())
            .map(|hz| Target::Redis { hz })
            .ok_or_else(|| {
                format!("unknown server {name:?} in SERVERS (expected sessiond or redis-hzN)")
                    .into()
            })
    }

    /// The name used in `SERVERS` and in the table.
    fn name(&self) -> String {
        match self {
            Target::Sessiond => "sessiond".to_owned(),
            Target::SessiondSessions => "sessiond-sessions".to_owned(),
            Target::Redis { hz } => format!("redis-hz{hz}"),
        }
    }

    /// Starts a fresh server and waits until it accepts connections.
    fn start(&self) -> Result<Server> {
        match self {
            Target::Sessiond | Target::SessiondSessions => {
                let mut command = Command::new(sessiond_binary()?);
                command.args(["--port", "0", "--appendonly", "no"]);
                // sessiond picks the port itself and reports it on its ready
                // line, which ends in "... tcp on 127.0.0.1:PORT".
                Server::spawn(command, |line| {
                    let (_, rest) = line.split_once("Ready to accept connections tcp on ")?;
                    rest.split_whitespace().next().map(str::to_owned)
                })
            }
            Target::Redis { hz } => {
                let port = free_port()?;
                let mut command = Command::new("redis-server");
                command.args(["--port", &port.to_string(), "--hz", &hz.to_string()]);
                command.args(["--save", "", "--appendonly", "no"]);
                Server::spawn(command, move |line| {
                    line.contains("Ready to accept connections")
                        .then(|| format!("127.0.0.1:{port}"))
                })
            }
        }
    }

    /// What is made to expire on this server.
    fn workload(&self) -> Workload {
        match self {
            Target::SessiondSessions => Workload::Sessions,
            Target::Sessiond | Target::Redis { .. } => Workload::Keys,
        }
    }
}

/// What the benchmark makes expire.
#[derive(Clone, Copy)]
enum Workload {
    /// Keys set with `PXAT` deadlines.
    Keys,
    /// Sessions created with an idle timeout.
    Sessions,
}

/// Finds the sessiond binary: `SESSIOND_BIN`, else the one cargo built for
/// this bench (`target/release/sessiond` under `cargo bench`).
fn sessiond_binary() -> Result<PathBuf> {
    let path = match env::var_os("SESSIOND_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(option_env!("CARGO_BIN_EXE_sessiond").unwrap_or(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/release/sessiond"
        ))),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no sessiond binary at {}: run `cargo build --release` first (or set SESSIOND_BIN)",
            path.display()
        )
        .into())
    }
}

/// Asks the OS for a port that is free right now, for servers that must be
/// told their port (redis-server takes `--port 0` to mean "no TCP").
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running server process; stopped when dropped.
struct Server {
    /// The process.
    child: Child,
    /// The command line it was started with, for the report.
    command: String,
    /// `host:port` to connect to.
    addr: String,
}

impl Server {
    /// Spawns `command` and waits until `ready` finds the address to connect
    /// to in a line of its standard output.
    fn spawn(
        mut command: Command,
        ready: impl Fn(&str) -> Option<String> + Send + 'static,
    ) -> Result<Self> {
        let words = std::iter::once(command.get_program()).chain(command.get_args());
        let shown = words
            .map(|word| match word.to_string_lossy() {
                word if word.is_empty() => "\"\"".to_owned(),
                word => word.into_owned(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start `{shown}`: {err}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, dropping `server` stops the process.
        let mut server = Server {
            child,
            command: shown,
            addr: String::new(),
        };

        // A thread reads the output: it reports the address, or everything
        // the server said if it exits first, and then keeps draining the pipe
        // so that the server never blocks writing its log.
        let (found, address) = mpsc::channel();
        thread::spawn(move || {
            let mut said = Vec::new();
            let mut lines = BufReader::new(stdout).lines().map_while(|line| line.ok());
            for line in lines.by_ref() {
                if let Some(addr) = ready(&line) {
                    let _ = found.send(Ok(addr));
                    lines.for_each(drop);
                    return;
                }
                said.push(line);
            }
            let _ = found.send(Err(said.join("\n")));
        });
        server.addr = match address.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(addr)) => addr,
            Ok(Err(said)) => {
                let said = if said.is_empty() {
                    "(no output)".to_owned()
                } else {
                    said
                };
                return Err(
                    format!("`{}` exited before it was ready:\n{said}", server.command).into(),
                );
            }
            Err(_) => {
                return Err(format!(
                    "`{}` printed no ready line within {READY_TIMEOUT:?}",
                    server.command
                )
                .into());
            }
        };
        Ok(server)
    }
}

impl Drop for Server {
    /// Sends SIGTERM, as an operator would (it also lets a wrapper script stop
    /// its child), and SIGKILL if the server has not exited in time.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let give_up = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < give_up {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When each key is due: `keys` deadlines spread evenly over [`SPREAD_MS`]
/// from `first_ms`.
#[derive(Clone, Copy)]
struct Schedule {
    /// The first deadline, in milliseconds since the Unix epoch.
    first_ms: u64,
    /// How many keys there are: `k:0` up to `k:<keys - 1>`.
    keys: usize,
}

impl Schedule {
    /// The deadline of key `k:<index>`, in milliseconds since the Unix epoch.
    fn deadline_ms(&self, index: usize) -> u64 {
        self.first_ms + index as u64 * SPREAD_MS / self.keys as u64
    }

    /// The index of a key name of ours (`k:<index>`), or `None`.
    fn index_of(&self, key: &[u8]) -> Option<usize> {
        std::str::from_utf8(key)
            .ok()?
            .strip_prefix("k:")?
            .parse()
            .ok()
            .filter(|&index| index < self.keys)
    }
}

/// The wall clock in milliseconds since the Unix epoch.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs_f64()
        * 1e3
}

/// What one server did.
struct Outcome {
    /// How long setting the keys took.
    setup: Duration,
    /// Lateness of each key's first `expired` event, in ms, sorted.
    lateness_ms: Vec<f64>,
    /// Events for keys already reported or not ours: should be 0.
    unexpected: usize,
}

/// Runs the measurement against the server at `addr`.
fn measure(addr: &str, keys: usize, workload: Workload) -> Result<Outcome> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let mut con = client.get_connection()?;
    let channel = match workload {
        Workload::Keys => {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("notify-keyspace-events")
                .arg("Ex")
                .exec(&mut con)?;
            KEY_CHANNEL
        }
        Workload::Sessions => SESSION_CHANNEL,
    };

    let mut sub_con = client.get_connection()?;
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe(channel)?;
    pubsub.set_read_timeout(Some(POLL))?;

    let schedule = Schedule {
        first_ms: now_ms() as u64 + LEAD_MS,
        keys,
    };
    let abandon = AtomicBool::new(false);
    let sessions = Mutex::new(HashMap::new());
    thread::scope(|scope| {
        let (abandon, sessions) = (&abandon, &sessions);
        let deadline_of = move |payload: &[u8]| match workload {
            Workload::Keys => schedule
                .index_of(payload)
                .map(|i| (i, schedule.deadline_ms(i) as f64)),
            Workload::Sessions => sessions.lock().expect("not poisoned").get(payload).copied(),
        };
        let listener = scope.spawn(move || listen(pubsub, schedule, deadline_of, abandon));
        let setup = match workload {
            Workload::Keys => set_keys(&mut con, schedule),
            Workload::Sessions => create_sessions(&mut con, schedule, sessions),
        };
        let late_ms = now_ms() - schedule.first_ms as f64;
        if setup.is_err() {
            abandon.store(true, Ordering::Relaxed);
        }
        let heard = listener.join().expect("the listener panicked");
        let setup = setup?;
        if late_ms > 0.0 && matches!(workload, Workload::Keys) {
            eprintln!(
                "warning: setting the keys took {setup:?}, {late_ms:.0} ms past the first \
                 deadline; the earliest keys were set after they were due"
            );
        }
        let (mut lateness_ms, unexpected) = heard?;
        lateness_ms.sort_by(f64::total_cmp);
        Ok(Outcome {
            setup,
            lateness_ms,
            unexpected,
        })
    })
}

/// Sets every key with its deadline (`SET k:<i> 1 PXAT <deadline>`),
/// pipelined in batches of [`BATCH`]; returns how long that took.
fn set_keys(con: &mut redis::Connection, schedule: Schedule) -> Result<Duration> {
    let started = Instant::now();
    for batch_start in (0..schedule.keys).step_by(BATCH) {
        let mut pipe = redis::pipe();
        for index in batch_start..schedule.keys.min(batch_start + BATCH) {
            pipe.cmd("SET")
                .arg(format!("k:{index}"))
                .arg(1)
                .arg("PXAT")
                .arg(schedule.deadline_ms(index))
                .ignore();
        }
        pipe.exec(con).map_err(first_failure)?;
    }
    Ok(started.elapsed())
}

/// Creates the sessions at an even pace over [`SPREAD_MS`] from the first
/// deadline minus the idle timeout, recording each id's deadline (send time of
/// its batch + the idle timeout) and index in `sessions`.
fn create_sessions(
    con: &mut redis::Connection,
    schedule: Schedule,
    sessions: &Mutex<HashMap<Vec<u8>, (usize, f64)>>,
) -> Result<Duration> {
    let started = Instant::now();
    let first_create_ms = (schedule.first_ms - SESSION_IDLE_S * 1000) as f64;
    while now_ms() < first_create_ms {
        thread::sleep(Duration::from_millis(1));
    }
    for batch_start in (0..schedule.keys).step_by(SESSION_BATCH) {
        let batch_end = schedule.keys.min(batch_start + SESSION_BATCH);
        let due_ms = schedule.deadline_ms(batch_start) - SESSION_IDLE_S * 1000;
        while now_ms() < due_ms as f64 {
            thread::sleep(Duration::from_micros(200));
        }
        let mut pipe = redis::pipe();
        for index in batch_start..batch_end {
            pipe.cmd("SESSION.CREATE")
                .arg(format!("u{index}"))
                .arg("IDLE")
                .arg(SESSION_IDLE_S)
                .arg("DATA")
                .arg("k")
                .arg("v");
        }
        let sent_ms = now_ms();
        let ids: Vec<Vec<u8>> = pipe.query(con).map_err(first_failure)?;
        // The server stamps creation in whole milliseconds.
        let deadline_ms = sent_ms.floor() + (SESSION_IDLE_S * 1000) as f64;
        let mut sessions = sessions.lock().expect("not poisoned");
        for (index, id) in (batch_start..batch_end).zip(ids) {
            sessions.insert(id, (index, deadline_ms));
        }
    }
    Ok(started.elapsed())
}

/// Shortens a pipeline error, which lists every failed command, to its first
/// failure and a count.
fn first_failure(err: redis::RedisError) -> Box<dyn Error + Send + Sync> {
    match err.clone().into_server_errors() {
        Some(failures) if failures.len() > 1 => format!(
            "{} commands failed, the first with: {}",
            failures.len(),
            failures[0].1
        )
        .into(),
        _ => err.into(),
    }
}

/// Reads `expired` events until every key has been reported, [`GRACE_MS`]
/// have passed since the last deadline, or `abandon` is set. `deadline_of`
/// maps an event's payload to the key's index and deadline. Returns each
/// reported key's lateness in ms (arrival − deadline, the arrival stamped as
/// soon as the event has been read) and the count of unexpected events.
fn listen(
    mut pubsub: PubSub<'_>,
    schedule: Schedule,
    deadline_of: impl Fn(&[u8]) -> Option<(usize, f64)>,
    abandon: &AtomicBool,
) -> Result<(Vec<f64>, usize)> {
    let give_up_ms = schedule.deadline_ms(schedule.keys - 1) as f64 + GRACE_MS;
    let mut lateness_ms: Vec<Option<f64>> = vec![None; schedule.keys];
    let mut reported = 0;
    let mut unexpected = 0;
    while reported < schedule.keys && now_ms() < give_up_ms && !abandon.load(Ordering::Relaxed) {
        let event = match pubsub.get_message() {
            Ok(event) => event,
            Err(err) if err.is_timeout() => continue,
            Err(err) => return Err(err.into()),
        };
        let arrived_ms = now_ms();
        match deadline_of(event.get_payload_bytes()) {
            Some((index, deadline_ms)) if lateness_ms[index].is_none() => {
                lateness_ms[index] = Some(arrived_ms - deadline_ms);
                reported += 1;
            }
            _ => unexpected += 1,
        }
    }
    Ok((lateness_ms.into_iter().flatten().collect(), unexpected))
}

/// The nearest-rank percentile `p` (0 < p ≤ 1) of the ascending `sorted`.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

/// Prints one row per server: event counts, setup time and lateness
/// percentiles.
fn print_table(keys: usize, rows: &[(String, Outcome)]) {
    println!();
    println!(
        "lateness of `expired` events in ms: {keys} keys due over {SPREAD_MS} ms, the first \
         {LEAD_MS} ms after planning"
    );
    println!(
        "{:<14} {:>8} {:>8} {:>10} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "server",
        "arrived",
        "missing",
        "unexpected",
        "early",
        "setup ms",
        "p50",
        "p99",
        "p99.9",
        "max"
    );
    for (name, outcome) in rows {
        let sorted = &outcome.lateness_ms;
        // An event before its deadline means the server expired the key early.
        let early = sorted.partition_point(|&lateness| lateness < 0.0);
        let show = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        println!(
            "{:<14} {:>8} {:>8} {:>10} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}",
            name,
            sorted.len(),
            keys - sorted.len(),
            outcome.unexpected,
            early,
            outcome.setup.as_millis(),
            show(percentile(sorted, 0.50)),
            show(percentile(sorted, 0.99)),
            show(percentile(sorted, 0.999)),
            show(sorted.last().copied()),
        );
    }
}
