//! Lists against the real binary: the AOF across restarts and rewrites (small lists, lists
//! of 100,000 elements), the size of a record of a push or pop on a long list, replaying
//! records twice, WATCH, and a random sequence of operations checked against a `VecDeque`.

mod common;

use std::collections::VecDeque;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, last_incremental};
use redis::Connection;

/// A server with the AOF in `dir`, fsynced before every reply.
fn start(dir: &Path) -> Server {
    let dir = dir.to_str().expect("utf-8 temp dir");
    Server::sessiond(&[
        "--appendonly",
        "yes",
        "--dir",
        dir,
        "--appendfsync",
        "always",
    ])
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("file exists").len()
}

fn elements(connection: &mut Connection, key: &str) -> Vec<String> {
    bytes(connection, key)
        .into_iter()
        .map(|e| String::from_utf8(e).expect("a text element"))
        .collect()
}

/// The elements of the list at `key`, as bytes.
fn bytes(connection: &mut Connection, key: &str) -> Vec<Vec<u8>> {
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(connection)
        .unwrap()
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

/// Runs BGREWRITEAOF and waits until the new base is in the manifest.
fn rewrite(connection: &mut Connection) {
    let before: u64 = info_field(connection, "aof_rewrites").parse().unwrap();
    let _: String = redis::cmd("BGREWRITEAOF").query(connection).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done: u64 = info_field(connection, "aof_rewrites").parse().unwrap();
        if done > before && info_field(connection, "aof_rewrite_in_progress") == "0" {
            return;
        }
        assert!(Instant::now() < deadline, "the rewrite never finished");
        thread::sleep(Duration::from_millis(5));
    }
}

/// RPUSHes `count` elements `prefix0, prefix1, ...` onto `key`, in batches.
fn fill(connection: &mut Connection, key: &str, prefix: &str, count: usize) {
    for start in (0..count).step_by(1000) {
        let mut rpush = redis::cmd("RPUSH");
        rpush.arg(key);
        for i in start..(start + 1000).min(count) {
            rpush.arg(format!("{prefix}{i}"));
        }
        let _: usize = rpush.query(connection).unwrap();
    }
}

fn ttl(connection: &mut Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(connection).unwrap()
}

#[test]
fn small_and_large_lists_survive_a_restart_and_a_rewrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    let _: usize = redis::cmd("RPUSH")
        .arg("small")
        .arg("a")
        .arg("")
        .arg(b"\x00\xff\r\n".as_slice())
        .query(&mut connection)
        .unwrap();
    let _: usize = redis::cmd("LPUSH")
        .arg("small")
        .arg("z")
        .query(&mut connection)
        .unwrap();
    fill(&mut connection, "large", "e", 5000);
    let _: usize = redis::cmd("LPUSH")
        .arg("large")
        .arg("head1")
        .arg("head2")
        .query(&mut connection)
        .unwrap();
    let _: Vec<String> = redis::cmd("RPOP")
        .arg("large")
        .arg(10)
        .query(&mut connection)
        .unwrap();
    let _: i64 = redis::cmd("LINSERT")
        .arg("large")
        .arg("BEFORE")
        .arg("e100")
        .arg("inserted")
        .query(&mut connection)
        .unwrap();
    let _: i64 = redis::cmd("LINSERT")
        .arg("large")
        .arg("AFTER")
        .arg("e4900")
        .arg("late")
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("LSET")
        .arg("large")
        .arg(2500)
        .arg("middle")
        .query(&mut connection)
        .unwrap();
    let _: i64 = redis::cmd("LREM")
        .arg("large")
        .arg(0)
        .arg("e7")
        .query(&mut connection)
        .unwrap();
    let _: i64 = redis::cmd("EXPIRE")
        .arg("large")
        .arg(1000)
        .query(&mut connection)
        .unwrap();
    fill(&mut connection, "trimmed", "t", 3000);
    let _: () = redis::cmd("LTRIM")
        .arg("trimmed")
        .arg(1000)
        .arg(-1000)
        .query(&mut connection)
        .unwrap();
    fill(&mut connection, "gone", "g", 2);
    let _: Vec<String> = redis::cmd("LPOP")
        .arg("gone")
        .arg(5)
        .query(&mut connection)
        .unwrap();

    let keys = ["small", "large", "trimmed", "gone"];
    let before: Vec<Vec<Vec<u8>>> = keys.iter().map(|k| bytes(&mut connection, k)).collect();
    assert_eq!(before[0], [&b"z"[..], b"a", b"", b"\x00\xff\r\n"]);
    assert_eq!(before[1].len(), 4993);
    assert_eq!(before[2].len(), 1001);
    assert!(before[3].is_empty());
    let check = |connection: &mut Connection, context: &str| {
        for (key, expected) in keys.iter().zip(&before) {
            assert_eq!(&bytes(connection, key), expected, "{context}: {key}");
        }
        let exists: usize = redis::cmd("EXISTS").arg("gone").query(connection).unwrap();
        assert_eq!(exists, 0, "{context}: an emptied list is no key");
        assert!(
            ttl(connection, "large") > 900,
            "{context}: the deadline is kept"
        );
        assert_eq!(ttl(connection, "small"), -1, "{context}");
    };

    server.kill();
    let mut server = start(dir.path());
    let mut connection = server.connection();
    check(&mut connection, "after a restart");
    rewrite(&mut connection);
    check(&mut connection, "after the rewrite");
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    check(&mut connection, "after a rewrite and a restart");
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("small")
        .query(&mut connection)
        .unwrap();
    assert_eq!(encoding, "quicklist", "as Redis 7.0 says for every list");
}

