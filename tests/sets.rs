//! Set behaviour that a byte-for-byte comparison with Redis cannot pin down (the
//! differential script `tests/differential/sets.redis` covers replies, errors, encodings
//! and events): the AOF across restarts and rewrites, the size of a large set's records,
//! WATCH, SPOP's and SRANDMEMBER's random picks, SSCAN under churn, and the
//! `set-max-listpack-*` thresholds redis-server 7.0 does not have.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{RawClient, Server, escape, frame, last_incremental};
use redis::Connection;

/// A server with its AOF in `dir`, every write fsynced before its reply.
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

fn query<T: redis::FromRedisValue>(connection: &mut Connection, args: &[&str]) -> T {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command
        .query(connection)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Adds `members` to `key` in one SADD; how many were new.
fn sadd(connection: &mut Connection, key: &str, members: impl IntoIterator<Item = String>) -> i64 {
    let mut command = redis::cmd("SADD");
    command.arg(key);
    for member in members {
        command.arg(member);
    }
    command.query(connection).unwrap()
}

fn members(connection: &mut Connection, key: &str) -> BTreeSet<String> {
    query(connection, &["SMEMBERS", key])
}

/// Every set key of database 0 with its members, encoding and absolute deadline.
fn sets(connection: &mut Connection) -> BTreeMap<String, (BTreeSet<String>, String, i64)> {
    let keys: Vec<String> = query(connection, &["KEYS", "*"]);
    keys.into_iter()
        .map(|key| {
            let held = members(connection, &key);
            let encoding: String = query(connection, &["OBJECT", "ENCODING", &key]);
            let deadline: i64 = query(connection, &["PEXPIRETIME", &key]);
            (key, (held, encoding, deadline))
        })
        .collect()
}

fn info_field(connection: &mut Connection, field: &str) -> String {
    let info: String = query(connection, &["INFO", "persistence"]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}: {info}"))
        .trim()
        .to_string()
}

/// Runs BGREWRITEAOF and waits until INFO counts it done.
fn rewrite(connection: &mut Connection) {
    let done: u64 = info_field(connection, "aof_rewrites").parse().unwrap();
    let reply: String = query(connection, &["BGREWRITEAOF"]);
    assert_eq!(reply, "Background append only file rewriting started");
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(connection, "aof_rewrites") != (done + 1).to_string() {
        assert!(Instant::now() < deadline, "the rewrite never finished");
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(info_field(connection, "aof_last_bgrewrite_status"), "ok");
}

/// Fills the sets every restart test checks: an intset, a small packed set, a table of
/// 3,000 members (past the 1,024 a rewrite's base record holds) with a deadline, and a
/// large intset; then changes each the ways the commands do.
fn fill(connection: &mut Connection) {
    sadd(
        connection,
        "ints",
        ["3", "1", "-70000", "2"].map(String::from),
    );
    sadd(connection, "small", ["a", "b", "c", "1"].map(String::from));
    sadd(
        connection,
        "large",
        (0..3000).map(|i| format!("member-{i}")),
    );
    let _: i64 = query(connection, &["EXPIRE", "large", "1000"]);
    let _: i64 = query(
        connection,
        &["SREM", "large", "member-7", "member-8", "nosuch"],
    );
    let _: i64 = query(connection, &["SADD", "large", "late"]);
    let _: Vec<String> = query(connection, &["SPOP", "large", "100"]);
    let _: Option<String> = query(connection, &["SPOP", "large"]);
    let _: i64 = query(connection, &["SREM", "small", "b"]);
    let _: i64 = query(connection, &["SMOVE", "small", "moved", "c"]);
    let _: i64 = query(connection, &["SUNIONSTORE", "union", "ints", "small"]);
    sadd(
        connection,
        "numbers",
        (0..1000).map(|i| (i * 7).to_string()),
    );
    let _: Vec<String> = query(connection, &["SPOP", "numbers", "990"]);
    let _: i64 = query(connection, &["SADD", "gone", "x"]);
    let _: Option<String> = query(connection, &["SPOP", "gone"]);
}

#[test]
fn sets_survive_a_restart_and_a_rewrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    fill(&mut connection);
    let before = sets(&mut connection);
    assert_eq!(before["large"].0.len(), 3000 - 2 + 1 - 101);
    assert_eq!(before["large"].1, "hashtable");
    assert!(before["large"].2 > 0, "large has a deadline");
    assert_eq!(before["ints"].1, "intset");
    assert_eq!(before["numbers"].0.len(), 10);
    assert_eq!(before["numbers"].1, "intset", "SPOP left a new small set");
    assert!(!before.contains_key("gone"));
    assert_eq!(before["moved"].0, BTreeSet::from(["c".to_string()]));

    server.kill();
    let mut server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(sets(&mut connection), before, "after a restart");

    rewrite(&mut connection);
    // Changes after the rewrite land in the new incremental file, on top of the base.
    let _: i64 = query(&mut connection, &["SADD", "large", "after-rewrite"]);
    let _: i64 = query(&mut connection, &["SREM", "ints", "1"]);
    let after = sets(&mut connection);
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(
        sets(&mut connection),
        after,
        "after a rewrite and a restart"
    );
    assert!(after["large"].0.contains("after-rewrite"));
}

#[test]
fn a_large_sets_writes_log_what_they_changed_and_a_small_set_is_logged_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    let incr = last_incremental(dir.path());
    let long = "x".repeat(100);
    sadd(
        &mut connection,
        "large",
        (0..2000).map(|i| format!("{long}{i}")),
    );
    sadd(
        &mut connection,
        "small",
        (0..4).map(|i| format!("member-{i:02}")),
    );

    let growth = |connection: &mut Connection, args: &[&str]| -> u64 {
        let before = std::fs::metadata(&incr).expect("incr").len();
        let _: redis::Value = query(connection, args);
        std::fs::metadata(&incr).expect("incr").len() - before
    };
    let added = growth(&mut connection, &["SADD", "large", "new", "other"]);
    assert!(added < 100, "SADD on a large set: {added} bytes");
    let removed = growth(&mut connection, &["SREM", "large", "new", "nosuch"]);
    assert!(removed < 100, "SREM on a large set: {removed} bytes");
    let popped = growth(&mut connection, &["SPOP", "large", "3"]);
    assert!(
        (3 * 100..700).contains(&popped),
        "SPOP of 3 long members logs those 3: {popped} bytes"
    );
    let nothing = growth(&mut connection, &["SADD", "large", "other"]);
    assert_eq!(nothing, 0, "an SADD that adds nothing logs nothing");
    let small = growth(&mut connection, &["SADD", "small", "member-04"]);
    assert!(
        (5 * 10..200).contains(&small),
        "a small set is logged whole: {small} bytes"
    );

    let before = sets(&mut connection);
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(sets(&mut connection), before);
    assert_eq!(before["large"].0.len(), 2000 + 1 - 3);
}

