//! Active expiry: `expired` keyspace events fire when the deadline passes, without anyone
//! touching the keys, and TTL changes (extend, shorten, PERSIST, overwrite) move or cancel
//! them. Lazy expiry, INFO `expired_keys`, DBSIZE and the per-database / keyspace channels
//! are checked too.
//!
//! Timing bounds: a key's deadline lies between "just before the SET was written" + TTL and
//! "when its reply was read" + TTL. An event may not arrive before the first (less 1 ms, the
//! server's clock resolution), and must arrive within [`LATENESS`] of the second. That is
//! generous on purpose: a debug build on a loaded two-core machine.

mod common;

use common::{RawClient, Server, encode_command, escape, frame};
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Latest acceptable arrival of an event after its deadline.
const LATENESS: Duration = Duration::from_millis(200);

/// Slack for the server's millisecond clock when checking "not before the deadline".
const CLOCK_RESOLUTION: Duration = Duration::from_millis(1);

/// A pub/sub message and when this process read it.
#[derive(Debug, Clone)]
struct Event {
    channel: String,
    payload: String,
    at: Instant,
}

/// Subscribes a new connection to `channels` (and `patterns`), waits for every confirmation,
/// then timestamps each message on a background thread as soon as it is read.
fn subscribe(server: &Server, channels: &[&str], patterns: &[&str]) -> Receiver<Event> {
    let mut client = server.raw();
    if !channels.is_empty() {
        let mut args = vec!["SUBSCRIBE"];
        args.extend_from_slice(channels);
        client.send(&args);
        for channel in channels {
            let reply = frame(&client.read_reply());
            assert_eq!(reply.items[0].text(), "subscribe", "{}", escape(&reply.raw));
            assert_eq!(reply.items[1].text(), *channel);
        }
    }
    if !patterns.is_empty() {
        let mut args = vec!["PSUBSCRIBE"];
        args.extend_from_slice(patterns);
        client.send(&args);
        for pattern in patterns {
            let reply = frame(&client.read_reply());
            assert_eq!(
                reply.items[0].text(),
                "psubscribe",
                "{}",
                escape(&reply.raw)
            );
            assert_eq!(reply.items[1].text(), *pattern);
        }
    }
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || read_events(client, tx));
    rx
}