/// The AOF's base file, from its manifest.
fn base_file(dir: &Path) -> std::path::PathBuf {
    let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).expect("manifest");
    let name = manifest
        .lines()
        .find(|line| line.contains("type b"))
        .and_then(|line| line.split_whitespace().nth(1))
        .expect("a base file");
    dir.join(name)
}

/// The payload length of each record of an AOF file (`u32 length | u32 CRC32C | payload`).
fn record_lengths(file: &[u8]) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut at = HEADER_LEN;
    while at < file.len() {
        let len = u32::from_le_bytes(file[at..at + 4].try_into().expect("4 bytes")) as usize;
        lengths.push(len);
        at += 8 + len;
    }
    assert_eq!(at, file.len(), "whole records");
    lengths
}

#[test]
fn a_rewrite_writes_a_long_list_in_parts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    fill(&mut connection, "long", "element-", 100_000);
    let _: usize = redis::cmd("LPUSH")
        .arg("long")
        .arg("head")
        .query(&mut connection)
        .unwrap();
    rewrite(&mut connection);
    let base = std::fs::read(base_file(dir.path())).expect("read the base");
    let lengths = record_lengths(&base);
    let largest = lengths.iter().max().copied().unwrap_or(0);
    assert!(lengths.len() >= 98, "{} records", lengths.len());
    assert!(
        largest < 20_000,
        "the largest record of the base: {largest} bytes"
    );
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    let len: usize = redis::cmd("LLEN")
        .arg("long")
        .query(&mut connection)
        .unwrap();
    assert_eq!(len, 100_001);
    for (index, expected) in [
        (0, "head"),
        (1, "element-0"),
        (50_001, "element-50000"),
        (-1, "element-99999"),
    ] {
        let found: String = redis::cmd("LINDEX")
            .arg("long")
            .arg(index)
            .query(&mut connection)
            .unwrap();
        assert_eq!(found, expected, "LINDEX {index}");
    }
    let _: usize = redis::cmd("LPUSH")
        .arg("long")
        .arg("after-load")
        .query(&mut connection)
        .unwrap();
    drop(server);
    let server = start(dir.path());
    let mut connection = server.connection();
    let first: String = redis::cmd("LINDEX")
        .arg("long")
        .arg(0)
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        first, "after-load",
        "the loaded list kept its logical indices"
    );
}

