//! MULTI/EXEC against the real binary, for what the differential script cannot show:
//! EXEC is atomic across shards under concurrent clients, expiry of a watched key aborts
//! EXEC, and a transaction is one AOF record, so a crash keeps all of it or none.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::{Server, copy_aof, escape, last_incremental};

/// Keys spread over many shards.
const KEYS: usize = 16;

fn key(i: usize) -> String {
    format!("counter:{i}")
}

#[test]
fn exec_is_atomic_across_shards_under_concurrent_writers() {
    let server = Server::sessiond(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let mut connection = server.connection();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut transactions = 0;
                while !stop.load(Ordering::Acquire) {
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    for i in 0..KEYS {
                        pipe.cmd("INCR").arg(key(i)).ignore();
                    }
                    pipe.query::<()>(&mut connection).expect("EXEC");
                    transactions += 1;
                }
                transactions
            })
        })
        .collect();
    let mut connection = server.connection();
    for round in 0..2000 {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for i in 0..KEYS {
            pipe.cmd("GET").arg(key(i));
        }
        let values: Vec<Option<u64>> = pipe.query(&mut connection).expect("EXEC");
        assert!(
            values.iter().all(|value| *value == values[0]),
            "round {round}: a transaction was seen half done: {values:?}"
        );
    }
    stop.store(true, Ordering::Release);
    let total: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    let last: Option<u64> = redis::cmd("GET")
        .arg(key(KEYS - 1))
        .query(&mut connection)
        .unwrap();
    assert_eq!(last, Some(total), "every transaction ran whole");
    assert!(total > 0);
}

#[test]
fn a_watched_key_that_expires_aborts_exec() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    client.call_str("CONFIG SET notify-keyspace-events Ex");
    let mut subscriber = server.raw();
    subscriber.call_str("SUBSCRIBE __keyevent@0__:expired");
    client.call_str("SET session:w v PX 50");
    assert_eq!(client.call_str("WATCH session:w"), b"+OK\r\n");
    let event = subscriber.read_reply();
    assert!(
        escape(&event).contains("session:w"),
        "expected the expired event, got {}",
        escape(&event)
    );
    assert_eq!(client.call_str("MULTI"), b"+OK\r\n");
    assert_eq!(client.call_str("SET session:w fresh"), b"+QUEUED\r\n");
    assert_eq!(client.call_str("EXEC"), b"*-1\r\n");
    assert_eq!(client.call_str("GET session:w"), b"$-1\r\n");
}

/// `--appendonly yes --appendfsync always --dir DIR` and `extra`: every acknowledged write
/// is in the file.
fn durable_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let dir = dir.to_str().expect("utf-8 temp dir");
    [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir,
    ]
    .iter()
    .chain(extra)
    .map(|arg| arg.to_string())
    .collect()
}

/// How many records `sessiond check-aof` counts in `file`.
fn records_in(file: &Path) -> u64 {
    let output = Command::new(env!("CARGO_BIN_EXE_sessiond"))
        .arg("check-aof")
        .arg(file)
        .output()
        .expect("check-aof runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace()
        .zip(text.split_whitespace().skip(1))
        .find(|(_, word)| word.starts_with("record"))
        .and_then(|(count, _)| count.parse().ok())
        .unwrap_or_else(|| panic!("no record count in {text:?}"))
}

#[test]
fn a_transaction_is_one_aof_record_kept_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let aof = durable_args(dir.path(), &[]);
    let mut server = Server::sessiond(&aof.iter().map(String::as_str).collect::<Vec<_>>());
    let mut client = server.raw();
    client.call_str("SET before 1");
    let incr = last_incremental(dir.path());
    let records_before = records_in(&incr);
    let start = std::fs::metadata(&incr).expect("incr file").len();
    client.call_str("MULTI");
    for i in 0..KEYS {
        client.call_str(&format!("SET {} {}", key(i), "v".repeat(20)));
    }
    client.call_str("MSET pair:a 1 pair:b 2");
    client.call_str("DEL before");
    let replies = client.call_str("EXEC");
    assert!(replies.starts_with(b"*18\r\n"), "{}", escape(&replies));
    let end = std::fs::metadata(&incr).expect("incr file").len();
    assert_eq!(
        records_in(&incr),
        records_before + 1,
        "EXEC wrote one record"
    );
    server.kill();

    let cuts = (0..16).map(|n| start + (end - start) * n / 16).chain([end]);
    for cut in cuts {
        let copy = copy_aof(dir.path());
        std::fs::OpenOptions::new()
            .write(true)
            .open(last_incremental(copy.path()))
            .and_then(|file| file.set_len(cut))
            .expect("truncate");
        let copy_arg = copy.path().to_str().expect("utf-8 temp dir");
        let restarted = Server::sessiond(&["--appendonly", "yes", "--dir", copy_arg]);
        let mut check = restarted.raw();
        let present = check.call_str("EXISTS counter:0 counter:15 pair:a pair:b");
        let before = check.call_str("EXISTS before");
        if cut == end {
            assert_eq!(present, b":4\r\n", "the whole transaction is back");
            assert_eq!(before, b":0\r\n");
        } else {
            assert_eq!(present, b":0\r\n", "cut at {cut}: none of it");
            assert_eq!(before, b":1\r\n", "cut at {cut}: the state before it");
        }
    }
}

#[test]
fn client_list_shows_a_transaction_and_its_queue() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let mut observer = server.raw();
    let id = String::from_utf8(client.call_str("CLIENT ID")).unwrap();
    let id = id.trim_start_matches(':').trim_end().to_string();
    let line = |observer: &mut common::RawClient| {
        let list = String::from_utf8(observer.call_str("CLIENT LIST")).unwrap();
        list.lines()
            .find(|line| line.contains(&format!("id={id} ")))
            .expect("the client is listed")
            .to_string()
    };
    assert!(line(&mut observer).contains(" flags=N "));
    assert!(line(&mut observer).contains(" multi=-1 "));
    client.call_str("MULTI");
    client.call_str("SET a 1");
    client.call_str("GET a");
    let during = line(&mut observer);
    assert!(
        during.contains(" flags=x ") && during.contains(" multi=2 "),
        "{during}"
    );
    client.call_str("EXEC");
    let after = line(&mut observer);
    assert!(
        after.contains(" flags=N ") && after.contains(" multi=-1 "),
        "{after}"
    );
}

#[test]
fn a_panic_inside_exec_releases_the_gate_and_logs_what_ran() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = durable_args(dir.path(), &["--enable-debug-command", "yes"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::sessiond(&args);
    let mut doomed = server.raw();
    for line in [
        "MULTI",
        "SET before-panic 1",
        "DEBUG PANIC",
        "SET after-panic 1",
    ] {
        doomed.call_str(line);
    }
    doomed.send(&["EXEC"]);
    doomed.expect_closed();
    let mut other = server.raw();
    assert_eq!(
        other.call_str("SET still-serving 1"),
        b"+OK\r\n",
        "the gate is free"
    );
    assert_eq!(other.call_str("MULTI"), b"+OK\r\n");
    other.call_str("INCR n");
    assert_eq!(other.call_str("EXEC"), b"*1\r\n:1\r\n", "EXEC runs again");
    assert_eq!(other.call_str("EXISTS before-panic after-panic"), b":1\r\n");
    server.terminate();
    let restarted = Server::sessiond(&args);
    let mut check = restarted.raw();
    assert_eq!(
        check.call_str("EXISTS before-panic after-panic still-serving n"),
        b":3\r\n",
        "what ran before the panic was logged, the rest of the queue was not"
    );
}