fn read_events(mut client: RawClient, tx: mpsc::Sender<Event>) {
    // Ends when the server goes away (end of the test) or the receiver is dropped.
    while let Ok(bytes) = client.try_read_reply(Duration::from_secs(60)) {
        let at = Instant::now();
        let message = frame(&bytes);
        let texts: Vec<String> = message.items.iter().map(|item| item.text()).collect();
        let event = match texts.first().map(String::as_str) {
            Some("message") if texts.len() == 3 => Event {
                channel: texts[1].clone(),
                payload: texts[2].clone(),
                at,
            },
            Some("pmessage") if texts.len() == 4 => Event {
                channel: texts[2].clone(),
                payload: texts[3].clone(),
                at,
            },
            _ => panic!("unexpected frame on a subscriber: {}", escape(&bytes)),
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}

/// The next event, failing after `timeout`.
fn next_event(events: &Receiver<Event>, timeout: Duration, waiting_for: &str) -> Event {
    match events.recv_timeout(timeout) {
        Ok(event) => event,
        Err(RecvTimeoutError::Timeout) => panic!("no event within {timeout:?} ({waiting_for})"),
        Err(RecvTimeoutError::Disconnected) => panic!("subscriber closed ({waiting_for})"),
    }
}

/// A command's reply plus the instants just before it was sent and when its reply was read.
struct Timed {
    reply: Vec<u8>,
    sent: Instant,
    acked: Instant,
}

fn timed_call(client: &mut RawClient, args: &[&str]) -> Timed {
    let sent = Instant::now();
    let reply = client.call(args);
    Timed {
        reply,
        sent,
        acked: Instant::now(),
    }
}

/// Checks that `event` arrived within the window of a deadline `ttl` after `timed`.
fn assert_on_time(event: &Event, timed: &Timed, ttl: Duration, what: &str) {
    let earliest = timed.sent + ttl - CLOCK_RESOLUTION;
    let latest = timed.acked + ttl + LATENESS;
    assert!(
        event.at >= earliest,
        "{what}: event arrived {:?} before its deadline",
        earliest - event.at
    );
    assert!(
        event.at <= latest,
        "{what}: event arrived {:?} after its deadline (allowed {LATENESS:?})",
        event.at - (timed.acked + ttl)
    );
}

fn expired_keys(client: &mut RawClient) -> u64 {
    client.info_field("stats", "expired_keys").parse().unwrap()
}

/// A server with `notify-keyspace-events` set to `flags`, and a client on it.
fn server_with_events(flags: &str) -> (Server, RawClient) {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    assert_eq!(
        client.call(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        b"+OK\r\n"
    );
    (server, client)
}

const EXPIRED_0: &str = "__keyevent@0__:expired";

#[test]
fn a_thousand_keys_expire_on_time_without_being_read() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[EXPIRED_0], &[]);
    let count = 1000u64;
    // Deadlines spread over one second, written in a scrambled order.
    let ttl_of = |i: u64| Duration::from_millis(200 + (i * 7919) % count);
    let mut batch = Vec::new();
    for i in 0..count {
        let ttl = ttl_of(i).as_millis().to_string();
        batch.extend(encode_command(&[
            "SET",
            &format!("key:{i}"),
            "v",
            "PX",
            &ttl,
        ]));
    }
    let sent = Instant::now();
    client.send_raw(&batch);
    let mut acked = Vec::with_capacity(count as usize);
    for i in 0..count {
        assert_eq!(client.read_reply(), b"+OK\r\n", "SET key:{i}");
        acked.push(Instant::now());
    }
    let last = acked[acked.len() - 1] + Duration::from_millis(1200) + LATENESS;
    let mut arrivals: HashMap<String, Instant> = HashMap::new();
    while arrivals.len() < count as usize {
        let left = (last + Duration::from_secs(2)).saturating_duration_since(Instant::now());
        let event = match events.recv_timeout(left) {
            Ok(event) => event,
            Err(_) => break,
        };
        assert_eq!(event.channel, EXPIRED_0);
        let previous = arrivals.insert(event.payload.clone(), event.at);
        assert!(previous.is_none(), "two events for {}", event.payload);
    }
    let mut missing = Vec::new();
    let mut early = Vec::new();
    let mut late = Vec::new();
    let mut worst = Duration::ZERO;
    for i in 0..count {
        let key = format!("key:{i}");
        let Some(&at) = arrivals.get(&key) else {
            missing.push(key);
            continue;
        };
        let ttl = ttl_of(i);
        if at + CLOCK_RESOLUTION < sent + ttl {
            early.push(format!("{key} {:?} early", sent + ttl - at));
        }
        let deadline = acked[i as usize] + ttl;
        worst = worst.max(at.saturating_duration_since(deadline));
        if at > deadline + LATENESS {
            late.push(format!("{key} {:?} late", at - deadline));
        }
    }
    let unexpected: Vec<&String> = arrivals
        .keys()
        .filter(|key| {
            key.strip_prefix("key:")
                .and_then(|n| n.parse::<u64>().ok())
                .is_none_or(|n| n >= count)
        })
        .collect();
    assert!(
        missing.is_empty() && early.is_empty() && late.is_empty() && unexpected.is_empty(),
        "{} missing (e.g. {:?}), {} early (e.g. {:?}), {} late (e.g. {:?}; worst {worst:?}), unexpected {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        early.len(),
        early.iter().take(5).collect::<Vec<_>>(),
        late.len(),
        late.iter().take(5).collect::<Vec<_>>(),
        unexpected
    );
    assert_eq!(client.call(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn an_extended_ttl_fires_at_the_new_deadline_not_the_old() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[EXPIRED_0], &[]);
    assert_eq!(client.call(&["SET", "k", "v", "PX", "300"]), b"+OK\r\n");
    let extended = timed_call(&mut client, &["PEXPIRE", "k", "900"]);
    assert_eq!(extended.reply, b":1\r\n");
    let sentinel = timed_call(&mut client, &["SET", "sentinel", "v", "PX", "550"]);
    assert_eq!(sentinel.reply, b"+OK\r\n");

    let first = next_event(&events, Duration::from_secs(5), "the sentinel's event");
    assert_eq!(
        first.payload, "sentinel",
        "k must not expire at its old deadline"
    );
    assert_on_time(&first, &sentinel, Duration::from_millis(550), "sentinel");
    let second = next_event(&events, Duration::from_secs(5), "k's event");
    assert_eq!(second.payload, "k");
    assert_on_time(&second, &extended, Duration::from_millis(900), "extended k");
}

#[test]
fn a_shortened_ttl_fires_at_the_earlier_deadline() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[EXPIRED_0], &[]);
    assert_eq!(client.call(&["SET", "k", "v", "PX", "5000"]), b"+OK\r\n");
    let shortened = timed_call(&mut client, &["PEXPIRE", "k", "300"]);
    assert_eq!(shortened.reply, b":1\r\n");
    // A deadline ten years out sits in the wheel's outermost level before it is moved.
    assert_eq!(
        client.call(&["SET", "far", "v", "EX", "315360000"]),
        b"+OK\r\n"
    );
    let far = timed_call(&mut client, &["PEXPIRE", "far", "500"]);
    assert_eq!(far.reply, b":1\r\n");
    let event = next_event(&events, Duration::from_secs(3), "k's event");
    assert_eq!(event.payload, "k");
    assert_on_time(
        &event,
        &shortened,
        Duration::from_millis(300),
        "shortened k",
    );
    let event = next_event(&events, Duration::from_secs(3), "far's event");
    assert_eq!(event.payload, "far");
    assert_on_time(&event, &far, Duration::from_millis(500), "shortened far");
    assert_eq!(client.call(&["EXISTS", "k", "far"]), b":0\r\n");
}

