//! The append-only file against the real binary: acknowledged writes survive `kill -9`, a
//! torn tail is truncated at start-up, corruption stops start-up naming the file and offset,
//! `check-aof` finds and fixes what it may, a rewrite under load loses nothing, and the AOF
//! can be turned on and off at run time.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use common::{RawClient, Server, copy_aof, last_incremental};
use redis::Connection;

/// `--appendonly yes --dir DIR --appendfsync FSYNC` plus `extra`.
fn aof_args<'a>(dir: &'a str, fsync: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--appendonly", "yes", "--dir", dir, "--appendfsync", fsync];
    args.extend_from_slice(extra);
    args
}

fn start(dir: &Path, fsync: &str, extra: &[&str]) -> Server {
    let dir = dir.to_str().expect("utf-8 temp dir");
    Server::sessiond(&aof_args(dir, fsync, extra))
}

/// What a start that must fail printed.
fn start_fails(dir: &Path, extra: &[&str]) -> String {
    let dir = dir.to_str().expect("utf-8 temp dir");
    let mut args = vec!["--port", "0", "--appendonly", "yes", "--dir", dir];
    args.extend_from_slice(extra);
    match Server::try_sessiond(&args) {
        Ok(server) => panic!("the server started: {server:?}"),
        Err(error) => error.output().to_string(),
    }
}

/// A small deterministic generator (xorshift), so a failing round can be told apart.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// What one writer had acknowledged before the server died.
#[derive(Default)]
struct Acked {
    /// Keys and the value each was last set to.
    keys: BTreeMap<String, String>,
    /// The writer's counter key and the highest INCR reply it saw.
    counter: Option<(String, i64)>,
    /// Session ids and the value of their field `n`.
    sessions: BTreeMap<String, String>,
    /// The writer's hash, its fields and their values (`None`: deleted).
    hash: String,
    hash_fields: BTreeMap<String, Option<String>>,
}

/// The hash a writer changes.
fn hash_key(writer: usize) -> String {
    format!("hash:{writer}")
}

/// Writes until the connection fails, recording every write whose reply arrived. Every
/// eighth step sends a pipeline of sixteen SETs, acknowledged one by one as replies arrive;
/// another sets sixteen fields of the writer's hash and deletes two of them again.
fn write_until_killed(addr: SocketAddr, writer: usize, round: usize, acks: &AtomicUsize) -> Acked {
    let mut raw = RawClient::connect(addr);
    let mut acked = Acked {
        hash: hash_key(writer),
        ..Acked::default()
    };
    let counter = format!("counter:{writer}");
    for step in 0.. {
        let key = format!("r{round}:w{writer}:k{step}");
        let value = format!("v{step}");
        let outcome = match step % 8 {
            3 => {
                let fields: Vec<String> = (0..16).map(|i| format!("r{round}s{step}f{i}")).collect();
                let mut hset = vec!["HSET".to_string(), hash_key(writer)];
                for field in &fields {
                    hset.extend([field.clone(), value.clone()]);
                }
                let hdel = ["HDEL", &hash_key(writer), &fields[0], &fields[1]];
                let mut batch = common::encode_command(&hset);
                batch.extend(common::encode_command(&hdel));
                raw.try_send_raw(&batch).ok().and_then(|()| {
                    let reply = raw.try_read_reply(common::READ_TIMEOUT).ok()?;
                    assert_eq!(reply, b":16\r\n");
                    for field in &fields[2..] {
                        acked.hash_fields.insert(field.clone(), Some(value.clone()));
                    }
                    let reply = raw.try_read_reply(common::READ_TIMEOUT).ok()?;
                    assert_eq!(reply, b":2\r\n");
                    for field in &fields[..2] {
                        acked.hash_fields.insert(field.clone(), None);
                    }
                    Some(())
                })
            }
            0..=2 => raw
                .try_send(&["SET", &key, &value])
                .ok()
                .and_then(|()| raw.try_read_reply(common::READ_TIMEOUT).ok())
                .map(|reply| {
                    assert_eq!(reply, b"+OK\r\n");
                    acked.keys.insert(key, value);
                }),
            4 | 5 => raw
                .try_send(&["INCR", &counter])
                .ok()
                .and_then(|()| raw.try_read_reply(common::READ_TIMEOUT).ok())
                .map(|reply| {
                    let n = common::frame(&reply)
                        .integer()
                        .expect("INCR replies a number");
                    acked.counter = Some((counter.clone(), n));
                }),
            6 => raw
                .try_send(&["SESSION.CREATE", &format!("w{writer}"), "DATA", "n", &value])
                .ok()
                .and_then(|()| raw.try_read_reply(common::READ_TIMEOUT).ok())
                .map(|reply| {
                    acked.sessions.insert(common::frame(&reply).text(), value);
                }),
            _ => {
                let batch: Vec<u8> = (0..16)
                    .flat_map(|i| common::encode_command(&["SET", &format!("{key}:{i}"), "p"]))
                    .collect();
                raw.try_send_raw(&batch).ok().and_then(|()| {
                    for i in 0..16 {
                        let reply = raw.try_read_reply(common::READ_TIMEOUT).ok()?;
                        assert_eq!(reply, b"+OK\r\n");
                        acked.keys.insert(format!("{key}:{i}"), "p".into());
                    }
                    Some(())
                })
            }
        };
        if outcome.is_none() {
            break;
        }
        acks.fetch_add(1, Ordering::Relaxed);
    }
    acked
}

