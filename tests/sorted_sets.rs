//! Sorted set behaviour that a byte-for-byte comparison with Redis cannot pin down (the
//! differential script `tests/differential/sorted_sets.redis` covers replies and errors):
//! the AOF across restarts and rewrites, what a write to a large sorted set logs, WATCH,
//! score, rank and lex ranges on a large set against a model, and ZSCAN's guarantee under
//! churn.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{RawClient, Server, escape, frame, last_incremental};
use redis::Connection;

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

/// ZADD `key` with `members` (`score`, `member`), in one command.
fn zadd(connection: &mut Connection, key: &str, members: &[(String, String)]) {
    let mut command = redis::cmd("ZADD");
    command.arg(key);
    for (score, member) in members {
        command.arg(score).arg(member);
    }
    let _: i64 = command.query(connection).unwrap();
}

/// What a key holds, as far as these tests care.
#[derive(Debug, PartialEq)]
struct Held {
    encoding: String,
    expire_at: i64,
    /// Members with their scores as replied (Redis's `%.17g` text).
    members: Vec<(String, String)>,
}

/// Every sorted set of database 0.
fn zsets(connection: &mut Connection) -> BTreeMap<String, Held> {
    let keys: Vec<String> = query(connection, &["KEYS", "*"]);
    let mut held = BTreeMap::new();
    for key in keys {
        if query::<String>(connection, &["TYPE", &key]) != "zset" {
            continue;
        }
        let value = Held {
            encoding: query(connection, &["OBJECT", "ENCODING", &key]),
            expire_at: query(connection, &["PEXPIRETIME", &key]),
            members: query(connection, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]),
        };
        held.insert(key, value);
    }
    held
}

fn info_field(connection: &mut Connection, field: &str) -> String {
    let info: String = query(connection, &["INFO", "persistence"]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}: {info}"))
        .trim()
        .to_string()
}

