//! `maxmemory` with `noeviction`: once memory in use passes the limit, commands that may grow
//! it get Redis's `-OOM` error, reads and deletes keep working, and writes are accepted again
//! once deletes bring memory back under the limit. With `volatile-ttl` and `volatile-lru`,
//! keys with a TTL are evicted instead (nearest deadline, least recently used first), keys
//! without one are kept, and writes get `-OOM` only when nothing is left to evict.
//! MEMORY USAGE reports the same estimate eviction counts as freed.

mod common;

use std::time::{Duration, Instant};

use common::{RawClient, Server};

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// INFO memory's `used_memory`.
fn used_memory(client: &mut RawClient) -> u64 {
    client.info_field("memory", "used_memory").parse().unwrap()
}

#[test]
fn writes_get_oom_past_maxmemory_while_reads_and_deletes_work() {
    let server = Server::sessiond(&["--maxmemory", "16mb"]);
    let mut client = RawClient::connect(server.addr());
    let start = used_memory(&mut client);
    assert!(
        start > 0 && start < 16 << 20,
        "used_memory at start: {start}"
    );

    // 100 kB values until the server refuses; the check uses a reading up to 10 ms old near
    // the limit, so a few writes may pass it before the refusals start.
    let value = vec![b'v'; 100 * 1024];
    let mut stored = 0;
    let refusal = loop {
        let reply = client.call(&[b"SET".as_slice(), format!("k{stored}").as_bytes(), &value]);
        if reply != b"+OK\r\n" {
            break reply;
        }
        stored += 1;
        assert!(stored < 1_000, "100 MB stored under a 16 MB limit");
    };
    assert_eq!(refusal, OOM, "{}", String::from_utf8_lossy(&refusal));
    assert!(stored >= 100, "refused after only {stored} values");
    assert!(used_memory(&mut client) > 16 << 20);

    // Reads, deletes and commands that free memory are served; anything that may grow is not.
    assert_eq!(client.call(&["STRLEN", "k0"]), b":102400\r\n");
    assert_eq!(client.call(&["SESSION.CREATE", "alice"]), OOM);
    assert_eq!(client.call(&["APPEND", "k0", "x"]), OOM);
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
    for i in 10..stored {
        assert_eq!(client.call(&["DEL", &format!("k{i}")]), b":1\r\n");
    }

    // Deleting frees what was allocated: writes are accepted again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = client.call(&["SET", "after", "v"]);
        if reply == b"+OK\r\n" {
            break;
        }
        assert_eq!(reply, OOM);
        assert!(
            Instant::now() < deadline,
            "still refused after deleting all but 10 values"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(used_memory(&mut client) < 16 << 20);
}

#[test]
fn config_set_maxmemory_applies_at_once() {
    let server = Server::sessiond(&[]);
    let mut client = RawClient::connect(server.addr());
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(
        client.call(&["CONFIG", "SET", "maxmemory", "1"]),
        b"+OK\r\n"
    );
    assert_eq!(client.call(&["SET", "k", "w"]), OOM);
    assert_eq!(client.call(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(
        client.call(&["CONFIG", "SET", "maxmemory", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(client.call(&["SET", "k", "w"]), b"+OK\r\n");
}

/// Starts a server whose `maxmemory` leaves room for about `room` bytes of data.
fn server_with_room(policy: &str, room: u64) -> (Server, RawClient) {
    let server = Server::sessiond(&["--maxmemory-policy", policy]);
    let mut client = RawClient::connect(server.addr());
    let limit = used_memory(&mut client) + room;
    let set = client.call(&["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    assert_eq!(set, b"+OK\r\n");
    (server, client)
}

/// Writes `count` 4 kB values `v:0..count`, key `i` expiring in `1000 + rank(i)` seconds;
/// all must be accepted.
fn write_volatile(client: &mut RawClient, count: usize, rank: impl Fn(usize) -> usize) {
    let value = vec![b'v'; 4096];
    for i in 0..count {
        let ttl = (1000 + rank(i)).to_string();
        let reply = client.call(&[
            b"SET".as_slice(),
            format!("v:{i}").as_bytes(),
            &value,
            b"EX",
            ttl.as_bytes(),
        ]);
        assert_eq!(
            reply,
            b"+OK\r\n",
            "v:{i}: {}",
            String::from_utf8_lossy(&reply)
        );
    }
}

fn exists(client: &mut RawClient, key: &str) -> bool {
    client.call(&["EXISTS", key]) == b":1\r\n"
}

#[test]
fn volatile_ttl_evicts_the_nearest_deadlines_and_keeps_keys_without_one() {
    let (_server, mut client) = server_with_room("volatile-ttl", 8 << 20);
    for i in 0..100 {
        assert_eq!(client.call(&["SET", &format!("keep:{i}"), "x"]), b"+OK\r\n");
    }
    let mut events = RawClient::connect(_server.addr());
    client.call(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
    events.call(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    // 40 MB through an 8 MB room: most keys must go, and writes never fail. Deadlines are
    // shuffled against the order of writing, so that evicting old keys is not enough.
    let rank = |i: usize| i * 7_919 % 10_000;
    write_volatile(&mut client, 10_000, rank);
    let evicted: u64 = client.info_field("stats", "evicted_keys").parse().unwrap();
    assert!(evicted > 5_000, "only {evicted} keys evicted");
    assert!((0..100).all(|i| exists(&mut client, &format!("keep:{i}"))));
    let survived = |client: &mut RawClient, ranks: std::ops::Range<usize>| {
        (0..10_000)
            .filter(|&i| ranks.contains(&rank(i)) && exists(client, &format!("v:{i}")))
            .count()
    };
    let nearest = survived(&mut client, 0..2_500);
    let farthest = survived(&mut client, 9_000..10_000);
    assert!(
        nearest < 250,
        "{nearest} of the 2,500 nearest deadlines survived"
    );
    assert!(
        farthest > 700,
        "only {farthest} of the 1,000 farthest deadlines survived"
    );
    let event = events.read_reply();
    assert!(String::from_utf8_lossy(&event).contains("v:"), "{event:?}");
}

#[test]
fn volatile_lru_keeps_the_keys_in_use() {
    let (_server, mut client) = server_with_room("volatile-lru", 8 << 20);
    write_volatile(&mut client, 1_000, |i| i);
    // Keys 0..100 stay in use while 9,000 more arrive.
    let value = vec![b'v'; 4096];
    for i in 1_000..10_000 {
        let reply = client.call(&[
            b"SET".as_slice(),
            format!("v:{i}").as_bytes(),
            &value,
            b"EX",
            b"5000",
        ]);
        assert_eq!(reply, b"+OK\r\n");
        if i % 10 == 0 {
            for hot in 0..100 {
                client.call(&["GET", &format!("v:{hot}")]);
            }
        }
    }
    let hot_left = (0..100)
        .filter(|i| exists(&mut client, &format!("v:{i}")))
        .count();
    let cold_left = (100..1_000)
        .filter(|i| exists(&mut client, &format!("v:{i}")))
        .count();
    assert!(hot_left > 90, "only {hot_left} of 100 keys in use survived");
    assert!(cold_left < 90, "{cold_left} of 900 unused keys survived");
}

#[test]
fn a_volatile_policy_with_nothing_to_evict_answers_oom() {
    let (_server, mut client) = server_with_room("volatile-lru", 1 << 20);
    let value = vec![b'v'; 100 * 1024];
    let refusal = (0..1_000)
        .map(|i| client.call(&[b"SET".as_slice(), format!("k{i}").as_bytes(), &value]))
        .find(|reply| reply != b"+OK\r\n")
        .expect("refused before 100 MB");
    assert_eq!(refusal, OOM);
    assert_eq!(client.info_field("stats", "evicted_keys"), "0");
    assert_eq!(
        client.call(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$12\r\nvolatile-lru\r\n"
    );
    assert_eq!(
        client.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-random, volatile-ttl, noeviction\r\n".to_vec()
    );
}

/// MEMORY USAGE's figure for `key`.
fn memory_usage(client: &mut RawClient, key: &str) -> i64 {
    let reply = client.call(&["MEMORY", "USAGE", key]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.strip_prefix(':')
        .and_then(|n| n.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("MEMORY USAGE {key}: {text}"))
}

#[test]
fn memory_usage_follows_the_size_of_the_value() {
    let server = Server::sessiond(&[]);
    let mut client = RawClient::connect(server.addr());
    client.call(&["SET", "small", "abc"]);
    client.call(&["SET", "large", &"x".repeat(10_000)]);
    let small = memory_usage(&mut client, "small");
    let large = memory_usage(&mut client, "large");
    assert!(small > 3 && small < 200, "a 3-byte string: {small}");
    assert!(
        (10_000..10_000 + 2 * small).contains(&(large - small + 3)),
        "10,000 bytes more: {small} -> {large}"
    );
    let mut hset = vec!["HSET".to_string(), "hash".to_string()];
    for i in 0..100 {
        hset.extend([format!("field{i:03}"), "v".repeat(100)]);
    }
    client.call(&hset);
    let hash = memory_usage(&mut client, "hash");
    assert!(hash > 100 * 108, "100 fields of 108 bytes: {hash}");
    assert_eq!(client.call(&["MEMORY", "USAGE", "nokey"]), b"$-1\r\n");
}