/// Checks that everything in `acked` is in the server.
fn assert_all_present(connection: &mut Connection, acked: &[Acked], context: &str) {
    for writer in acked {
        for (key, value) in &writer.keys {
            let found: Option<String> = redis::cmd("GET").arg(key).query(connection).unwrap();
            assert_eq!(found.as_ref(), Some(value), "{context}: key {key} lost");
        }
        if let Some((key, n)) = &writer.counter {
            let found: i64 = redis::cmd("GET").arg(key).query(connection).unwrap();
            assert!(
                found >= *n,
                "{context}: {key} is {found}, {n} was acknowledged"
            );
        }
        for (field, value) in &writer.hash_fields {
            let found: Option<String> = redis::cmd("HGET")
                .arg(&writer.hash)
                .arg(field)
                .query(connection)
                .unwrap();
            assert_eq!(&found, value, "{context}: hash field {field}");
        }
        for (id, value) in &writer.sessions {
            let found: Option<Vec<String>> = redis::cmd("SESSION.PEEK")
                .arg(id)
                .arg("n")
                .query(connection)
                .unwrap();
            assert_eq!(
                found,
                Some(vec![value.clone()]),
                "{context}: session {id} lost"
            );
        }
    }
}

/// Rounds of: four writers, `kill -9` after a random number of acknowledgements, restart,
/// every acknowledged write of every round so far present. Hashes leave the packed encoding
/// past 64 fields, so the writers' hashes are logged whole, then field by field.
fn crash_rounds(fsync: &str, rounds: usize, seed: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut random = Random(seed);
    let mut acked: Vec<Acked> = Vec::new();
    let small_hashes = ["--hash-max-listpack-entries", "64"];
    let mut server = start(dir.path(), fsync, &small_hashes);
    for round in 0..rounds {
        let acks = Arc::new(AtomicUsize::new(0));
        let target = 50 + random.next(400) as usize;
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let acks = acks.clone();
                let addr = server.addr();
                thread::spawn(move || write_until_killed(addr, writer, round, &acks))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acks.load(Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "writers made no progress");
            thread::yield_now();
        }
        server.kill();
        for writer in writers {
            acked.push(writer.join().expect("writer thread"));
        }
        server = start(dir.path(), fsync, &small_hashes);
        let context = format!("{fsync}, round {round} (seed {seed})");
        assert_all_present(&mut server.connection(), &acked, &context);
    }
    let mut connection = server.connection();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(hash_key(0))
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        encoding, "hashtable",
        "the writers' hashes grew into tables"
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_with_appendfsync_always() {
    crash_rounds("always", 6, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn acknowledged_writes_survive_kill_9_with_appendfsync_everysec() {
    crash_rounds("everysec", 6, 0xd1b5_4a32_d192_ed03);
}

/// Under `always`, writes that arrive together share an fsync: a worker fsyncs once for
/// every connection its turn served (group commit), not once per write.
#[test]
fn concurrent_writers_share_fsyncs_under_appendfsync_always() {
    const WRITERS: usize = 16;
    const WRITES_EACH: usize = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "always", &[]);
    let mut connection = server.connection();
    let fsyncs_before: u64 = info_field(&mut connection, "aof_fsyncs")
        .parse()
        .expect("aof_fsyncs");
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let mut connection = server.connection();
            thread::spawn(move || {
                for i in 0..WRITES_EACH {
                    let _: () = redis::cmd("SET")
                        .arg(format!("w{writer}:{i}"))
                        .arg(i)
                        .query(&mut connection)
                        .expect("SET");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer thread");
    }
    let fsyncs: u64 = info_field(&mut connection, "aof_fsyncs")
        .parse::<u64>()
        .expect("aof_fsyncs")
        - fsyncs_before;
    let writes = (WRITERS * WRITES_EACH) as u64;
    assert!(fsyncs > 0, "no fsync under appendfsync always");
    assert!(
        fsyncs * 2 <= writes,
        "{fsyncs} fsyncs for {writes} acknowledged writes from {WRITERS} connections: \
         concurrent writes did not share them"
    );
}

#[test]
fn sigterm_under_concurrent_writers_exits_0_and_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "everysec", &[]);
    let acks = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (acks, addr) = (acks.clone(), server.addr());
            thread::spawn(move || write_until_killed(addr, writer, 0, &acks))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::Relaxed) < 300 {
        assert!(Instant::now() < deadline, "writers made no progress");
        thread::yield_now();
    }
    let status = server.terminate();
    assert!(status.success(), "{status}: {}", server.output_tail());
    let acked: Vec<Acked> = writers
        .into_iter()
        .map(|writer| writer.join().expect("writer thread"))
        .collect();
    let server = start(dir.path(), "everysec", &[]);
    assert_all_present(&mut server.connection(), &acked, "after SIGTERM");
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("file exists").len()
}