/// Runs BGREWRITEAOF and waits until one more rewrite has finished.
fn rewrite(connection: &mut Connection) {
    let before: u64 = info_field(connection, "aof_rewrites").parse().unwrap();
    let _: String = query(connection, &["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(connection, "aof_rewrites")
        .parse::<u64>()
        .unwrap()
        <= before
        || info_field(connection, "aof_rewrite_in_progress") != "0"
    {
        assert!(Instant::now() < deadline, "the rewrite never finished");
        thread::sleep(Duration::from_millis(5));
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}

/// `count` members `m<i>` with scores `i / 2`.
fn halves(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| ((i as f64 / 2.0).to_string(), format!("m{i}")))
        .collect()
}

#[test]
fn small_and_large_sorted_sets_survive_a_restart_and_a_rewrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    let small = vec![
        ("1".to_string(), "a".to_string()),
        ("2.5".to_string(), "b".to_string()),
        ("0.2".to_string(), "c".to_string()),
        ("-inf".to_string(), "low".to_string()),
    ];
    zadd(&mut connection, "small", &small);
    let _: String = query(&mut connection, &["ZINCRBY", "small", "0.1", "c"]);
    let _: String = query(&mut connection, &["ZADD", "small", "INCR", "0.1", "a"]);
    zadd(&mut connection, "large", &halves(2000));
    let _: i64 = query(&mut connection, &["ZREM", "large", "m3", "m4", "nosuch"]);
    let _: String = query(&mut connection, &["ZINCRBY", "large", "0.1", "m5"]);
    let _: i64 = query(
        &mut connection,
        &["ZREMRANGEBYSCORE", "large", "(100", "200"],
    );
    let _: i64 = query(&mut connection, &["ZREMRANGEBYRANK", "large", "-3", "-1"]);
    let _: Vec<String> = query(&mut connection, &["ZPOPMIN", "large", "2"]);
    let _: i64 = query(
        &mut connection,
        &["ZADD", "large", "GT", "CH", "5000", "m10"],
    );
    let _: i64 = query(&mut connection, &["EXPIRE", "large", "1000"]);
    let _: i64 = query(&mut connection, &["ZADD", "gone", "1", "a"]);
    let _: i64 = query(&mut connection, &["ZREM", "gone", "a"]);

    let before = zsets(&mut connection);
    assert_eq!(before["small"].encoding, "listpack");
    assert_eq!(before["large"].encoding, "skiplist");
    assert_eq!(
        before["small"].members[..3],
        [
            ("low".to_string(), "-inf".to_string()),
            ("c".to_string(), "0.30000000000000004".to_string()),
            ("a".to_string(), "1.1000000000000001".to_string()),
        ]
    );
    assert_eq!(before["large"].members.len(), 2000 - 2 - 200 - 3 - 2);
    assert!(!before.contains_key("gone"));
    server.kill();

    let mut server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(zsets(&mut connection), before, "the same after a restart");

    rewrite(&mut connection);
    let _: i64 = query(&mut connection, &["ZADD", "large", "7", "after"]);
    let _: i64 = query(&mut connection, &["ZREM", "large", "m20"]);
    let _: i64 = query(&mut connection, &["ZADD", "small", "9", "d"]);
    let after = zsets(&mut connection);
    server.kill();

    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(
        zsets(&mut connection),
        after,
        "the same after a rewrite and a restart"
    );
}

#[test]
fn a_write_to_a_large_sorted_set_logs_only_what_it_changed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let mut connection = server.connection();
    let incr = last_incremental(dir.path());
    zadd(&mut connection, "large", &halves(5000));
    let small: Vec<(String, String)> = (0..10)
        .map(|i| (i.to_string(), format!("{i:0>60}")))
        .collect();
    zadd(&mut connection, "small", &small);

    let growth = |connection: &mut Connection, args: &[&str]| -> u64 {
        let before = file_len(&incr);
        let _: redis::Value = query(connection, args);
        file_len(&incr) - before
    };
    for args in [
        &["ZADD", "large", "1", "new"][..],
        &["ZADD", "large", "CH", "2", "m7"],
        &["ZINCRBY", "large", "0.5", "m5"],
        &["ZREM", "large", "m6", "nosuch"],
        &["ZPOPMAX", "large"],
    ] {
        let bytes = growth(&mut connection, args);
        assert!(bytes < 100, "{args:?} on a large sorted set: {bytes} bytes");
    }
    let removed = growth(
        &mut connection,
        &["ZREMRANGEBYSCORE", "large", "100", "(105"],
    );
    assert!(
        (60..300).contains(&removed),
        "ZREMRANGEBYSCORE logs the 10 members it removed: {removed} bytes"
    );
    assert_eq!(
        growth(&mut connection, &["ZADD", "large", "NX", "0", "m1"]),
        0,
        "no change"
    );
    let whole = growth(&mut connection, &["ZADD", "small", "11", "x"]);
    assert!(
        (650..800).contains(&whole),
        "a packed sorted set is logged whole: {whole} bytes"
    );

    let before = zsets(&mut connection);
    assert_eq!(before["large"].members.len(), 5000 + 1 - 1 - 1 - 10);
    server.kill();
    let server = start(dir.path());
    let mut connection = server.connection();
    assert_eq!(zsets(&mut connection), before);
    let score: String = query(&mut connection, &["ZSCORE", "large", "m5"]);
    assert_eq!(score, "3", "ZINCRBY logged the resulting score");
}

/// WATCHes `key` on `watcher`, lets `other` run `write`, and returns the EXEC reply.
fn exec_after(watcher: &mut RawClient, other: &mut RawClient, key: &str, write: &str) -> Vec<u8> {
    assert_eq!(watcher.call(&["WATCH", key]), b"+OK\r\n");
    other.call_str(write);
    assert_eq!(watcher.call_str("MULTI"), b"+OK\r\n");
    assert_eq!(watcher.call_str("PING"), b"+QUEUED\r\n");
    watcher.call_str("EXEC")
}