/// Sends `args` on `client` and expects `reply`.
fn expect(client: &mut RawClient, args: &[&str], reply: &[u8]) {
    let got = client.call(args);
    assert_eq!(got, reply, "{args:?}: {}", escape(&got));
}

#[test]
fn set_writes_from_another_client_abort_a_watching_exec() {
    let server = Server::sessiond(&[]);
    let mut watcher = server.raw();
    let mut other = server.raw();
    expect(&mut other, &["SADD", "s", "a", "b", "c", "d"], b":4\r\n");
    let writes: [&[&str]; 5] = [
        &["SADD", "s", "new"],
        &["SREM", "s", "a"],
        &["SMOVE", "s", "t", "new"],
        &["SPOP", "s"],
        &["SPOP", "s", "1"],
    ];
    for write in writes {
        expect(&mut watcher, &["WATCH", "s"], b"+OK\r\n");
        let _ = other.call(write);
        expect(&mut watcher, &["MULTI"], b"+OK\r\n");
        expect(&mut watcher, &["SCARD", "s"], b"+QUEUED\r\n");
        expect(&mut watcher, &["EXEC"], b"*-1\r\n");
    }
    // A write that changes nothing leaves the transaction alone, as in Redis.
    let scard = frame(&other.call_str("SCARD s")).integer().expect("SCARD");
    let present = frame(&other.call_str("SRANDMEMBER s")).text();
    for write in [&["SADD", "s", &present][..], &["SREM", "s", "nosuch"]] {
        expect(&mut watcher, &["WATCH", "s"], b"+OK\r\n");
        let _ = other.call(write);
        expect(&mut watcher, &["MULTI"], b"+OK\r\n");
        expect(&mut watcher, &["SCARD", "s"], b"+QUEUED\r\n");
        expect(
            &mut watcher,
            &["EXEC"],
            format!("*1\r\n:{scard}\r\n").as_bytes(),
        );
    }
}