/// An AOF holding `k0`..`k4` (`appendfsync always`, so each acknowledged record is in the
/// file), and the offsets at which the records of `k2` and `k4` start and `k4`'s ends.
fn five_keys() -> (tempfile::TempDir, [u64; 3]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "always", &[]);
    let mut connection = server.connection();
    let incr = last_incremental(dir.path());
    let mut k2 = 0;
    let mut k4 = 0;
    for i in 0..5 {
        if i == 2 {
            k2 = file_len(&incr);
        }
        if i == 4 {
            k4 = file_len(&incr);
        }
        let value = format!("value-{i}-{}", "x".repeat(40));
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(value)
            .query(&mut connection)
            .unwrap();
    }
    let end = file_len(&incr);
    server.kill();
    (dir, [k2, k4, end])
}

fn get(connection: &mut Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(connection).unwrap()
}

#[test]
fn a_torn_last_record_is_truncated_at_every_offset_and_start_up_goes_on() {
    let (dir, [_, k4, end]) = five_keys();
    assert!(end > k4 + 40, "k4's record is {} bytes", end - k4);
    for cut in k4..end {
        let copy = copy_aof(dir.path());
        let incr = last_incremental(copy.path());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&incr)
            .and_then(|file| file.set_len(cut))
            .expect("truncate");
        let server = start(copy.path(), "everysec", &[]);
        let mut connection = server.connection();
        for i in 0..4 {
            assert!(
                get(&mut connection, &format!("k{i}")).is_some(),
                "cut at {cut}: k{i}"
            );
        }
        assert_eq!(get(&mut connection, "k4"), None, "cut at {cut}");
        assert_eq!(
            file_len(&incr),
            k4,
            "cut at {cut}: the torn tail is cut off"
        );
        if cut > k4 {
            let truncated = format!("truncated {} bytes", cut - k4);
            assert!(
                server.output_tail().contains(&truncated),
                "cut at {cut}: {}",
                server.output_tail()
            );
        }
    }
}