#[test]
fn a_watch_is_aborted_by_zadd_and_zrem_from_another_client() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut watcher = server.raw();
    let mut other = server.raw();
    let aborted = b"*-1\r\n".to_vec();
    let ran = b"*1\r\n+PONG\r\n".to_vec();
    let mut large = vec!["ZADD".to_string(), "large".to_string()];
    for i in 0..300 {
        large.extend([i.to_string(), format!("m{i}")]);
    }
    other.call(&large);
    other.call_str("ZADD z 1 a 2 b");
    for (key, write, expected) in [
        ("z", "ZADD z 5 a", &aborted),
        ("z", "ZADD z 5 a", &ran),
        ("z", "ZADD z NX 9 a", &ran),
        ("z", "ZINCRBY z 1 b", &aborted),
        ("z", "ZREM z nosuch", &ran),
        ("z", "ZREM z b", &aborted),
        ("fresh", "ZADD fresh 1 a", &aborted),
        ("large", "ZADD large 1000 m1", &aborted),
        ("large", "ZREM large m2", &aborted),
        ("large", "ZREMRANGEBYSCORE large 500 600", &ran),
        ("large", "ZREMRANGEBYSCORE large 10 12", &aborted),
        ("z", "ZPOPMIN z", &aborted),
    ] {
        let reply = exec_after(&mut watcher, &mut other, key, write);
        assert_eq!(&reply, expected, "{write}: {}", escape(&reply));
    }
}

/// A deterministic stand-in for random numbers.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Members and scores of an array reply `[member, score, ...]`.
fn scored(reply: Vec<String>) -> Vec<(String, f64)> {
    reply
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].parse().expect("a score")))
        .collect()
}