#[test]
fn persist_cancels_the_expiry() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[EXPIRED_0], &[]);
    assert_eq!(client.call(&["SET", "p", "kept", "PX", "200"]), b"+OK\r\n");
    assert_eq!(client.call(&["PERSIST", "p"]), b":1\r\n");
    // 400 ms after p's deadline: by its event, p's would have fired.
    assert_eq!(
        client.call(&["SET", "sentinel", "v", "PX", "600"]),
        b"+OK\r\n"
    );
    let event = next_event(&events, Duration::from_secs(5), "the sentinel's event");
    assert_eq!(event.payload, "sentinel", "PERSIST must cancel p's expiry");
    assert_eq!(client.call(&["GET", "p"]), b"$4\r\nkept\r\n");
    assert_eq!(client.call(&["PTTL", "p"]), b":-1\r\n");
}

#[test]
fn a_plain_set_clears_the_ttl_of_a_set_with_ex() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[EXPIRED_0], &[]);
    assert_eq!(client.call(&["SET", "k", "v1", "EX", "1"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "k", "v2"]), b"+OK\r\n");
    assert_eq!(client.call(&["TTL", "k"]), b":-1\r\n");
    assert_eq!(
        client.call(&["SET", "sentinel", "v", "PX", "1400"]),
        b"+OK\r\n"
    );
    let event = next_event(&events, Duration::from_secs(5), "the sentinel's event");
    assert_eq!(
        event.payload, "sentinel",
        "the overwritten key must not expire"
    );
    assert_eq!(client.call(&["GET", "k"]), b"$2\r\nv2\r\n");
}

#[test]
fn lazy_expiry_hides_keys_past_their_deadline() {
    let (server, mut client) = server_with_events("Ex");
    // Subscribed, but its events are never read: GET must not depend on them.
    let _unread = subscribe(&server, &[EXPIRED_0], &[]);
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend(encode_command(&[
            "SET",
            &format!("lazy:{i}"),
            "v",
            "PX",
            "100",
        ]));
    }
    client.send_raw(&batch);
    for _ in 0..50 {
        assert_eq!(client.read_reply(), b"+OK\r\n");
    }
    let deadline = Instant::now() + Duration::from_millis(100) + CLOCK_RESOLUTION;
    // What is tested is the passing of the deadline itself, so wait for the clock.
    thread::sleep(deadline.saturating_duration_since(Instant::now()));
    let mut gets = Vec::new();
    for i in 0..50 {
        gets.extend(encode_command(&["GET", &format!("lazy:{i}")]));
        gets.extend(encode_command(&["PTTL", &format!("lazy:{i}")]));
    }
    client.send_raw(&gets);
    for i in 0..50 {
        assert_eq!(
            client.read_reply(),
            b"$-1\r\n",
            "GET lazy:{i} after its deadline"
        );
        assert_eq!(
            client.read_reply(),
            b":-2\r\n",
            "PTTL lazy:{i} after its deadline"
        );
    }
}

#[test]
fn expired_keys_and_dbsize_follow_expiry() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[EXPIRED_0], &[]);
    let before = expired_keys(&mut client);
    for i in 0..5 {
        assert_eq!(client.call(&["SET", &format!("stay:{i}"), "v"]), b"+OK\r\n");
    }
    for i in 0..10 {
        assert_eq!(
            client.call(&["SET", &format!("go:{i}"), "v", "PX", "100"]),
            b"+OK\r\n"
        );
    }
    assert_eq!(client.call(&["DBSIZE"]), b":15\r\n");
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.push(next_event(&events, Duration::from_secs(3), "go:* events").payload);
    }
    seen.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("go:{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(client.call(&["DBSIZE"]), b":5\r\n");
    assert_eq!(expired_keys(&mut client), before + 10);
}