#[test]
fn a_push_or_pop_on_a_long_list_logs_a_small_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    fill(&mut connection, "long", "element-", 100_000);
    let incr = last_incremental(dir.path());
    let growth = |connection: &mut Connection, args: &[&str]| -> u64 {
        let before = file_len(&incr);
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        let _: redis::Value = command.query(connection).unwrap();
        file_len(&incr) - before
    };
    for args in [
        &["LPUSH", "long", "new-head"][..],
        &["RPUSH", "long", "new-tail"],
        &["LPOP", "long"],
        &["RPOP", "long", "3"],
        &["LSET", "long", "50000", "changed"],
        &["LMOVE", "long", "long", "LEFT", "RIGHT"],
        &["LINSERT", "long", "BEFORE", "element-5", "near-the-head"],
        &["LINSERT", "long", "AFTER", "element-99990", "near-the-tail"],
        &["LREM", "long", "1", "element-3"],
        &["LTRIM", "long", "1", "-2"],
    ] {
        let bytes = growth(&mut connection, args);
        assert!(bytes < 200, "{args:?} logged {bytes} bytes");
    }
    let mut expected: VecDeque<String> = (0..100_000).map(|i| format!("element-{i}")).collect();
    expected.push_front("new-head".into());
    expected.push_back("new-tail".into());
    expected.pop_front();
    for _ in 0..3 {
        expected.pop_back();
    }
    expected[50_000] = "changed".into();
    let first = expected.pop_front().expect("not empty");
    expected.push_back(first);
    let at = expected
        .iter()
        .position(|e| e == "element-5")
        .expect("pivot");
    expected.insert(at, "near-the-head".into());
    let at = expected
        .iter()
        .position(|e| e == "element-99990")
        .expect("pivot");
    expected.insert(at + 1, "near-the-tail".into());
    let at = expected
        .iter()
        .position(|e| e == "element-3")
        .expect("removed");
    expected.remove(at);
    expected.pop_front();
    expected.pop_back();
    let expected: Vec<String> = expected.into();
    assert_eq!(elements(&mut connection, "long"), expected);

    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(elements(&mut connection, "long"), expected);
}

/// Appends the records of `from` (the bytes after its header) from `offset` on to `to`.
fn append_records(from: &[u8], offset: usize, to: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(to)
        .expect("open the incremental file");
    file.write_all(&from[offset..]).expect("append");
}

/// The AOF header's length (`docs/aof-format.md`).
const HEADER_LEN: usize = 20;

#[test]
fn replaying_records_twice_leaves_the_same_lists() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    let incr = last_incremental(dir.path());
    fill(&mut connection, "large", "x", 3000);
    let mut marks = vec![file_len(&incr) as usize];
    let mut model = Model::new(3000, "x");
    let mut random = Random(0x5eed);
    for round in 0..8 {
        for _ in 0..40 {
            model.step(&mut connection, "large", &mut random);
        }
        let _: usize = redis::cmd("RPUSH")
            .arg("small")
            .arg(format!("s{round}"))
            .query(&mut connection)
            .unwrap();
        let _: redis::Value = redis::cmd("LMOVE")
            .arg("small")
            .arg("large")
            .arg("LEFT")
            .arg("RIGHT")
            .query(&mut connection)
            .unwrap();
        model.list.push_back(format!("s{round}"));
        marks.push(file_len(&incr) as usize);
    }
    let expected: Vec<String> = model.list.iter().cloned().collect();
    assert_eq!(elements(&mut connection, "large"), expected);
    server.kill();
    let records = std::fs::read(&incr).expect("read the incremental file");

    // Every record from some point on replayed on the state after all of them: what a
    // rewrite's base followed by records it already holds amounts to.
    for &mark in std::iter::once(&HEADER_LEN).chain(&marks) {
        let copy = common::copy_aof(dir.path());
        append_records(&records, mark, &last_incremental(copy.path()));
        let server = start(copy.path());
        let mut connection = server.connection();
        assert_eq!(
            elements(&mut connection, "large"),
            expected,
            "records from byte {mark} replayed twice"
        );
        let exists: usize = redis::cmd("EXISTS")
            .arg("small")
            .query(&mut connection)
            .unwrap();
        assert_eq!(exists, 0, "small was emptied by its last LMOVE");
    }
}

#[test]
fn a_transaction_of_list_writes_is_logged_and_replayed_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    fill(&mut connection, "long", "e", 5000);
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg("long")
        .arg("a")
        .arg("b")
        .cmd("RPOP")
        .arg("long")
        .arg(2)
        .cmd("LINSERT")
        .arg("long")
        .arg("AFTER")
        .arg("e10")
        .arg("x")
        .cmd("LMOVE")
        .arg("long")
        .arg("long")
        .arg("RIGHT")
        .arg("LEFT")
        .cmd("LMOVE")
        .arg("long")
        .arg("short")
        .arg("LEFT")
        .arg("RIGHT")
        .cmd("LSET")
        .arg("long")
        .arg(-1)
        .arg("last")
        .cmd("LPUSH")
        .arg("long")
        .arg("c")
        .query(&mut connection)
        .unwrap();
    let before = (
        elements(&mut connection, "long"),
        elements(&mut connection, "short"),
    );
    assert_eq!(before.0[..3], ["c", "b", "a"]);
    assert_eq!(before.1, ["e4997"]);
    assert_eq!(before.0.last().map(String::as_str), Some("last"));
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    let after = (
        elements(&mut connection, "long"),
        elements(&mut connection, "short"),
    );
    assert_eq!(after, before);
}