#[test]
fn ranges_on_a_100k_member_sorted_set_agree_with_a_sorted_model() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut connection = server.connection();
    let mut random = Sequence(0x2545_f491_4f6c_dd1d);
    let mut model: BTreeMap<String, f64> = BTreeMap::new();
    let members: Vec<(String, String)> = (0..100_000)
        .map(|i| {
            let score = random.below(20_000) as f64 / 4.0 - 1000.0;
            let member = format!("member:{i}");
            model.insert(member.clone(), score);
            (score.to_string(), member)
        })
        .collect();
    for part in members.chunks(5000) {
        zadd(&mut connection, "big", part);
    }
    let encoding: String = query(&mut connection, &["OBJECT", "ENCODING", "big"]);
    assert_eq!(encoding, "skiplist");

    for round in 0..3 {
        let mut sorted: Vec<(String, f64)> = model.iter().map(|(m, &s)| (m.clone(), s)).collect();
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let len = sorted.len() as i64;
        let card: i64 = query(&mut connection, &["ZCARD", "big"]);
        assert_eq!(card, len);
        let all: Vec<String> = query(&mut connection, &["ZRANGE", "big", "0", "-1", "WITHSCORES"]);
        assert_eq!(scored(all), sorted, "round {round}: the whole order");

        let tail: Vec<String> = query(
            &mut connection,
            &["ZRANGE", "big", "-10", "-1", "WITHSCORES"],
        );
        assert_eq!(scored(tail), sorted[sorted.len() - 10..], "ZRANGE -10 -1");
        for _ in 0..40 {
            let start = random.below(len as u64 + 20) as i64;
            let stop = start + random.below(300) as i64;
            let (first, last) = (start as usize, (stop.min(len - 1)) as usize);
            let expected = if first <= last {
                sorted[first..=last].to_vec()
            } else {
                vec![]
            };
            let got: Vec<String> = query(
                &mut connection,
                &[
                    "ZRANGE",
                    "big",
                    &start.to_string(),
                    &stop.to_string(),
                    "WITHSCORES",
                ],
            );
            assert_eq!(scored(got), expected, "ZRANGE {start} {stop}");
            let reversed: Vec<(String, f64)> = sorted.iter().rev().cloned().collect();
            let expected = if first <= last {
                reversed[first..=last].to_vec()
            } else {
                vec![]
            };
            let got: Vec<String> = query(
                &mut connection,
                &[
                    "ZRANGE",
                    "big",
                    &start.to_string(),
                    &stop.to_string(),
                    "REV",
                    "WITHSCORES",
                ],
            );
            assert_eq!(scored(got), expected, "ZRANGE {start} {stop} REV");

            let min = random.below(20_000) as f64 / 4.0 - 1000.0;
            let max = min + random.below(200) as f64 / 4.0;
            let inside: Vec<(String, f64)> = sorted
                .iter()
                .filter(|(_, s)| *s > min && *s <= max)
                .cloned()
                .collect();
            let (min_arg, max_arg) = (format!("({min}"), max.to_string());
            let count: i64 = query(&mut connection, &["ZCOUNT", "big", &min_arg, &max_arg]);
            assert_eq!(count, inside.len() as i64, "ZCOUNT {min_arg} {max_arg}");
            let offset = random.below(10) as usize;
            let limit = random.below(50) as usize;
            let got: Vec<String> = query(
                &mut connection,
                &[
                    "ZRANGE",
                    "big",
                    &min_arg,
                    &max_arg,
                    "BYSCORE",
                    "LIMIT",
                    &offset.to_string(),
                    &limit.to_string(),
                    "WITHSCORES",
                ],
            );
            let expected: Vec<(String, f64)> =
                inside.iter().skip(offset).take(limit).cloned().collect();
            assert_eq!(
                scored(got),
                expected,
                "BYSCORE {min_arg} {max_arg} LIMIT {offset} {limit}"
            );
            let got: Vec<String> = query(
                &mut connection,
                &[
                    "ZREVRANGEBYSCORE",
                    "big",
                    &max_arg,
                    &min_arg,
                    "WITHSCORES",
                    "LIMIT",
                    &offset.to_string(),
                    &limit.to_string(),
                ],
            );
            let expected: Vec<(String, f64)> = inside
                .iter()
                .rev()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect();
            assert_eq!(
                scored(got),
                expected,
                "ZREVRANGEBYSCORE {max_arg} {min_arg}"
            );

            let rank = random.below(len as u64) as usize;
            let member = &sorted[rank].0;
            let got: i64 = query(&mut connection, &["ZRANK", "big", member]);
            assert_eq!(got, rank as i64, "ZRANK {member}");
            let got: i64 = query(&mut connection, &["ZREVRANK", "big", member]);
            assert_eq!(got, len - 1 - rank as i64, "ZREVRANK {member}");
        }

        // Change the set between rounds: new scores, removals by member, rank and score.
        for _ in 0..2000 {
            let member = format!("member:{}", random.below(100_000));
            let score = random.below(20_000) as f64 / 4.0 - 1000.0;
            let _: i64 = query(
                &mut connection,
                &["ZADD", "big", &score.to_string(), &member],
            );
            model.insert(member, score);
        }
        for _ in 0..500 {
            let member = format!("member:{}", random.below(100_000));
            let _: i64 = query(&mut connection, &["ZREM", "big", &member]);
            model.remove(&member);
        }
        let removed: i64 = query(&mut connection, &["ZREMRANGEBYRANK", "big", "100", "199"]);
        assert_eq!(removed, 100);
        let removed: i64 = query(&mut connection, &["ZREMRANGEBYSCORE", "big", "0", "(10"]);
        let mut sorted: Vec<(String, f64)> = model.iter().map(|(m, &s)| (m.clone(), s)).collect();
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        for (member, _) in &sorted[100..200] {
            model.remove(member);
        }
        let before = model.len();
        model.retain(|_, s| !(0.0..10.0).contains(s));
        assert_eq!(removed, (before - model.len()) as i64);
    }
}