/// The bulk strings of an array or set reply.
fn strings(reply: &[u8]) -> Vec<String> {
    let reply = frame(reply);
    assert!(matches!(reply.kind, b'*' | b'~'), "{}", escape(&reply.raw));
    reply.items.iter().map(|item| item.text()).collect()
}

#[test]
fn spop_with_a_count_returns_distinct_members_and_removes_them() {
    let server = Server::sessiond(&[]);
    let mut connection = server.connection();
    let mut client = server.raw();
    for (key, size) in [("ints", 100), ("small", 20), ("large", 2000)] {
        let all: BTreeSet<String> = (0..size)
            .map(|i| match key {
                "ints" => i.to_string(),
                _ => format!("m{i}"),
            })
            .collect();
        sadd(&mut connection, key, all.iter().cloned());
        let mut left = all.clone();
        // Small pops take members one by one; a pop of most of the set rebuilds the rest.
        for count in [1, 7, size / 2, size / 2 - 9] {
            let popped = strings(&client.call(&["SPOP", key, &count.to_string()]));
            let distinct: BTreeSet<String> = popped.iter().cloned().collect();
            assert_eq!(popped.len(), count, "{key}: SPOP {count}");
            assert_eq!(distinct.len(), count, "{key}: no member twice");
            assert!(
                distinct.is_subset(&left),
                "{key}: popped from what was left"
            );
            left = &left - &distinct;
            assert_eq!(members(&mut connection, key), left, "{key}: removed");
        }
        assert_eq!(left.len(), 1);
        let last = strings(&client.call(&["SPOP", key, "5"]));
        assert_eq!(last.into_iter().collect::<BTreeSet<_>>(), left);
        expect(&mut client, &["EXISTS", key], b":0\r\n");
    }
}

#[test]
fn srandmember_with_a_negative_count_repeats_and_a_positive_one_does_not() {
    let server = Server::sessiond(&[]);
    let mut connection = server.connection();
    let mut client = server.raw();
    for (key, size) in [("ints", 3), ("small", 5), ("large", 600)] {
        let all: BTreeSet<String> = (0..size)
            .map(|i| match key {
                "ints" => i.to_string(),
                _ => format!("m{i}"),
            })
            .collect();
        sadd(&mut connection, key, all.iter().cloned());
        let repeated = strings(&client.call(&["SRANDMEMBER", key, "-3000"]));
        assert_eq!(repeated.len(), 3000);
        assert!(
            repeated.iter().all(|m| all.contains(m)),
            "{key}: from the set"
        );
        let reached: BTreeSet<String> = repeated.into_iter().collect();
        if size <= 5 {
            assert_eq!(reached, all, "{key}: 3000 picks reach every member");
        } else {
            assert!(reached.len() > 500, "{key}: picks spread over the set");
        }
        for count in [1, size / 2, size - 1] {
            let picks = strings(&client.call(&["SRANDMEMBER", key, &count.to_string()]));
            let distinct: BTreeSet<&String> = picks.iter().collect();
            assert_eq!(
                (picks.len(), distinct.len()),
                (count, count),
                "{key} {count}"
            );
            assert!(picks.iter().all(|m| all.contains(m)));
        }
        let single = frame(&client.call(&["SRANDMEMBER", key]));
        assert!(all.contains(&single.text()), "{}", escape(&single.raw));
        assert_eq!(members(&mut connection, key), all, "{key}: nothing removed");
    }
    let refused = frame(&client.call_str("SRANDMEMBER small -4194305"));
    assert!(
        refused.is_error() && refused.text().contains("at most 4194304"),
        "{}",
        escape(&refused.raw)
    );
    expect(
        &mut client,
        &["SRANDMEMBER", "nokey", "-4194305"],
        b"*0\r\n",
    );
}