#[test]
fn lpush_and_lpop_from_another_client_abort_a_watching_exec() {
    let server = Server::sessiond(&[]);
    let mut watcher = server.connection();
    let mut other = server.connection();
    fill(&mut other, "queue", "q", 3);
    for change in [
        &["LPUSH", "queue", "new"][..],
        &["LPOP", "queue"],
        &["RPOP", "queue", "1"],
    ] {
        let _: () = redis::cmd("WATCH")
            .arg("queue")
            .query(&mut watcher)
            .unwrap();
        let mut command = redis::cmd(change[0]);
        for arg in &change[1..] {
            command.arg(*arg);
        }
        let _: redis::Value = command.query(&mut other).unwrap();
        let result: Option<(usize,)> = redis::pipe()
            .atomic()
            .cmd("RPUSH")
            .arg("queue")
            .arg("from-exec")
            .query(&mut watcher)
            .unwrap();
        assert_eq!(result, None, "{change:?} aborts the EXEC");
    }
    assert!(!elements(&mut other, "queue").contains(&"from-exec".to_string()));
    let _: () = redis::cmd("WATCH")
        .arg("queue")
        .query(&mut watcher)
        .unwrap();
    let _: usize = redis::cmd("LLEN").arg("queue").query(&mut other).unwrap();
    let result: Option<(usize,)> = redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg("queue")
        .arg("from-exec")
        .query(&mut watcher)
        .unwrap();
    assert!(result.is_some(), "a read does not abort it");
}

#[test]
fn random_operations_on_a_large_list_agree_with_a_vecdeque() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    fill(&mut connection, "big", "v", 20_000);
    let mut model = Model::new(20_000, "v");
    let mut random = Random(42);
    for step in 0..1500 {
        model.step(&mut connection, "big", &mut random);
        if step % 100 == 0 {
            model.spot_check(&mut connection, "big", &mut random);
        }
    }
    let expected: Vec<String> = model.list.iter().cloned().collect();
    assert_eq!(elements(&mut connection, "big"), expected);
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(
        elements(&mut connection, "big"),
        expected,
        "after a restart"
    );
    rewrite(&mut connection);
    for _ in 0..300 {
        model.step(&mut connection, "big", &mut random);
    }
    let expected: Vec<String> = model.list.iter().cloned().collect();
    drop(server);
    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(
        elements(&mut connection, "big"),
        expected,
        "after a rewrite"
    );
}

/// xorshift64: a reproducible sequence of operations.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// What a list should hold, changed alongside the server's.
struct Model {
    list: VecDeque<String>,
    next: usize,
}

impl Model {
    fn new(count: usize, prefix: &str) -> Model {
        Model {
            list: (0..count).map(|i| format!("{prefix}{i}")).collect(),
            next: 0,
        }
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("n{}", self.next)
    }

    /// The Redis index of a random element, from either end.
    fn some_index(&self, random: &mut Random) -> (i64, usize) {
        let at = random.below(self.list.len());
        if random.below(2) == 0 {
            (at as i64, at)
        } else {
            (at as i64 - self.list.len() as i64, at)
        }
    }