#[test]
fn a_torn_tail_stops_start_up_with_aof_load_truncated_no_until_check_aof_fixes_it() {
    let (dir, [_, k4, end]) = five_keys();
    let incr = last_incremental(dir.path());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&incr)
        .and_then(|file| file.set_len(end - 3))
        .expect("truncate");
    let output = start_fails(dir.path(), &["--aof-load-truncated", "no"]);
    let expected = format!("{}: the last record, at offset {k4}", incr.display());
    assert!(output.contains(&expected), "{output}");

    let check = check_aof(dir.path(), false);
    assert!(!check.status.success(), "{}", text(&check.stdout));
    assert!(
        text(&check.stdout).contains(&format!("torn tail at offset {k4}")),
        "{}",
        text(&check.stdout)
    );
    let fix = check_aof(dir.path(), true);
    assert!(fix.status.success(), "{}", text(&fix.stdout));
    assert_eq!(file_len(&incr), k4);
    let server = start(dir.path(), "everysec", &["--aof-load-truncated", "no"]);
    let mut connection = server.connection();
    assert!(get(&mut connection, "k3").is_some());
    assert_eq!(get(&mut connection, "k4"), None);
}

#[test]
fn a_flipped_byte_in_the_middle_stops_start_up_naming_the_file_and_offset() {
    let (dir, [k2, _, _]) = five_keys();
    let incr = last_incremental(dir.path());
    let mut bytes = std::fs::read(&incr).expect("read");
    bytes[k2 as usize + 20] ^= 0x40;
    std::fs::write(&incr, &bytes).expect("write");
    let output = start_fails(dir.path(), &[]);
    let expected = format!("{}: corrupt at offset {k2}", incr.display());
    assert!(output.contains(&expected), "{output}");

    let check = check_aof(dir.path(), false);
    assert!(!check.status.success());
    assert!(
        text(&check.stdout).contains(&format!("CORRUPT at offset {k2}")),
        "{}",
        text(&check.stdout)
    );
    let fix = check_aof(dir.path(), true);
    assert!(!fix.status.success(), "--fix must refuse corruption");
    assert_eq!(
        std::fs::read(&incr).expect("read"),
        bytes,
        "--fix left it as it was"
    );
}

fn check_aof(dir: &Path, fix: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sessiond"));
    command.arg("check-aof");
    if fix {
        command.arg("--fix");
    }
    command.arg(dir).output().expect("run check-aof")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a key holds, as a test compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Held {
    String(String),
    Hash(BTreeMap<String, String>),
}

/// Every key of database 0 with what it holds and its absolute deadline (`PEXPIRETIME`).
fn keys_with_deadlines(connection: &mut Connection) -> BTreeMap<String, (Held, i64)> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(connection).unwrap();
    keys.into_iter()
        .filter_map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(connection).unwrap();
            // A key may expire between TYPE and the read: then it is gone.
            let held = match kind.as_str() {
                "string" => Held::String(
                    redis::cmd("GET")
                        .arg(&key)
                        .query::<Option<String>>(connection)
                        .unwrap()?,
                ),
                "hash" => Held::Hash(redis::cmd("HGETALL").arg(&key).query(connection).unwrap()),
                "none" => return None,
                other => panic!("{key} holds a {other}"),
            };
            if held == Held::Hash(BTreeMap::new()) {
                return None;
            }
            let deadline: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(connection)
                .unwrap();
            Some((key, (held, deadline)))
        })
        .collect()
}

fn info_field(connection: &mut Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(connection)
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}: {info}"))
        .trim()
        .to_string()
}

