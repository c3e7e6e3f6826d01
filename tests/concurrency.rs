//! Concurrency: many connections at once on the sharded keyspace. Counters stay exact,
//! multi-key commands are atomic across shards (MSET/MGET, RENAME, SWAPDB), nothing
//! deadlocks, and `redis-benchmark` runs clean against the server.

mod common;

use common::Server;
use redis::Value;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `f` on `n` threads, each with its own connection, and returns their results.
fn on_threads<T: Send + 'static>(
    server: &Server,
    n: usize,
    f: impl Fn(usize, redis::Connection) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            let connection = server.connection();
            thread::spawn(move || f(i, connection))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("worker thread panicked"))
        .collect()
}

fn bulk_text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Nil => None,
        other => panic!("expected a bulk string or nil, got {other:?}"),
    }
}

#[test]
fn concurrent_incr_is_exact() {
    let server = Server::sessiond(&[]);
    let per_thread = 2000;
    let results = on_threads(&server, 8, move |_, mut con| {
        let mut seen = Vec::with_capacity(per_thread);
        for _ in 0..per_thread {
            let n: i64 = redis::cmd("INCR")
                .arg("counter")
                .query(&mut con)
                .expect("INCR");
            seen.push(n);
        }
        seen
    });
    let mut all = Vec::new();
    for seen in results {
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "one connection's INCR replies must increase"
        );
        all.extend(seen);
    }
    all.sort_unstable();
    let expected: Vec<i64> = (1..=16_000).collect();
    assert!(all == expected, "every value from 1 to 16000 exactly once");
    let mut con = server.connection();
    let total: i64 = redis::cmd("GET")
        .arg("counter")
        .query(&mut con)
        .expect("GET");
    assert_eq!(total, 16_000);
}