#[test]
fn lex_ranges_on_a_100k_member_sorted_set_agree_with_a_sorted_model() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut connection = server.connection();
    let mut random = Sequence(0x9e37_79b9_7f4a_7c15);
    let mut model: BTreeSet<String> = BTreeSet::new();
    let members: Vec<(String, String)> = (0..100_000)
        .map(|_| {
            let member = format!("{:x}", random.below(1 << 40));
            model.insert(member.clone());
            ("0".to_string(), member)
        })
        .collect();
    for part in members.chunks(5000) {
        zadd(&mut connection, "lex", part);
    }
    let bound = |random: &mut Sequence| format!("{:x}", random.below(1 << 40));
    for round in 0..50 {
        let (a, b) = (bound(&mut random), bound(&mut random));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let (min, max) = (format!("[{low}"), format!("({high}"));
        let inside: Vec<String> = model.range(low.clone()..high.clone()).cloned().collect();
        let count: i64 = query(&mut connection, &["ZLEXCOUNT", "lex", &min, &max]);
        assert_eq!(count, inside.len() as i64, "ZLEXCOUNT {min} {max}");
        let (offset, limit) = (random.below(20) as usize, random.below(100) as usize);
        let (offset_arg, limit_arg) = (offset.to_string(), limit.to_string());
        let got: Vec<String> = query(
            &mut connection,
            &[
                "ZRANGE",
                "lex",
                &min,
                &max,
                "BYLEX",
                "LIMIT",
                &offset_arg,
                &limit_arg,
            ],
        );
        let expected: Vec<String> = inside.iter().skip(offset).take(limit).cloned().collect();
        assert_eq!(got, expected, "BYLEX {min} {max} LIMIT {offset} {limit}");
        let got: Vec<String> = query(
            &mut connection,
            &[
                "ZREVRANGEBYLEX",
                "lex",
                &max,
                &min,
                "LIMIT",
                &offset_arg,
                &limit_arg,
            ],
        );
        let expected: Vec<String> = inside
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        assert_eq!(got, expected, "ZREVRANGEBYLEX {max} {min}");
        if round % 10 == 0 {
            let removed: i64 = query(&mut connection, &["ZREMRANGEBYLEX", "lex", &min, &max]);
            assert_eq!(removed, inside.len() as i64, "ZREMRANGEBYLEX {min} {max}");
            for member in &inside {
                model.remove(member);
            }
        }
    }
    let all: Vec<String> = query(&mut connection, &["ZRANGE", "lex", "-", "+", "BYLEX"]);
    assert_eq!(all, model.into_iter().collect::<Vec<_>>());
}

#[test]
fn zscan_of_a_skiplist_returns_every_member_present_throughout_once() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut client = server.raw();
    let mut zadd = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..2000 {
        zadd.extend([i.to_string(), format!("keep{i}")]);
    }
    client.call(&zadd);
    assert_eq!(client.call_str("OBJECT ENCODING z"), b"$8\r\nskiplist\r\n");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let reply = frame(&client.call(&["ZSCAN", "z", &cursor, "COUNT", "25"]));
        cursor = reply.items[0].text();
        for pair in reply.items[1].items.chunks(2) {
            *seen.entry(pair[0].text()).or_default() += 1;
        }
        // Between steps members come and go, and kept ones change their scores.
        step += 1;
        let mut add = vec!["ZADD".to_string(), "z".to_string()];
        for i in 0..40 {
            add.extend([i.to_string(), format!("new{step}-{i}")]);
        }
        add.extend([(-step).to_string(), format!("keep{}", step * 7 % 2000)]);
        client.call(&add);
        if step > 1 {
            let mut rem = vec!["ZREM".to_string(), "z".to_string()];
            rem.extend((0..40).map(|i| format!("new{}-{i}", step - 1)));
            client.call(&rem);
        }
        if cursor == "0" {
            break;
        }
    }
    let kept: BTreeSet<String> = (0..2000).map(|i| format!("keep{i}")).collect();
    for member in &kept {
        assert_eq!(seen.get(member), Some(&1), "{member}");
    }
    assert!(
        seen.values().all(|&times| times == 1),
        "no member twice: {seen:?}"
    );
}