/// Waits until INFO `field` reads `value`.
fn await_info(connection: &mut Connection, field: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(connection, field) != value {
        assert!(
            Instant::now() < deadline,
            "INFO {field} never became {value}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// One hash write of a rewrite's writers: on two large hashes all writers share (tables of
/// 1,500 fields, written to the base in parts) and 36 small ones per writer, set fields,
/// delete some, count in one, give them deadlines near and far, or remove them.
fn hash_step(writer: usize, step: u64) -> redis::Cmd {
    let n = step / 3;
    let key = if n % 40 < 4 {
        format!("big:{}", n % 2)
    } else {
        format!("w{writer}:h{}", n % 40)
    };
    let field = |i: u64| {
        if n % 40 < 4 {
            format!("f{}", (n / 40 * 7 + i) % 1500)
        } else {
            format!("f{}", (n + i) % 6)
        }
    };
    let mut command;
    match n % 10 {
        0..=5 => {
            command = redis::cmd("HSET");
            command.arg(&key);
            for i in 0..8 {
                command.arg(field(i)).arg(format!("v{step}"));
            }
        }
        6 => {
            command = redis::cmd("HDEL");
            command.arg(&key).arg(field(3)).arg(field(5));
        }
        7 => {
            command = redis::cmd("HINCRBY");
            command.arg(&key).arg("counter").arg(1);
        }
        8 => {
            command = redis::cmd("PEXPIRE");
            let near = n % 40 >= 4 && n.is_multiple_of(3);
            command.arg(&key).arg(if near {
                50 + step % 400
            } else {
                100_000 + step
            });
        }
        _ => {
            command = redis::cmd(if n % 40 < 4 { "PERSIST" } else { "DEL" });
            command.arg(&key);
        }
    }
    command
}

#[test]
fn a_rewrite_under_concurrent_writes_and_expiry_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "everysec", &[]);
    let mut connection = server.connection();
    for big in ["big:0", "big:1"] {
        let mut hset = redis::cmd("HSET");
        hset.arg(big);
        for i in 0..1500 {
            hset.arg(format!("f{i}")).arg("initial");
        }
        let _: i64 = hset.query(&mut connection).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let (stop, addr) = (stop.clone(), server.addr());
            thread::spawn(move || {
                let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
                let mut connection = client.get_connection().unwrap();
                let mut step = 0u64;
                while !stop.load(Ordering::Relaxed) || step < 3000 {
                    if step.is_multiple_of(3) {
                        let _: redis::Value =
                            hash_step(writer, step).query(&mut connection).unwrap();
                        step += 1;
                        continue;
                    }
                    let key = format!("w{writer}:{}", step % 500);
                    let mut command = match step % 5 {
                        0 => redis::cmd("DEL"),
                        1 => redis::cmd("INCR"),
                        2 => {
                            let mut set = redis::cmd("SET");
                            set.arg(&key).arg(step).arg("PX").arg(50 + step % 400);
                            set
                        }
                        3 => {
                            let mut set = redis::cmd("SET");
                            set.arg(&key).arg(step).arg("EX").arg(1000 + step);
                            set
                        }
                        _ => redis::cmd("SET"),
                    };
                    match step % 5 {
                        0 | 1 => {
                            command.arg(&key);
                        }
                        4 => {
                            command.arg(&key).arg(format!("value-{step}"));
                        }
                        _ => {}
                    }
                    let _: redis::Value = command.query(&mut connection).unwrap();
                    step += 1;
                }
            })
        })
        .collect();
    for _ in 0..3 {
        let rewrites: u64 = info_field(&mut connection, "aof_rewrites").parse().unwrap();
        let reply: String = redis::cmd("BGREWRITEAOF").query(&mut connection).unwrap();
        assert_eq!(reply, "Background append only file rewriting started");
        await_info(&mut connection, "aof_rewrites", &(rewrites + 1).to_string());
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("writer thread");
    }
    assert_eq!(
        info_field(&mut connection, "aof_last_bgrewrite_status"),
        "ok"
    );
    let before = keys_with_deadlines(&mut connection);
    let manifest = std::fs::read_to_string(dir.path().join("appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains("appendonly.aof.4.base.aof"), "{manifest}");
    assert_eq!(
        manifest.lines().count(),
        2,
        "one base, one incremental: {manifest}"
    );
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 3, "the old files are deleted");

    server.kill();
    let server = start(dir.path(), "everysec", &[]);
    let mut connection = server.connection();
    let after = keys_with_deadlines(&mut connection);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (key, (value, deadline)) in &before {
        match after.get(key) {
            Some(found) => assert_eq!(found, &(value.clone(), *deadline), "key {key}"),
            None => assert!(
                *deadline != -1 && *deadline <= now,
                "key {key} ({value:?}, deadline {deadline}) lost"
            ),
        }
    }
    let hashes: Vec<&BTreeMap<String, String>> = before
        .values()
        .filter_map(|(held, _)| match held {
            Held::Hash(fields) => Some(fields),
            Held::String(_) => None,
        })
        .collect();
    assert!(
        hashes.iter().any(|fields| fields.len() > 1024),
        "a hash large enough to be written in parts"
    );
    assert!(
        hashes.iter().any(|fields| fields.len() < 10),
        "small hashes too"
    );
    for key in after.keys() {
        assert!(
            before.contains_key(key),
            "key {key} came back from the dead"
        );
    }
    assert!(before.len() > 100, "only {} keys", before.len());
}

#[test]
fn sessions_namespaces_and_policies_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "always", &[]);
    let mut connection = server.connection();
    let query = |connection: &mut Connection, args: &[&str]| -> redis::Value {
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(connection).unwrap()
    };
    query(
        &mut connection,
        &[
            "SESSION.NAMESPACE",
            "CREATE",
            "shop",
            "max-sessions-per-user",
            "2",
        ],
    );
    query(&mut connection, &["SESSION.NAMESPACE", "USE", "shop"]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            redis::cmd("SESSION.CREATE")
                .arg("alice")
                .arg("DATA")
                .arg("i")
                .arg(i)
                .query(&mut connection)
                .unwrap()
        })
        .collect();
    let ended: String = ids[1].clone();
    query(&mut connection, &["SESSION.END", &ended]);
    let rotated: String = redis::cmd("SESSION.ROTATE")
        .arg(&ids[2])
        .query(&mut connection)
        .unwrap();
    query(&mut connection, &["SET", "plain", "key"]);
    let info_before: redis::Value = query(&mut connection, &["SESSION.INFO", &rotated]);
    // Half of what follows is read back from a rewritten base, half from the newer records.
    let rewrites = info_field(&mut connection, "aof_rewrites");
    query(&mut connection, &["BGREWRITEAOF"]);
    let done = (rewrites.parse::<u64>().unwrap() + 1).to_string();
    await_info(&mut connection, "aof_rewrites", &done);
    let late: String = redis::cmd("SESSION.CREATE")
        .arg("bob")
        .query(&mut connection)
        .unwrap();
    server.kill();

    let server = start(dir.path(), "always", &[]);
    let mut connection = server.connection();
    query(&mut connection, &["SESSION.NAMESPACE", "USE", "shop"]);
    let info: BTreeMap<String, redis::Value> = redis::cmd("SESSION.NAMESPACE")
        .arg("INFO")
        .query(&mut connection)
        .unwrap();
    assert_eq!(info["max-sessions-per-user"], redis::Value::Int(2));
    let list: Vec<String> = redis::cmd("SESSION.LIST")
        .arg("alice")
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        list,
        std::slice::from_ref(&rotated),
        "the evicted, the ended and the rotated-away are not active"
    );
    assert_eq!(
        query(&mut connection, &["SESSION.INFO", &rotated]),
        info_before
    );
    let ended_info: BTreeMap<String, redis::Value> = redis::cmd("SESSION.INFO")
        .arg(&ended)
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        ended_info["end_reason"],
        redis::Value::BulkString(b"ended".to_vec())
    );
    let bobs: Vec<String> = redis::cmd("SESSION.LIST")
        .arg("bob")
        .query(&mut connection)
        .unwrap();
    assert_eq!(bobs, [late], "created after the rewrite");
    let recovered: Option<String> = redis::cmd("SESSION.RECOVER")
        .arg(&ended)
        .query(&mut connection)
        .unwrap();
    assert!(recovered.is_some(), "still recoverable after the restart");
    assert_eq!(
        query(&mut connection, &["GET", "plain"]),
        redis::Value::BulkString(b"key".to_vec())
    );
    query(&mut connection, &["SESSION.NAMESPACE", "USE", "default"]);
    assert_eq!(
        query(&mut connection, &["GET", "plain"]),
        redis::Value::Nil,
        "the key belongs to shop's database"
    );
}

