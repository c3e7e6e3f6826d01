//! SCAN's promise that a byte-for-byte comparison with Redis cannot pin down (the
//! differential test compares the keys a full iteration finds): a full iteration returns
//! every key that existed throughout exactly once while other clients add and remove keys
//! in every shard, and each call returns about COUNT keys, not a whole shard.

mod common;

use std::collections::BTreeMap;

use common::{RawClient, Server, escape, frame};

/// Sets `prefix<i>` for every `i` in `range`, in one MSET.
fn set_keys(client: &mut RawClient, prefix: &str, range: std::ops::Range<usize>) {
    let mut args = vec!["MSET".to_string()];
    for i in range {
        args.push(format!("{prefix}{i}"));
        args.push("x".to_string());
    }
    assert_eq!(client.call(&args), b"+OK\r\n");
}

#[test]
fn a_full_scan_returns_every_key_present_throughout_once_despite_churn() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut scanner = server.raw();
    let mut writer = server.raw();
    set_keys(&mut writer, "k", 0..5_000);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    let mut largest_page = 0;
    loop {
        let reply = frame(&scanner.call(&["SCAN", &cursor, "COUNT", "50"]));
        assert_eq!(reply.items.len(), 2, "{}", escape(&reply.raw));
        cursor = reply.items[0].text();
        largest_page = largest_page.max(reply.items[1].items.len());
        for key in &reply.items[1].items {
            *seen.entry(key.text()).or_default() += 1;
        }
        // Between calls another client adds 40 keys and removes the previous 40, spread
        // over every shard, so freed places are taken again behind and ahead of the cursor.
        step += 1;
        set_keys(&mut writer, &format!("new{step}-"), 0..40);
        if step > 1 {
            let mut del = vec!["DEL".to_string()];
            del.extend((0..40).map(|i| format!("new{}-{i}", step - 1)));
            assert_eq!(frame(&writer.call(&del)).integer(), Some(40));
        }
        if cursor == "0" {
            break;
        }
    }
    for i in 0..5_000 {
        assert_eq!(seen.get(&format!("k{i}")), Some(&1), "k{i}");
    }
    let twice: Vec<_> = seen.iter().filter(|(_, times)| **times > 1).collect();
    assert!(twice.is_empty(), "returned more than once: {twice:?}");
    assert!(
        largest_page <= 100,
        "a call with COUNT 50 returned {largest_page} keys"
    );
    assert!(
        step >= 5_000 / 100,
        "{step} calls for 5,000 keys at COUNT 50"
    );
}

#[test]
fn scan_of_an_empty_database_ends_at_once() {
    let server = Server::sessiond(&["--appendonly", "no"]);
    let mut client = server.raw();
    assert_eq!(client.call(&["SCAN", "0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    set_keys(&mut client, "gone", 0..300);
    let mut del = vec!["DEL".to_string()];
    del.extend((0..300).map(|i| format!("gone{i}")));
    client.call(&del);
    // Freed places are skipped without counting against COUNT.
    assert_eq!(
        client.call(&["SCAN", "0", "COUNT", "1"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
}