    /// One random write, to both the server and the model.
    fn step(&mut self, connection: &mut Connection, key: &str, random: &mut Random) {
        let query = |command: &mut redis::Cmd, connection: &mut Connection| -> redis::Value {
            command.query(connection).unwrap()
        };
        match random.below(11) {
            0 => {
                let (a, b) = (self.fresh(), self.fresh());
                query(redis::cmd("LPUSH").arg(key).arg(&a).arg(&b), connection);
                self.list.push_front(a);
                self.list.push_front(b);
            }
            1 => {
                let a = self.fresh();
                query(redis::cmd("RPUSH").arg(key).arg(&a), connection);
                self.list.push_back(a);
            }
            2 => {
                let count = random.below(3) + 1;
                query(redis::cmd("LPOP").arg(key).arg(count), connection);
                for _ in 0..count {
                    self.list.pop_front();
                }
            }
            3 => {
                query(redis::cmd("RPOP").arg(key), connection);
                self.list.pop_back();
            }
            4 => {
                let (index, at) = self.some_index(random);
                let value = self.fresh();
                query(
                    redis::cmd("LSET").arg(key).arg(index).arg(&value),
                    connection,
                );
                self.list[at] = value;
            }
            5 => {
                let (_, at) = self.some_index(random);
                let pivot = self.list[at].clone();
                let first = self.list.iter().position(|e| *e == pivot).expect("pivot");
                let value = self.fresh();
                let after = random.below(2) == 0;
                let place = if after { "AFTER" } else { "BEFORE" };
                query(
                    redis::cmd("LINSERT")
                        .arg(key)
                        .arg(place)
                        .arg(&pivot)
                        .arg(&value),
                    connection,
                );
                self.list.insert(first + usize::from(after), value);
            }
            6 => {
                // A duplicate, then LREM of some of its copies from either end.
                let (_, at) = self.some_index(random);
                let value = self.list[at].clone();
                query(redis::cmd("RPUSH").arg(key).arg(&value), connection);
                self.list.push_back(value.clone());
                let count = random.below(5) as i64 - 2;
                query(
                    redis::cmd("LREM").arg(key).arg(count).arg(&value),
                    connection,
                );
                let matching: Vec<usize> = (0..self.list.len())
                    .filter(|&i| self.list[i] == value)
                    .collect();
                let chosen: Vec<usize> = match count {
                    0 => matching,
                    n if n > 0 => matching.into_iter().take(n as usize).collect(),
                    n => matching
                        .into_iter()
                        .rev()
                        .take(n.unsigned_abs() as usize)
                        .collect(),
                };
                let mut chosen = chosen;
                chosen.sort_unstable();
                for at in chosen.into_iter().rev() {
                    self.list.remove(at);
                }
            }
            7 => {
                let (from, to) = (random.below(2), random.below(2));
                let side = ["LEFT", "RIGHT"];
                query(
                    redis::cmd("LMOVE")
                        .arg(key)
                        .arg(key)
                        .arg(side[from])
                        .arg(side[to]),
                    connection,
                );
                let moved = if from == 0 {
                    self.list.pop_front()
                } else {
                    self.list.pop_back()
                }
                .expect("a large list");
                if to == 0 {
                    self.list.push_front(moved);
                } else {
                    self.list.push_back(moved);
                }
            }
            8 => {
                let other = format!("{key}:other");
                query(redis::cmd("RPOPLPUSH").arg(key).arg(&other), connection);
                query(
                    redis::cmd("LMOVE")
                        .arg(&other)
                        .arg(key)
                        .arg("LEFT")
                        .arg("LEFT"),
                    connection,
                );
                let moved = self.list.pop_back().expect("a large list");
                self.list.push_front(moved);
            }
            9 => {
                let (front, back) = (random.below(3), random.below(3));
                let stop = -1 - back as i64;
                query(
                    redis::cmd("LTRIM").arg(key).arg(front).arg(stop),
                    connection,
                );
                for _ in 0..front {
                    self.list.pop_front();
                }
                for _ in 0..back {
                    self.list.pop_back();
                }
            }
            _ => {
                let count = random.below(40) + 1;
                let mut rpush = redis::cmd("RPUSH");
                rpush.arg(key);
                for _ in 0..count {
                    let value = self.fresh();
                    rpush.arg(&value);
                    self.list.push_back(value);
                }
                query(&mut rpush, connection);
            }
        }
    }

    /// Reads a few elements and the length, and compares.
    fn spot_check(&self, connection: &mut Connection, key: &str, random: &mut Random) {
        let len: usize = redis::cmd("LLEN").arg(key).query(connection).unwrap();
        assert_eq!(len, self.list.len());
        for _ in 0..5 {
            let (index, at) = self.some_index(random);
            let found: String = redis::cmd("LINDEX")
                .arg(key)
                .arg(index)
                .query(connection)
                .unwrap();
            assert_eq!(found, self.list[at], "LINDEX {index}");
        }
        let (index, at) = self.some_index(random);
        let found: Vec<String> = redis::cmd("LRANGE")
            .arg(key)
            .arg(index)
            .arg(index + 20)
            .query(connection)
            .unwrap();
        let expected: Vec<String> = self
            .list
            .range(at..(at + 21).min(self.list.len()))
            .cloned()
            .collect();
        if index >= 0 || index + 20 < 0 {
            assert_eq!(found, expected, "LRANGE {index} {}", index + 20);
        }
    }
}