#[test]
fn the_aof_can_be_turned_on_and_off_at_run_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().unwrap();
    let mut server = Server::sessiond(&["--dir", dir_arg]);
    let mut connection = server.connection();
    let set = |connection: &mut Connection, key: &str| {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("v")
            .query(connection)
            .unwrap();
    };
    set(&mut connection, "before");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut connection)
        .unwrap();
    set(&mut connection, "during");
    await_info(&mut connection, "aof_rewrite_in_progress", "0");
    assert_eq!(info_field(&mut connection, "aof_enabled"), "1");
    set(&mut connection, "after");
    server.kill();

    let mut server = start(dir.path(), "everysec", &[]);
    let mut connection = server.connection();
    for key in ["before", "during", "after"] {
        assert_eq!(get(&mut connection, key).as_deref(), Some("v"), "{key}");
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut connection)
        .unwrap();
    assert_eq!(info_field(&mut connection, "aof_enabled"), "0");
    set(&mut connection, "unlogged");
    server.kill();
    let server = start(dir.path(), "everysec", &[]);
    let mut connection = server.connection();
    assert_eq!(get(&mut connection, "after").as_deref(), Some("v"));
    assert_eq!(
        get(&mut connection, "unlogged"),
        None,
        "written while the AOF was off"
    );
}