#[test]
fn sscan_returns_every_member_present_throughout_once_despite_churn() {
    let server = Server::sessiond(&[]);
    let mut connection = server.connection();
    sadd(&mut connection, "s", (0..2000).map(|i| format!("keep{i}")));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let (next, found): (String, Vec<String>) =
            query(&mut connection, &["SSCAN", "s", &cursor, "COUNT", "25"]);
        for member in found {
            *seen.entry(member).or_default() += 1;
        }
        step += 1;
        sadd(
            &mut connection,
            "s",
            (0..40).map(|i| format!("new{step}-{i}")),
        );
        if step > 1 {
            let mut srem = redis::cmd("SREM");
            srem.arg("s");
            for i in 0..40 {
                srem.arg(format!("new{}-{i}", step - 1));
            }
            let _: i64 = srem.query(&mut connection).unwrap();
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    for i in 0..2000 {
        assert_eq!(seen.get(&format!("keep{i}")), Some(&1), "keep{i}");
    }
    assert!(seen.values().all(|&n| n == 1), "no member twice");
}

#[test]
fn set_max_listpack_thresholds_are_accepted_and_used() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let mut connection = server.connection();
    let config: BTreeMap<String, String> = query(&mut connection, &["CONFIG", "GET", "set-max-*"]);
    assert_eq!(
        config,
        BTreeMap::from([
            ("set-max-intset-entries".to_string(), "512".to_string()),
            ("set-max-listpack-entries".to_string(), "128".to_string()),
            ("set-max-listpack-value".to_string(), "64".to_string()),
        ])
    );
    // A packed set scans whole in one step; a table answers COUNT 1 with a cursor to go on.
    sadd(&mut connection, "packed", ["a", "b", "c"].map(String::from));
    let whole = frame(&client.call_str("SSCAN packed 0 COUNT 1"));
    assert_eq!(
        (whole.items[0].text(), whole.items[1].items.len()),
        ("0".into(), 3)
    );

    expect(
        &mut client,
        &["CONFIG", "SET", "set-max-listpack-entries", "2"],
        b"+OK\r\n",
    );
    sadd(&mut connection, "table", ["a", "b", "c"].map(String::from));
    let step = frame(&client.call_str("SSCAN table 0 COUNT 1"));
    assert_ne!(step.items[0].text(), "0", "a table of 3 scans in steps");
    assert_eq!(step.items[1].items.len(), 1);

    expect(
        &mut client,
        &["CONFIG", "SET", "set-max-listpack-entries", "128"],
        b"+OK\r\n",
    );
    expect(
        &mut client,
        &["CONFIG", "SET", "set-max-listpack-value", "4"],
        b"+OK\r\n",
    );
    sadd(
        &mut connection,
        "long",
        ["a", "b", "long-member"].map(String::from),
    );
    let step = frame(&client.call_str("SSCAN long 0 COUNT 1"));
    assert_ne!(
        step.items[0].text(),
        "0",
        "a member past 4 bytes makes a table"
    );
    expect(&mut client, &["CONFIG", "SET", "set-max-listpack-value", "x"], b"-ERR CONFIG SET failed (possibly related to argument 'set-max-listpack-value') - argument must be a memory value\r\n");
}