#[test]
fn mset_is_atomic_across_shards_for_concurrent_mget() {
    let server = Server::sessiond(&[]);
    let keys: Arc<Vec<String>> = Arc::new((0..20).map(|i| format!("gen-key:{i}")).collect());
    let mset = |keys: &[String], value: &str, con: &mut redis::Connection| {
        let mut cmd = redis::cmd("MSET");
        for key in keys {
            cmd.arg(key).arg(value);
        }
        let () = cmd.query(con).expect("MSET");
    };
    mset(&keys, "gen-initial", &mut server.connection());
    let writing = Arc::new(AtomicUsize::new(2));
    let readers = {
        let connections: Vec<_> = (0..3).map(|_| server.connection()).collect();
        connections
            .into_iter()
            .enumerate()
            .map(|(r, mut con)| {
                let (keys, writing) = (keys.clone(), writing.clone());
                thread::spawn(move || {
                    let mut generations = BTreeSet::new();
                    let mut reads = 0;
                    // Reader 1 asks for the keys in reverse order.
                    let order: Vec<&String> = if r == 1 {
                        keys.iter().rev().collect()
                    } else {
                        keys.iter().collect()
                    };
                    loop {
                        let done = writing.load(Ordering::Acquire) == 0;
                        let values: Vec<Value> = redis::cmd("MGET")
                            .arg(&order)
                            .query(&mut con)
                            .expect("MGET");
                        let values: Vec<Option<String>> = values.iter().map(bulk_text).collect();
                        let first = values[0].clone();
                        assert!(
                            first.is_some() && values.iter().all(|v| *v == first),
                            "MGET saw a mix of generations: {values:?}"
                        );
                        generations.insert(first.unwrap_or_default());
                        reads += 1;
                        if done {
                            return (generations, reads);
                        }
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (keys, writing) = (keys.clone(), writing.clone());
            let mut con = server.connection();
            thread::spawn(move || {
                for n in 0..400 {
                    mset(&keys, &format!("gen-{w}-{n}"), &mut con);
                }
                writing.fetch_sub(1, Ordering::AcqRel);
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let mut generations = BTreeSet::new();
    let mut reads = 0;
    for reader in readers {
        let (seen, n) = reader.join().expect("reader");
        generations.extend(seen);
        reads += n;
    }
    assert!(
        generations.len() > 2,
        "the readers saw only {generations:?} in {reads} reads: no concurrency was tested"
    );
}

#[test]
fn rename_racing_with_reads_never_loses_the_value() {
    let server = Server::sessiond(&[]);
    let pairs = 4;
    {
        let mut con = server.connection();
        for p in 0..pairs {
            let () = redis::cmd("SET")
                .arg(format!("a{p}"))
                .arg(format!("value-{p}"))
                .query(&mut con)
                .expect("SET");
        }
    }
    let renaming = Arc::new(AtomicUsize::new(pairs));
    let renamers: Vec<_> = (0..pairs)
        .map(|p| {
            let mut con = server.connection();
            let renaming = renaming.clone();
            thread::spawn(move || {
                for _ in 0..300 {
                    for (from, to) in [
                        (format!("a{p}"), format!("b{p}")),
                        (format!("b{p}"), format!("a{p}")),
                    ] {
                        let reply: redis::RedisResult<()> =
                            redis::cmd("RENAME").arg(&from).arg(&to).query(&mut con);
                        reply.unwrap_or_else(|e| panic!("RENAME {from} {to}: {e}"));
                    }
                }
                renaming.fetch_sub(1, Ordering::AcqRel);
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut con = server.connection();
            let renaming = renaming.clone();
            thread::spawn(move || {
                let mut reads = 0;
                loop {
                    let done = renaming.load(Ordering::Acquire) == 0;
                    for p in 0..pairs {
                        let values: Vec<Value> = redis::cmd("MGET")
                            .arg(format!("a{p}"))
                            .arg(format!("b{p}"))
                            .query(&mut con)
                            .expect("MGET");
                        let values: Vec<Option<String>> = values.iter().map(bulk_text).collect();
                        let present: Vec<&String> = values.iter().flatten().collect();
                        assert_eq!(
                            present,
                            vec![&format!("value-{p}")],
                            "exactly one of a{p}/b{p} holds the value: {values:?}"
                        );
                        let exists: i64 = redis::cmd("EXISTS")
                            .arg(format!("a{p}"))
                            .arg(format!("b{p}"))
                            .query(&mut con)
                            .expect("EXISTS");
                        assert_eq!(exists, 1, "EXISTS a{p} b{p}");
                        reads += 1;
                    }
                    if done {
                        return reads;
                    }
                }
            })
        })
        .collect();
    for renamer in renamers {
        renamer.join().expect("renamer");
    }
    for reader in readers {
        assert!(reader.join().expect("reader") > 0);
    }
    let mut con = server.connection();
    for p in 0..pairs {
        let value: String = redis::cmd("GET")
            .arg(format!("a{p}"))
            .query(&mut con)
            .expect("GET");
        assert_eq!(
            value,
            format!("value-{p}"),
            "after an even number of renames"
        );
    }
}

/// The size of each key group placed in databases 0, 1 and 2.
const GROUPS: [usize; 3] = [10, 20, 30];

fn group_keys() -> Vec<String> {
    GROUPS
        .iter()
        .enumerate()
        .flat_map(|(g, &n)| (0..n).map(move |i| format!("g{g}:{i}")))
        .collect()
}

/// Checks that `values` (MGET of [`group_keys`]) hold exactly one complete group.
fn one_complete_group(values: &[Option<String>]) -> Result<usize, String> {
    let mut start = 0;
    let mut complete = Vec::new();
    for (g, &n) in GROUPS.iter().enumerate() {
        let slice = &values[start..start + n];
        let present = slice.iter().filter(|v| v.is_some()).count();
        if present == n {
            complete.push(g);
        } else if present != 0 {
            return Err(format!("group {g} is partly present ({present} of {n})"));
        }
        start += n;
    }
    match complete[..] {
        [g] => Ok(g),
        _ => Err(format!("complete groups {complete:?}")),
    }
}

/// Puts group `g` (of [`GROUPS`]) into database `g`, for `g` in 0..3.
fn fill_groups(con: &mut redis::Connection) {
    for (g, &n) in GROUPS.iter().enumerate() {
        let () = redis::cmd("SELECT").arg(g).query(con).expect("SELECT");
        let mut mset = redis::cmd("MSET");
        for i in 0..n {
            mset.arg(format!("g{g}:{i}")).arg("v");
        }
        let () = mset.query(con).expect("MSET");
    }
    let () = redis::cmd("SELECT").arg(0).query(con).expect("SELECT");
}

/// Problems seen by reader threads, reported together at the end.
type Problems = Arc<std::sync::Mutex<Vec<String>>>;

fn report(problems: &Problems, what: &str) {
    let problems = problems.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        problems.is_empty(),
        "{} {what}, e.g. {:?}",
        problems.len(),
        problems.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn concurrent_swapdb_and_reads_do_not_deadlock() {
    let server = Server::sessiond(&["--notify-keyspace-events", "KEA"]);
    let mut setup = server.connection();
    fill_groups(&mut setup);
    // A pattern subscriber makes every keyspace event go through the hub.
    let mut subscriber = server.raw();
    subscriber.send(&["PSUBSCRIBE", "*"]);
    subscriber.read_reply();

    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<String>();
    let mut workers = 0;
    for (a, b) in [(0, 1), (2, 1), (0, 2)] {
        let mut con = server.connection();
        let done = done_tx.clone();
        workers += 1;
        thread::spawn(move || {
            for _ in 0..1500 {
                let () = redis::cmd("SWAPDB")
                    .arg(a)
                    .arg(b)
                    .query(&mut con)
                    .expect("SWAPDB");
            }
            let _ = done.send(format!("SWAPDB {a} {b}"));
        });
    }
    let swappers = workers;
    let problems = Problems::default();
    for r in 0..3 {
        let mut con = server.connection();
        let (done, stop, problems) = (done_tx.clone(), stop.clone(), problems.clone());
        workers += 1;
        thread::spawn(move || {
            let keys = group_keys();
            let mut round = 0usize;
            while !stop.load(Ordering::Acquire) {
                let db = (round + r) % 3;
                round += 1;
                let () = redis::cmd("SELECT")
                    .arg(db)
                    .query(&mut con)
                    .expect("SELECT");
                let values: Vec<Value> =
                    redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
                let values: Vec<Option<String>> = values.iter().map(bulk_text).collect();
                if let Err(problem) = one_complete_group(&values) {
                    let mut problems = problems.lock().unwrap_or_else(|p| p.into_inner());
                    problems.push(format!("MGET in db {db}: {problem}"));
                }
                // KEYS and DBSIZE take the shard locks as well; their counts are checked
                // by keys_and_dbsize_are_atomic_with_swapdb.
                let found: Vec<String> =
                    redis::cmd("KEYS").arg("g*").query(&mut con).expect("KEYS");
                assert!(found.len() <= 60, "KEYS found {} keys", found.len());
                let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
                assert!(size <= 60, "DBSIZE {size}");
            }
            let _ = done.send(format!("reader {r}"));
        });
    }
    // Expiring keys, cross-database MOVE/COPY and another SWAPDB pair in databases 3..5
    // keep the expiry driver and the two-database lock paths busy.
    {
        let mut con = server.connection();
        let (done, stop) = (done_tx.clone(), stop.clone());
        workers += 1;
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                let db = 3 + i % 3;
                let () = redis::cmd("SELECT")
                    .arg(db)
                    .query(&mut con)
                    .expect("SELECT");
                let () = redis::cmd("SET")
                    .arg(format!("tmp:{i}"))
                    .arg("v")
                    .arg("PX")
                    .arg(1 + i % 20)
                    .query(&mut con)
                    .expect("SET PX");
                let () = redis::cmd("SET")
                    .arg(format!("mv:{i}"))
                    .arg("v")
                    .query(&mut con)
                    .expect("SET");
                let target = 3 + (i + 1) % 3;
                let moved: i64 = redis::cmd("MOVE")
                    .arg(format!("mv:{i}"))
                    .arg(target)
                    .query(&mut con)
                    .expect("MOVE");
                assert_eq!(moved, 1, "MOVE mv:{i} from db {db} to db {target}");
                let _: i64 = redis::cmd("COPY")
                    .arg(format!("tmp:{i}"))
                    .arg(format!("copy:{i}"))
                    .arg("DB")
                    .arg(3 + (i + 2) % 3)
                    .query(&mut con)
                    .expect("COPY");
                let () = redis::cmd("SWAPDB")
                    .arg(4)
                    .arg(3)
                    .query(&mut con)
                    .expect("SWAPDB 4 3");
                i += 1;
            }
            let _ = done.send("expiring writer".into());
        });
    }
    drop(done_tx);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut finished = Vec::new();
    while finished.len() < workers {
        // Readers and the expiring writer run until the swappers are done.
        if finished.len() == swappers {
            stop.store(true, Ordering::Release);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(name) => finished.push(name),
            Err(_) => panic!(
                "deadlock suspected: only {finished:?} finished within 30 s (of {workers} workers)"
            ),
        }
    }
    report(&problems, "MGETs saw a database half swapped");
    let mut sizes = Vec::new();
    for db in 0..3 {
        let () = redis::cmd("SELECT")
            .arg(db)
            .query(&mut setup)
            .expect("SELECT");
        let size: usize = redis::cmd("DBSIZE").query(&mut setup).expect("DBSIZE");
        sizes.push(size);
    }
    sizes.sort_unstable();
    assert_eq!(sizes, GROUPS.to_vec(), "the three groups survive the swaps");
}

/// Runs `write` on one connection while another checks `KEYS *` and `DBSIZE` against the
/// counts a single-threaded server could show; returns the problems seen.
fn count_while(
    server: &Server,
    allowed: &'static [usize],
    rounds: usize,
    write: impl Fn(&mut redis::Connection) + Send + 'static,
) -> Problems {
    let problems = Problems::default();
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let mut con = server.connection();
        let writing = writing.clone();
        thread::spawn(move || {
            for _ in 0..rounds {
                write(&mut con);
            }
            writing.store(false, Ordering::Release);
        })
    };
    let mut con = server.connection();
    while writing.load(Ordering::Acquire) {
        let found: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).expect("KEYS");
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        let mut problems = problems.lock().unwrap_or_else(|p| p.into_inner());
        if !allowed.contains(&found.len()) {
            problems.push(format!("KEYS returned {} keys", found.len()));
        }
        if !allowed.contains(&size) {
            problems.push(format!("DBSIZE {size}"));
        }
    }
    writer.join().expect("writer");
    problems
}

#[test]
fn keys_and_dbsize_are_atomic_with_swapdb() {
    let server = Server::sessiond(&["--shards", "256"]);
    fill_groups(&mut server.connection());
    let problems = count_while(&server, &[10, 20], 3000, |con| {
        let () = redis::cmd("SWAPDB")
            .arg(0)
            .arg(1)
            .query(con)
            .expect("SWAPDB");
    });
    report(
        &problems,
        "KEYS/DBSIZE counts in db 0 that no SWAPDB state has",
    );
}

#[test]
fn keys_and_dbsize_are_atomic_with_multi_key_writes() {
    let server = Server::sessiond(&["--shards", "256"]);
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let problems = count_while(&server, &[0, 20], 3000, move |con| {
        let mut mset = redis::cmd("MSET");
        for key in &keys {
            mset.arg(key).arg("v");
        }
        let () = mset.query(con).expect("MSET");
        let deleted: usize = redis::cmd("DEL").arg(&keys).query(con).expect("DEL");
        assert_eq!(deleted, 20);
    });
    report(&problems, "KEYS/DBSIZE counts that no MSET/DEL state has");
}

#[test]
fn redis_benchmark_runs_clean() {
    let server = Server::sessiond(&[]);
    let port = server.addr().port().to_string();
    let child = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "ping,set,get,incr,mset",
            "-c",
            "50",
            "-n",
            "20000",
            "-q",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run redis-benchmark ({e}); install it with `{}`",
                common::REDIS_INSTALL_HINT
            )
        });
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(45)) {
        Ok(output) => output.expect("redis-benchmark output"),
        Err(_) => {
            // The benchmark hangs: kill that one process (by its id) and fail.
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("redis-benchmark did not finish within 45 s");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = format!("{stdout}{stderr}");
    assert!(output.status.success(), "status {}:\n{all}", output.status);
    assert!(
        !all.contains("ERR") && !all.to_lowercase().contains("error"),
        "redis-benchmark reported errors:\n{all}"
    );
    for test in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "MSET (10 keys)",
    ] {
        assert!(
            // Progress lines end in \r; the result line follows the last one.
            all.split(['\r', '\n']).any(|line| {
                line.trim_start().starts_with(&format!("{test}:"))
                    && line.contains("requests per second")
            }),
            "no result for {test}:\n{all}"
        );
    }
}