/// Starts sessiond under a file size limit of `blocks` × 512 bytes (`ulimit -f`, with
/// SIGXFSZ ignored), so the AOF's writes fail with EFBIG once it reaches that size.
fn start_with_file_size_limit(dir: &Path, fsync: &str, blocks: u32) -> Server {
    let script = format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\"");
    let dir = dir.to_str().expect("utf-8 temp dir");
    let mut args = vec!["-c", &script, env!("CARGO_BIN_EXE_sessiond"), "--port", "0"];
    args.extend(aof_args(dir, fsync, &[]));
    Server::try_sessiond_at("sh", &args).unwrap_or_else(|e| panic!("{e}"))
}

/// When the AOF cannot be written (here: the file size limit), the server stops instead of
/// acknowledging the write, and every write it did acknowledge is there after a restart.
fn a_failed_write_stops_the_server(fsync: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start_with_file_size_limit(dir.path(), fsync, 64);
    let mut raw = server.raw();
    let value = "x".repeat(1000);
    let mut acknowledged = Vec::new();
    for i in 0..1000 {
        let key = format!("k{i}");
        let reply = raw
            .try_send(&["SET", &key, &value])
            .ok()
            .and_then(|()| raw.try_read_reply(common::READ_TIMEOUT).ok());
        match reply {
            Some(reply) => {
                assert_eq!(reply, b"+OK\r\n", "{}", server.output_tail());
                acknowledged.push(key);
            }
            None => break,
        }
    }
    assert!(
        acknowledged.len() < 1000,
        "the server acknowledged every write past its file size limit"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.is_running() {
        assert!(Instant::now() < deadline, "the server did not stop");
        thread::yield_now();
    }
    assert!(
        server
            .output_tail()
            .contains("no unpersisted write is acknowledged"),
        "{}",
        server.output_tail()
    );
    let server = start(dir.path(), fsync, &[]);
    let mut connection = server.connection();
    for key in &acknowledged {
        assert_eq!(
            get(&mut connection, key).as_deref(),
            Some(value.as_str()),
            "{key}"
        );
    }
}

#[test]
fn a_failed_write_stops_the_server_with_appendfsync_always() {
    a_failed_write_stops_the_server("always");
}

#[test]
fn a_failed_write_stops_the_server_with_appendfsync_everysec() {
    a_failed_write_stops_the_server("everysec");
}

#[test]
fn the_aof_is_rewritten_when_it_outgrows_its_base() {
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = [
        "--auto-aof-rewrite-min-size",
        "16kb",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let mut server = start(dir.path(), "everysec", &extra);
    let mut connection = server.connection();
    let value = "v".repeat(100);
    let mut written = 0;
    while info_field(&mut connection, "aof_rewrites") == "0" {
        assert!(
            written < 100_000,
            "no automatic rewrite after {written} writes"
        );
        let key = format!("k{}", written % 50);
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query(&mut connection)
            .unwrap();
        written += 1;
    }
    await_info(&mut connection, "aof_rewrite_in_progress", "0");
    let base: u64 = info_field(&mut connection, "aof_base_size")
        .parse()
        .unwrap();
    assert!(
        base < 16 * 1024,
        "the base holds 50 keys, not the history: {base} bytes"
    );
    server.kill();
    let server = start(dir.path(), "everysec", &extra);
    let mut connection = server.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    assert_eq!(keys.len(), 50);
}

#[test]
fn a_flipped_byte_in_a_rewritten_base_stops_start_up_at_the_offset_check_aof_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "everysec", &[]);
    let mut connection = server.connection();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v".repeat(50))
            .query(&mut connection)
            .unwrap();
    }
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut connection).unwrap();
    await_info(&mut connection, "aof_rewrites", "1");
    server.kill();
    let manifest = std::fs::read_to_string(dir.path().join("appendonly.aof.manifest")).unwrap();
    let base = manifest
        .lines()
        .find(|line| line.contains("type b"))
        .and_then(|line| line.split_whitespace().nth(1))
        .map(|name| dir.path().join(name))
        .expect("a base");
    let mut bytes = std::fs::read(&base).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&base, &bytes).expect("write");

    let check = text(&check_aof(dir.path(), false).stdout);
    let offset = check
        .split("CORRUPT at offset ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("check-aof found no corruption: {check}"));
    let output = start_fails(dir.path(), &[]);
    let expected = format!("{}: corrupt at offset {offset}", base.display());
    assert!(output.contains(&expected), "{expected} not in {output}");
}