#[test]
fn expiry_in_database_3_is_published_on_its_channel() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[], &["__keyevent@*__:expired"]);
    assert_eq!(client.call(&["SELECT", "3"]), b"+OK\r\n");
    let in3 = timed_call(&mut client, &["SET", "k3", "v", "PX", "100"]);
    assert_eq!(in3.reply, b"+OK\r\n");
    assert_eq!(client.call(&["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "k0", "v", "PX", "300"]), b"+OK\r\n");
    let first = next_event(&events, Duration::from_secs(3), "k3's event");
    assert_eq!(
        (first.channel.as_str(), first.payload.as_str()),
        ("__keyevent@3__:expired", "k3")
    );
    assert_on_time(&first, &in3, Duration::from_millis(100), "k3 in db 3");
    let second = next_event(&events, Duration::from_secs(3), "k0's event");
    assert_eq!(
        (second.channel.as_str(), second.payload.as_str()),
        ("__keyevent@0__:expired", "k0")
    );
}

#[test]
fn the_keyspace_channel_gets_expired_with_the_k_flag() {
    let (server, mut client) = server_with_events("Kx");
    let events = subscribe(
        &server,
        &["__keyspace@0__:mykey", "__keyspace@0__:sentinel", EXPIRED_0],
        &[],
    );
    let mykey = timed_call(&mut client, &["SET", "mykey", "v", "PX", "150"]);
    assert_eq!(mykey.reply, b"+OK\r\n");
    assert_eq!(
        client.call(&["SET", "sentinel", "v", "PX", "450"]),
        b"+OK\r\n"
    );
    let first = next_event(&events, Duration::from_secs(3), "mykey's event");
    assert_eq!(
        (first.channel.as_str(), first.payload.as_str()),
        ("__keyspace@0__:mykey", "expired")
    );
    assert_on_time(&first, &mykey, Duration::from_millis(150), "mykey");
    // Without E, nothing may come on the keyevent channel in between.
    let second = next_event(&events, Duration::from_secs(3), "the sentinel's event");
    assert_eq!(
        (second.channel.as_str(), second.payload.as_str()),
        ("__keyspace@0__:sentinel", "expired")
    );
}

#[test]
fn deadlines_follow_keys_through_rename_move_swapdb_and_keepttl() {
    let (server, mut client) = server_with_events("Ex");
    let events = subscribe(&server, &[], &["__keyevent@*__:expired"]);
    let renamed = timed_call(&mut client, &["SET", "old", "v", "PX", "200"]);
    assert_eq!(client.call(&["RENAME", "old", "new"]), b"+OK\r\n");
    let moved = timed_call(&mut client, &["SET", "mover", "v", "PX", "300"]);
    assert_eq!(client.call(&["MOVE", "mover", "3"]), b":1\r\n");
    assert_eq!(client.call(&["SELECT", "1"]), b"+OK\r\n");
    let swapped = timed_call(&mut client, &["SET", "swapped", "v", "PX", "400"]);
    assert_eq!(client.call(&["SWAPDB", "1", "2"]), b"+OK\r\n");
    assert_eq!(client.call(&["SELECT", "0"]), b"+OK\r\n");
    let kept = timed_call(&mut client, &["SET", "kept", "v1", "PX", "500"]);
    assert_eq!(client.call(&["SET", "kept", "v2", "KEEPTTL"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "getex", "v", "PX", "250"]), b"+OK\r\n");
    assert_eq!(client.call(&["GETEX", "getex", "PERSIST"]), b"$1\r\nv\r\n");

    for (channel, key, timed, ttl) in [
        ("__keyevent@0__:expired", "new", &renamed, 200),
        ("__keyevent@3__:expired", "mover", &moved, 300),
        ("__keyevent@2__:expired", "swapped", &swapped, 400),
        ("__keyevent@0__:expired", "kept", &kept, 500),
    ] {
        let event = next_event(&events, Duration::from_secs(3), key);
        assert_eq!(
            (event.channel.as_str(), event.payload.as_str()),
            (channel, key),
            "events in deadline order; GETEX PERSIST cancelled getex's"
        );
        assert_on_time(&event, timed, Duration::from_millis(ttl), key);
    }
    assert_eq!(client.call(&["GET", "getex"]), b"$1\r\nv\r\n");
}
