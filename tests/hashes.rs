//! Hash behaviour that a byte-for-byte comparison with Redis cannot pin down (the
//! differential script `tests/differential/hashes.redis` covers replies and errors):
//! HSCAN's guarantee under concurrent changes, HRANDFIELD's picks, and sessiond's own limit
//! on repeated picks.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{RawClient, Server, escape, frame};

/// Fills `key` with `count` fields `f<i>` = `v<i>`.
fn fill(client: &mut RawClient, key: &str, count: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..count {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let reply = frame(&client.call(&args));
    assert_eq!(
        reply.integer(),
        Some(count as i64),
        "{}",
        escape(&reply.raw)
    );
}

/// The bulk strings of an array reply.
fn strings(reply: &[u8]) -> Vec<String> {
    let reply = frame(reply);
    assert_eq!(reply.kind, b'*', "{}", escape(&reply.raw));
    reply.items.iter().map(|item| item.text()).collect()
}

#[test]
fn hscan_returns_every_field_present_throughout_once_despite_churn() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut client = server.raw();
    fill(&mut client, "h", 2000);
    assert_eq!(client.call_str("OBJECT ENCODING h"), b"$9\r\nhashtable\r\n");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let reply = frame(&client.call(&["HSCAN", "h", &cursor, "COUNT", "25"]));
        cursor = reply.items[0].text();
        for pair in reply.items[1].items.chunks(2) {
            *seen.entry(pair[0].text()).or_default() += 1;
        }
        // Between steps other fields come and go, many at a time, so places are reused.
        step += 1;
        let added: Vec<String> = (0..40).map(|i| format!("new{step}-{i}")).collect();
        let mut hset = vec!["HSET".to_string(), "h".to_string()];
        for field in &added {
            hset.extend([field.clone(), "x".to_string()]);
        }
        client.call(&hset);
        if step > 1 {
            let mut hdel = vec!["HDEL".to_string(), "h".to_string()];
            hdel.extend((0..40).map(|i| format!("new{}-{i}", step - 1)));
            client.call(&hdel);
        }
        if cursor == "0" {
            break;
        }
    }
    for i in 0..2000 {
        assert_eq!(seen.get(&format!("f{i}")), Some(&1), "f{i}");
    }
    assert!(
        seen.values().all(|&times| times == 1),
        "no field twice: {seen:?}"
    );
}

#[test]
fn hrandfield_picks_come_from_the_hash() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut client = server.raw();
    for (key, size) in [("small", 5), ("large", 600)] {
        fill(&mut client, key, size);
        let fields: BTreeSet<String> = (0..size).map(|i| format!("f{i}")).collect();

        let single = frame(&client.call(&["HRANDFIELD", key]));
        assert!(fields.contains(&single.text()), "{}", escape(&single.raw));

        // A negative count repeats picks: enough of them reach every field of a small hash.
        let repeated = strings(&client.call(&["HRANDFIELD", key, "-3000"]));
        assert_eq!(repeated.len(), 3000);
        assert!(repeated.iter().all(|f| fields.contains(f)));
        if size == 5 {
            let reached: BTreeSet<String> = repeated.into_iter().collect();
            assert_eq!(reached, fields, "3000 picks out of 5 reach them all");
        }

        // A positive count never repeats, and WITHVALUES pairs each field with its value.
        for count in [1, 3, size / 2, size - 1] {
            let picks = strings(&client.call(&["HRANDFIELD", key, &count.to_string()]));
            let distinct: BTreeSet<&String> = picks.iter().collect();
            assert_eq!(picks.len(), count, "{key} {count}");
            assert_eq!(distinct.len(), count, "{key} {count}: no repeats");
            let flat =
                strings(&client.call(&["HRANDFIELD", key, &count.to_string(), "WITHVALUES"]));
            assert_eq!(flat.len(), 2 * count);
            for pair in flat.chunks(2) {
                assert_eq!(pair[1], pair[0].replacen('f', "v", 1), "{key}: {pair:?}");
            }
        }
        let all = strings(&client.call(&["HRANDFIELD", key, "100000"]));
        assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), fields);
    }
}

#[test]
fn hrandfield_refuses_more_repeated_picks_than_it_would_build() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut client = server.raw();
    fill(&mut client, "h", 3);
    let reply = frame(&client.call_str("HRANDFIELD h -4194305"));
    assert!(
        reply.is_error() && reply.text().contains("at most 4194304"),
        "{}",
        escape(&reply.raw)
    );
    let reply = frame(&client.call_str("HRANDFIELD nokey -4194305"));
    assert_eq!(reply.raw, b"*0\r\n", "no hash, nothing to pick");
    assert_eq!(client.call_str("PING"), b"+PONG\r\n");
}