#[test]
fn a_write_to_a_large_hash_logs_its_fields_and_a_small_hash_is_logged_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "always", &[]);
    let mut connection = server.connection();
    let incr = last_incremental(dir.path());
    let value = "x".repeat(100);
    let mut hset = redis::cmd("HSET");
    hset.arg("large");
    for i in 0..2000 {
        hset.arg(format!("f{i}")).arg(&value);
    }
    let _: i64 = hset.query(&mut connection).unwrap();
    let packed = "y".repeat(60);
    let _: i64 = redis::cmd("HSET")
        .arg("small")
        .arg("a")
        .arg(&packed)
        .arg("b")
        .arg(&packed)
        .query(&mut connection)
        .unwrap();
    let _: i64 = redis::cmd("EXPIRE")
        .arg("large")
        .arg(1000)
        .query(&mut connection)
        .unwrap();

    // Each write below grows the AOF by a record of about what it wrote.
    let growth = |connection: &mut Connection, args: &[&str]| -> u64 {
        let before = file_len(&incr);
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        let _: redis::Value = command.query(connection).unwrap();
        file_len(&incr) - before
    };
    let large_hset = growth(
        &mut connection,
        &["HSET", "large", "f1", "new", "extra", "1"],
    );
    assert!(large_hset < 100, "HSET on a large hash: {large_hset} bytes");
    let large_hdel = growth(&mut connection, &["HDEL", "large", "f2", "nosuch"]);
    assert!(large_hdel < 100, "HDEL on a large hash: {large_hdel} bytes");
    let large_incr = growth(&mut connection, &["HINCRBY", "large", "n", "5"]);
    assert!(
        large_incr < 100,
        "HINCRBY on a large hash: {large_incr} bytes"
    );
    let small_hset = growth(&mut connection, &["HSET", "small", "c", "1"]);
    assert!(
        (120..200).contains(&small_hset),
        "a packed hash is logged whole: {small_hset} bytes"
    );

    let check = check_aof(dir.path(), false);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let before = keys_with_deadlines(&mut connection);
    server.kill();
    let server = start(dir.path(), "always", &[]);
    let mut connection = server.connection();
    assert_eq!(keys_with_deadlines(&mut connection), before);
    let Some((Held::Hash(large), deadline)) = before.get("large") else {
        panic!("large is a hash: {:?}", before.keys())
    };
    assert_eq!(large.len(), 2001);
    assert_eq!(large.get("f1").map(String::as_str), Some("new"));
    assert_eq!(large.get("n").map(String::as_str), Some("5"));
    assert!(!large.contains_key("f2"));
    assert!(*deadline > 0, "the deadline is kept");
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("large")
        .query(&mut connection)
        .unwrap();
    assert_eq!(encoding, "hashtable");
}
