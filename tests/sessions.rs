//! SESSION.* commands over real TCP (all but SESSION.NAMESPACE): every command, option and
//! error of DESIGN.md §1, in RESP2 and RESP3, plus caps under concurrency, idle and absolute
//! expiry on the timing wheel, and the lifecycle events.
//!
//! Each test starts its own server with the policy it needs (`--namespace default option
//! value ...`). Timeouts are 1 second; waits for expiry await the `expired` event instead of
//! sleeping, and the few sleeps left are where time itself must pass (idleness).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Frame, RawClient, SESSION_EVENTS, Server, escape, frame};

/// Latest acceptable arrival of an expiry event after its deadline (debug build, busy box).
const LATENESS: Duration = Duration::from_millis(300);

/// Slack for the server's millisecond clock when checking "not before the deadline".
const CLOCK_RESOLUTION: Duration = Duration::from_millis(1);

/// How long to wait for an event that should come at once (no deadline involved).
const PROMPTLY: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A server whose `default` namespace has the policy `options` (`name value ...`).
fn start(options: &[&str]) -> Server {
    let mut args = vec!["--namespace", "default"];
    args.extend_from_slice(options);
    Server::sessiond(&args)
}

/// A raw client that parses replies; `resp3` clients have sent `HELLO 3`.
struct Client {
    raw: RawClient,
}

impl Client {
    fn new(server: &Server) -> Client {
        Client { raw: server.raw() }
    }

    fn resp3(server: &Server) -> Client {
        let mut client = Client::new(server);
        let hello = client.call(&["HELLO", "3"]);
        assert_eq!(hello.kind, b'%', "HELLO 3: {}", escape(&hello.raw));
        client
    }

    fn call(&mut self, args: &[&str]) -> Frame {
        frame(&self.raw.call(args))
    }

    /// `SESSION.CREATE args...`; checks the reply is a well-formed id and returns it.
    fn create(&mut self, args: &[&str]) -> String {
        let mut command = vec!["SESSION.CREATE"];
        command.extend_from_slice(args);
        let reply = self.call(&command);
        assert_eq!(reply.kind, b'$', "{command:?}: {}", escape(&reply.raw));
        let id = reply.text();
        assert_uuid_v4(&id);
        id
    }

    fn int(&mut self, args: &[&str]) -> i64 {
        let reply = self.call(args);
        reply
            .integer()
            .unwrap_or_else(|| panic!("{args:?}: expected an integer, got {}", escape(&reply.raw)))
    }

    /// The error text of `args` (without the leading `-`).
    fn error(&mut self, args: &[&str]) -> String {
        let reply = self.call(args);
        assert!(
            reply.is_error(),
            "{args:?}: expected an error, got {}",
            escape(&reply.raw)
        );
        reply.text()
    }

    fn nil(&mut self, args: &[&str]) {
        let reply = self.call(args);
        assert!(
            reply.is_null(),
            "{args:?}: expected nil, got {}",
            escape(&reply.raw)
        );
    }

    fn bulk(&mut self, args: &[&str]) -> String {
        let reply = self.call(args);
        assert_eq!(reply.kind, b'$', "{args:?}: {}", escape(&reply.raw));
        assert!(!reply.null, "{args:?}: unexpected nil");
        reply.text()
    }

    /// SESSION.INFO as name → value; panics when nil.
    fn info(&mut self, id: &str) -> HashMap<String, Frame> {
        let reply = self.call(&["SESSION.INFO", id]);
        assert!(!reply.is_null(), "SESSION.INFO {id}: nil");
        pairs(&reply).into_iter().collect()
    }

    /// The `end_reason` of an ended session.
    fn end_reason(&mut self, id: &str) -> String {
        let info = self.info(id);
        assert_eq!(info["state"].text(), "ended", "{id}");
        info["end_reason"].text()
    }

    fn stats(&mut self) -> HashMap<String, i64> {
        let reply = self.call(&["SESSION.STATS"]);
        pairs(&reply)
            .into_iter()
            .map(|(name, value)| {
                let n = value
                    .integer()
                    .unwrap_or_else(|| panic!("{name} is not an integer"));
                (name, n)
            })
            .collect()
    }

    fn list(&mut self, user: &str) -> Vec<String> {
        let reply = self.call(&["SESSION.LIST", user]);
        assert_eq!(reply.kind, b'*', "{}", escape(&reply.raw));
        reply.items.iter().map(Frame::text).collect()
    }

    /// SESSION.GET/PEEK without fields, as `(name, value)` in the server's order.
    fn fields(&mut self, command: &str, id: &str) -> Vec<(String, String)> {
        let reply = self.call(&[command, id]);
        pairs(&reply)
            .into_iter()
            .map(|(name, value)| (name, value.text()))
            .collect()
    }
}

/// The pairs of a RESP3 map or a RESP2 flat array of pairs.
fn pairs(reply: &Frame) -> Vec<(String, Frame)> {
    assert!(
        matches!(reply.kind, b'%' | b'*') && reply.items.len().is_multiple_of(2),
        "not a map: {}",
        escape(&reply.raw)
    );
    reply
        .items
        .chunks_exact(2)
        .map(|pair| (pair[0].text(), pair[1].clone()))
        .collect()
}

/// Lower-case hyphenated UUID, version 4, RFC 4122 variant.
fn assert_uuid_v4(id: &str) {
    let bytes = id.as_bytes();
    let ok = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
        && bytes[14] == b'4'
        && b"89ab".contains(&bytes[19]);
    assert!(ok, "not a lower-case hyphenated UUID v4: {id:?}");
}

/// Unix milliseconds now, on the clock the server uses.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Parses an RFC 3339 UTC time (with `Z`) to Unix ms.
fn rfc3339_ms(value: &Frame) -> i64 {
    let text = value.text();
    assert!(text.ends_with('Z'), "not UTC: {text:?}");
    chrono::DateTime::parse_from_rfc3339(&text)
        .unwrap_or_else(|e| panic!("not RFC 3339: {text:?}: {e}"))
        .timestamp_millis()
}

/// Lifecycle events of namespace `default` as `(event, payload, arrival)`.
struct Events {
    rx: Receiver<(String, String, Instant)>,
}

/// Subscribes a new connection to `__session@default__:EVENT` for each of `events`, waits for
/// the confirmations, then timestamps each message on a background thread.
fn subscribe(server: &Server, events: &[&str]) -> Events {
    let mut raw = server.raw();
    let channels: Vec<String> = events
        .iter()
        .map(|event| format!("__session@default__:{event}"))
        .collect();
    let mut command = vec!["SUBSCRIBE"];
    command.extend(channels.iter().map(String::as_str));
    raw.send(&command);
    for channel in &channels {
        let reply = frame(&raw.read_reply());
        assert_eq!(reply.items[0].text(), "subscribe", "{}", escape(&reply.raw));
        assert_eq!(&reply.items[1].text(), channel);
    }
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        while let Ok(bytes) = raw.try_read_reply(Duration::from_secs(60)) {
            let at = Instant::now();
            let message = frame(&bytes);
            let texts: Vec<String> = message.items.iter().map(Frame::text).collect();
            assert!(
                texts.len() == 3 && texts[0] == "message",
                "unexpected frame on a subscriber: {}",
                escape(&bytes)
            );
            let event = texts[1]
                .strip_prefix("__session@default__:")
                .unwrap_or_else(|| panic!("unexpected channel {}", texts[1]))
                .to_string();
            if tx.send((event, texts[2].clone(), at)).is_err() {
                return;
            }
        }
    });
    Events { rx }
}

impl Events {
    /// The next event; fails after `timeout`.
    fn next(&self, timeout: Duration, waiting_for: &str) -> (String, String, Instant) {
        match self.rx.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => panic!("no event within {timeout:?} ({waiting_for})"),
            Err(RecvTimeoutError::Disconnected) => panic!("subscriber closed ({waiting_for})"),
        }
    }

    /// The next event must be `event` with `payload`; returns when it arrived.
    fn expect(&self, event: &str, payload: &str, timeout: Duration) -> Instant {
        let (got, got_payload, at) = self.next(timeout, event);
        assert_eq!(
            (got.as_str(), got_payload.as_str()),
            (event, payload),
            "expected {event} {payload}"
        );
        at
    }

    /// No event may be pending now.
    fn assert_none_pending(&self) {
        if let Ok(event) = self.rx.try_recv() {
            panic!("unexpected event {event:?}");
        }
    }
}

/// An id that parses but names no session.
const UNKNOWN: &str = "0b5cbd4e-7d0a-4c65-9a4e-2f1c1d6b2a10";

// ---------------------------------------------------------------------------------------------
// SESSION.CREATE
// ---------------------------------------------------------------------------------------------

/// Ids are lower-case hyphenated UUID v4 and never repeat.
#[test]
fn create_returns_distinct_uuid_v4_ids() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let ids: HashSet<String> = (0..200).map(|_| client.create(&["alice"])).collect();
    assert_eq!(ids.len(), 200);
    assert_eq!(client.int(&["SESSION.COUNT", "alice"]), 200);
}

/// IDLE and ABSOLUTE come in any order (and any case) before DATA; a repeated field name keeps
/// its last value and counts once; DATA takes every argument after it.
#[test]
fn create_options_in_any_order_and_duplicate_fields() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let before = now_ms();
    let a = client.create(&[
        "u", "IDLE", "5", "ABSOLUTE", "7", "DATA", "a", "1", "b", "2", "a", "3",
    ]);
    let b = client.create(&["u", "absolute", "7", "idle", "5"]);
    let after = now_ms();
    for id in [&a, &b] {
        let info = client.info(id);
        let created = rfc3339_ms(&info["created_at"]);
        assert!((before..=after).contains(&created), "created_at {created}");
        assert_eq!(info["idle_timeout"].integer(), Some(5));
        assert_eq!(rfc3339_ms(&info["absolute_deadline"]), created + 7000);
        assert_eq!(rfc3339_ms(&info["expires_at"]), created + 5000);
        let ttl = client.int(&["SESSION.TTL", id]);
        assert!((4000..=5000).contains(&ttl), "TTL {ttl}");
    }
    assert_eq!(
        client.fields("SESSION.GET", &a),
        [("a".into(), "3".into()), ("b".into(), "2".into())]
    );
    let info = client.info(&a);
    assert_eq!(info["fields"].integer(), Some(2));
    assert_eq!(info["bytes"].integer(), Some(4));
    assert_eq!(client.info(&b)["fields"].integer(), Some(0));
    // After DATA, option names are field names.
    let c = client.create(&["u", "DATA", "k", "v", "IDLE", "9"]);
    assert_eq!(
        client.fields("SESSION.PEEK", &c),
        [("k".into(), "v".into()), ("IDLE".into(), "9".into())]
    );
    assert_eq!(
        client.info(&c)["idle_timeout"].integer(),
        Some(1800),
        "the policy's"
    );
    // DATA with no pairs is an empty session.
    let d = client.create(&["u", "DATA"]);
    assert!(client.fields("SESSION.GET", &d).is_empty());
}

/// Malformed CREATEs answer the exact error and create nothing.
#[test]
fn create_errors_create_nothing() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let arity = "ERR wrong number of arguments for 'session.create' command";
    let cases: &[(&[&str], &str)] = &[
        (&["SESSION.CREATE"], arity),
        (&["SESSION.CREATE", "u", "DATA", "a"], arity),
        (&["SESSION.CREATE", "u", "DATA", "a", "1", "b"], arity),
        (
            &["SESSION.CREATE", "u", "IDLE", "abc"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["SESSION.CREATE", "u", "IDLE", "-1"],
            "ERR invalid IDLE timeout in 'session.create' command",
        ),
        (
            &["SESSION.CREATE", "u", "ABSOLUTE", "99999999999"],
            "ERR invalid ABSOLUTE timeout in 'session.create' command",
        ),
        (&["SESSION.CREATE", "u", "IDLE"], "ERR syntax error"),
        (
            &["SESSION.CREATE", "u", "COLOUR", "red"],
            "ERR syntax error",
        ),
        (
            &["SESSION.CREATE", "u", "IDLE", "5", "extra"],
            "ERR syntax error",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(client.error(args), *expected, "{args:?}");
    }
    assert_eq!(client.int(&["SESSION.COUNT"]), 0);
    assert_eq!(client.int(&["SESSION.COUNT", "u"]), 0);
    assert_eq!(client.stats()["created_total"], 0);
}

/// Anonymous sessions (`""`) count against no cap and belong to no user.
#[test]
fn create_anonymous_sessions_have_no_cap() {
    let server = start(&["max-sessions-per-user", "1", "on-limit", "reject"]);
    let mut client = Client::new(&server);
    let ids: Vec<String> = (0..5).map(|_| client.create(&[""])).collect();
    for id in &ids {
        assert_eq!(client.info(id)["user"].text(), "");
        assert_eq!(client.info(id)["state"].text(), "active");
    }
    assert_eq!(client.int(&["SESSION.COUNT"]), 5);
    let stats = client.stats();
    assert_eq!((stats["active"], stats["users_active"]), (5, 0));
    assert_eq!(stats["evicted_total"], 0);
}

/// A session with tens of thousands of fields is built, read and changed like a small one
/// (field names are merged through a hash map past a few, never by a quadratic scan).
#[test]
fn sessions_with_many_fields_work() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let names: Vec<String> = (0..20_000).map(|i| format!("field{i}")).collect();
    let mut args = vec!["u", "DATA"];
    for name in &names {
        args.extend([name.as_str(), "v"]);
    }
    args.extend(["field7", "last"]);
    let id = client.create(&args);
    assert_eq!(client.call(&["SESSION.GET", &id]).items.len(), 40_000);
    assert_eq!(
        client.int(&["SESSION.SET", &id, "field19999", "x", "new", "y"]),
        2
    );
    let reply = client.call(&["SESSION.GET", &id, "field7", "field19999", "new"]);
    let values: Vec<String> = reply.items.iter().map(Frame::text).collect();
    assert_eq!(values, ["last", "x", "y"]);
}

/// Data over `max-session-bytes` (names plus values, a repeated name once) is refused and
/// nothing is created; exactly the limit is fine.
#[test]
fn create_over_max_session_bytes_is_refused() {
    let server = start(&["max-session-bytes", "10"]);
    let mut client = Client::new(&server);
    client.create(&["u", "DATA", "k", "123456789"]);
    client.create(&["u", "DATA", "k", "123456789", "k", "1"]);
    assert_eq!(
        client.error(&["SESSION.CREATE", "u", "DATA", "k", "1234567890"]),
        "ERR session data would be 11 bytes, over max-session-bytes (10)"
    );
    assert_eq!(
        client.error(&["SESSION.CREATE", "u", "DATA", "a", "12345", "b", "1234"]),
        "ERR session data would be 11 bytes, over max-session-bytes (10)"
    );
    assert_eq!(client.int(&["SESSION.COUNT", "u"]), 2);
    assert_eq!(client.stats()["created_total"], 2);
}

/// With `on-limit reject`, a CREATE over the cap is `-SESSIONLIMIT` and changes nothing;
/// other users are unaffected, and ending a session makes room again.
#[test]
fn create_over_cap_with_reject_is_sessionlimit() {
    let server = start(&["max-sessions-per-user", "2", "on-limit", "reject"]);
    let mut client = Client::new(&server);
    let a = client.create(&["bob"]);
    let b = client.create(&["bob"]);
    assert_eq!(
        client.error(&["SESSION.CREATE", "bob", "DATA", "k", "v"]),
        "SESSIONLIMIT user has reached max-sessions-per-user (2)"
    );
    assert_eq!(client.list("bob"), [a.clone(), b.clone()]);
    client.create(&["alice"]);
    assert_eq!(client.int(&["SESSION.END", &a]), 1);
    let c = client.create(&["bob"]);
    assert_eq!(client.list("bob"), [b, c]);
    let stats = client.stats();
    assert_eq!(stats["created_total"], 4);
    assert_eq!(stats["evicted_total"], 0);
}

/// With `on-limit evict-oldest`, a CREATE over the cap ends the oldest (reason `evicted`).
#[test]
fn create_over_cap_evicts_the_oldest() {
    let server = start(&["max-sessions-per-user", "2"]);
    let mut client = Client::new(&server);
    let a = client.create(&["bob"]);
    let b = client.create(&["bob"]);
    let c = client.create(&["bob"]);
    assert_eq!(client.list("bob"), [b.clone(), c.clone()]);
    assert_eq!(client.end_reason(&a), "evicted");
    client.nil(&["SESSION.GET", &a]);
    let d = client.create(&["bob"]);
    assert_eq!(client.list("bob"), [c, d]);
    assert_eq!(client.end_reason(&b), "evicted");
    let stats = client.stats();
    assert_eq!((stats["active"], stats["evicted_total"]), (2, 2));
    assert_eq!(
        stats["peak_active"], 2,
        "the cap is never exceeded, even briefly"
    );
}

// ---------------------------------------------------------------------------------------------
// SESSION.GET / SESSION.PEEK
// ---------------------------------------------------------------------------------------------

/// Without fields: a RESP2 flat array or a RESP3 map, in first-set order; empty when the
/// session has no fields.
#[test]
fn get_all_fields_is_flat_array_in_resp2_and_map_in_resp3() {
    let server = start(&[]);
    let mut resp2 = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let id = resp2.create(&["u", "DATA", "a", "1", "b", "22"]);
    let empty = resp2.create(&["u"]);
    let flat = b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$2\r\n22\r\n";
    let map = b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$2\r\n22\r\n";
    for command in ["SESSION.GET", "SESSION.PEEK"] {
        assert_eq!(resp2.raw.call(&[command, &id]), flat, "{command}");
        assert_eq!(resp3.raw.call(&[command, &id]), map, "{command}");
        assert_eq!(resp2.raw.call(&[command, &empty]), b"*0\r\n", "{command}");
        assert_eq!(resp3.raw.call(&[command, &empty]), b"%0\r\n", "{command}");
    }
}

/// With fields: an array in the order asked, nil where a field is absent.
#[test]
fn get_named_fields_is_array_with_nil_for_absent() {
    let server = start(&[]);
    let mut resp2 = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let id = resp2.create(&["u", "DATA", "a", "1", "b", "2"]);
    for command in ["SESSION.GET", "SESSION.PEEK"] {
        assert_eq!(
            resp2.raw.call(&[command, &id, "b", "zz", "a"]),
            b"*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            resp3.raw.call(&[command, &id, "b", "zz", "a"]),
            b"*3\r\n$1\r\n2\r\n_\r\n$1\r\n1\r\n"
        );
        assert_eq!(resp2.raw.call(&[command, &id, "zz"]), b"*1\r\n$-1\r\n");
    }
}

/// Unknown, malformed and ended ids read as nil (`$-1` / `_`).
#[test]
fn get_and_peek_are_nil_without_an_active_session() {
    let server = start(&[]);
    let mut resp2 = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let ended = resp2.create(&["u", "DATA", "a", "1"]);
    assert_eq!(resp2.int(&["SESSION.END", &ended]), 1);
    let garbage = ended.replace('-', "");
    for command in ["SESSION.GET", "SESSION.PEEK"] {
        for id in [UNKNOWN, "garbage", "", &garbage, &ended] {
            assert_eq!(
                resp2.raw.call(&[command, id]),
                b"$-1\r\n",
                "{command} {id:?}"
            );
            assert_eq!(resp3.raw.call(&[command, id]), b"_\r\n", "{command} {id:?}");
            assert_eq!(
                resp2.raw.call(&[command, id, "a"]),
                b"$-1\r\n",
                "{command} {id:?} a"
            );
        }
    }
}

/// GET moves the idle deadline (TTL goes back up, last_access moves); PEEK does not.
#[test]
fn get_refreshes_the_idle_deadline_and_peek_does_not() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "IDLE", "1", "ABSOLUTE", "0", "DATA", "a", "1"]);
    let created = rfc3339_ms(&client.info(&id)["created_at"]);
    // Idleness needs time to pass.
    thread::sleep(Duration::from_millis(300));
    client.call(&["SESSION.PEEK", &id]);
    client.call(&["SESSION.PEEK", &id, "a"]);
    let ttl = client.int(&["SESSION.TTL", &id]);
    assert!((0..=700).contains(&ttl), "PEEK refreshed: TTL {ttl}");
    assert_eq!(rfc3339_ms(&client.info(&id)["last_access"]), created);
    client.call(&["SESSION.GET", &id, "a"]);
    let ttl = client.int(&["SESSION.TTL", &id]);
    assert!(
        (900..=1000).contains(&ttl),
        "GET did not refresh: TTL {ttl}"
    );
    let info = client.info(&id);
    let last_access = rfc3339_ms(&info["last_access"]);
    assert!(last_access >= created + 300, "last_access {last_access}");
    assert_eq!(rfc3339_ms(&info["expires_at"]), last_access + 1000);
}

// ---------------------------------------------------------------------------------------------
// SESSION.SET / SESSION.CAS / SESSION.UNSET
// ---------------------------------------------------------------------------------------------

/// Each change bumps the version by exactly one and is visible to GET.
#[test]
fn set_cas_unset_bump_the_version_by_one() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "DATA", "a", "0"]);
    assert_eq!(client.info(&id)["version"].integer(), Some(1));
    assert_eq!(client.int(&["SESSION.SET", &id, "a", "1"]), 2);
    assert_eq!(client.int(&["SESSION.SET", &id, "a", "2", "b", "3"]), 3);
    assert_eq!(client.int(&["SESSION.UNSET", &id, "a", "nope"]), 4);
    assert_eq!(
        client.int(&["SESSION.CAS", &id, "4", "c", "5", "b", "6"]),
        5
    );
    assert_eq!(
        client.fields("SESSION.GET", &id),
        [("b".into(), "6".into()), ("c".into(), "5".into())]
    );
    let info = client.info(&id);
    assert_eq!(info["version"].integer(), Some(5));
    assert_eq!(
        (info["fields"].integer(), info["bytes"].integer()),
        (Some(2), Some(4))
    );
}

/// CAS with a stale (or future) version is `-CONFLICT current version is N` and changes
/// nothing.
#[test]
fn cas_with_a_stale_version_conflicts_and_changes_nothing() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "DATA", "a", "1"]);
    assert_eq!(client.int(&["SESSION.SET", &id, "a", "2"]), 2);
    for stale in ["1", "3", "0"] {
        assert_eq!(
            client.error(&["SESSION.CAS", &id, stale, "a", "X"]),
            "CONFLICT current version is 2"
        );
    }
    assert_eq!(
        client.fields("SESSION.PEEK", &id),
        [("a".into(), "2".into())]
    );
    assert_eq!(client.info(&id)["version"].integer(), Some(2));
    assert_eq!(client.int(&["SESSION.CAS", &id, "2", "a", "3"]), 3);
}

/// Changes to unknown, malformed or ended sessions answer nil (a CAS too, whatever version).
#[test]
fn set_cas_unset_are_nil_without_an_active_session() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let ended = client.create(&["u"]);
    assert_eq!(client.int(&["SESSION.END", &ended]), 1);
    for id in [UNKNOWN, "garbage", &ended] {
        client.nil(&["SESSION.SET", id, "a", "1"]);
        client.nil(&["SESSION.CAS", id, "1", "a", "1"]);
        client.nil(&["SESSION.CAS", id, "7", "a", "1"]);
        client.nil(&["SESSION.UNSET", id, "a"]);
    }
    assert_eq!(client.info(&ended)["version"].integer(), Some(1));
}

/// Argument errors of SET, CAS and UNSET.
#[test]
fn set_cas_unset_argument_errors() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let id = client.create(&["u"]);
    let arity = |command: &str| format!("ERR wrong number of arguments for '{command}' command");
    assert_eq!(
        client.error(&["SESSION.SET", &id, "a"]),
        arity("session.set")
    );
    assert_eq!(
        client.error(&["SESSION.SET", &id, "a", "1", "b"]),
        arity("session.set")
    );
    assert_eq!(
        client.error(&["SESSION.CAS", &id, "1", "a"]),
        arity("session.cas")
    );
    assert_eq!(
        client.error(&["SESSION.CAS", &id, "1", "a", "1", "b"]),
        arity("session.cas")
    );
    assert_eq!(
        client.error(&["SESSION.UNSET", &id]),
        arity("session.unset")
    );
    for version in ["x", "-1", "1.5"] {
        assert_eq!(
            client.error(&["SESSION.CAS", &id, version, "a", "1"]),
            "ERR value is not an integer or out of range"
        );
    }
    assert_eq!(client.info(&id)["version"].integer(), Some(1));
}

/// SET and CAS that would take the data over `max-session-bytes` are refused and change
/// nothing; shrinking is always allowed.
#[test]
fn set_over_max_session_bytes_is_refused() {
    let server = start(&["max-session-bytes", "10"]);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "DATA", "k", "12345"]);
    assert_eq!(client.int(&["SESSION.SET", &id, "k", "123456789"]), 2);
    assert_eq!(
        client.error(&["SESSION.SET", &id, "k2", "x"]),
        "ERR session data would be 13 bytes, over max-session-bytes (10)"
    );
    assert_eq!(
        client.error(&["SESSION.CAS", &id, "2", "k", "1234567890"]),
        "ERR session data would be 11 bytes, over max-session-bytes (10)"
    );
    assert_eq!(
        client.fields("SESSION.PEEK", &id),
        [("k".into(), "123456789".into())]
    );
    assert_eq!(client.info(&id)["version"].integer(), Some(2));
    assert_eq!(client.int(&["SESSION.SET", &id, "k", "1"]), 3);
}

// ---------------------------------------------------------------------------------------------
// SESSION.TOUCH / SESSION.TTL
// ---------------------------------------------------------------------------------------------

/// TTL and TOUCH answer milliseconds to the nearer deadline, -1 without any, -2 without an
/// active session.
#[test]
fn ttl_and_touch_in_milliseconds() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let idle = client.create(&["u", "IDLE", "1", "ABSOLUTE", "5"]);
    let absolute = client.create(&["u", "IDLE", "5", "ABSOLUTE", "1"]);
    let policy = client.create(&["u"]);
    let forever = client.create(&["u", "IDLE", "0", "ABSOLUTE", "0"]);
    let ended = client.create(&["u"]);
    client.int(&["SESSION.END", &ended]);
    for command in ["SESSION.TTL", "SESSION.TOUCH"] {
        for id in [&idle, &absolute] {
            let ttl = client.int(&[command, id]);
            assert!((800..=1000).contains(&ttl), "{command} {id}: {ttl}");
        }
        let ttl = client.int(&[command, &policy]);
        assert!(
            (1_799_000..=1_800_000).contains(&ttl),
            "{command} policy: {ttl}"
        );
        assert_eq!(client.int(&[command, &forever]), -1);
        for id in [UNKNOWN, "garbage", &ended] {
            assert_eq!(client.int(&[command, id]), -2, "{command} {id}");
        }
    }
    let arity = "ERR wrong number of arguments for 'session.ttl' command";
    assert_eq!(client.error(&["SESSION.TTL", &idle, "x"]), arity);
    assert!(client.info(&forever)["expires_at"].is_null());
}

/// TOUCH refreshes the idle deadline; TTL does not.
#[test]
fn touch_refreshes_and_ttl_does_not() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "IDLE", "1", "ABSOLUTE", "0"]);
    thread::sleep(Duration::from_millis(300));
    let ttl = client.int(&["SESSION.TTL", &id]);
    assert!((0..=700).contains(&ttl), "TTL {ttl}");
    let ttl = client.int(&["SESSION.TTL", &id]);
    assert!(ttl <= 700, "TTL refreshed: {ttl}");
    let touched = client.int(&["SESSION.TOUCH", &id]);
    assert!((950..=1000).contains(&touched), "TOUCH {touched}");
}

// ---------------------------------------------------------------------------------------------
// SESSION.INFO
// ---------------------------------------------------------------------------------------------

const ACTIVE_FIELDS: [&str; 11] = [
    "id",
    "user",
    "state",
    "created_at",
    "last_access",
    "expires_at",
    "idle_timeout",
    "absolute_deadline",
    "version",
    "fields",
    "bytes",
];

const ENDED_FIELDS: [&str; 4] = ["ended_at", "duration_ms", "end_reason", "recoverable_until"];

/// An active session's INFO has every field of DESIGN, RFC 3339 UTC times, a RESP3 map or a
/// RESP2 flat array.
#[test]
fn info_of_an_active_session() {
    let server = start(&[]);
    let mut resp2 = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let before = now_ms();
    let id = resp2.create(&[
        "alice", "IDLE", "60", "ABSOLUTE", "120", "DATA", "ab", "cde",
    ]);
    let after = now_ms();
    let map = resp3.call(&["SESSION.INFO", &id]);
    assert_eq!(map.kind, b'%');
    let flat = resp2.call(&["SESSION.INFO", &id]);
    assert_eq!(flat.kind, b'*');
    for reply in [map, flat] {
        let info = pairs(&reply);
        let names: Vec<&str> = info.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ACTIVE_FIELDS);
        let info: HashMap<String, Frame> = info.into_iter().collect();
        assert_eq!(info["id"].text(), id);
        assert_eq!(info["user"].text(), "alice");
        assert_eq!(info["state"].text(), "active");
        let created = rfc3339_ms(&info["created_at"]);
        assert!((before..=after).contains(&created), "created_at {created}");
        assert_eq!(rfc3339_ms(&info["last_access"]), created);
        assert_eq!(rfc3339_ms(&info["expires_at"]), created + 60_000);
        assert_eq!(info["idle_timeout"].integer(), Some(60));
        assert_eq!(rfc3339_ms(&info["absolute_deadline"]), created + 120_000);
        assert_eq!(info["version"].integer(), Some(1));
        assert_eq!(info["fields"].integer(), Some(1));
        assert_eq!(info["bytes"].integer(), Some(5));
    }
    // Without an absolute deadline, the idle one is the expiry; without either, none.
    let no_abs = resp2.create(&["alice", "IDLE", "60", "ABSOLUTE", "0"]);
    let info = resp2.info(&no_abs);
    assert!(info["absolute_deadline"].is_null());
    assert_eq!(
        rfc3339_ms(&info["expires_at"]),
        rfc3339_ms(&info["created_at"]) + 60_000
    );
    let abs_nearer = resp2.create(&["alice", "IDLE", "60", "ABSOLUTE", "30"]);
    let info = resp2.info(&abs_nearer);
    assert_eq!(info["expires_at"], info["absolute_deadline"]);
    resp2.nil(&["SESSION.INFO", UNKNOWN]);
    resp2.nil(&["SESSION.INFO", "garbage"]);
    assert_eq!(resp3.raw.call(&["SESSION.INFO", UNKNOWN]), b"_\r\n");
}

/// An ended session's INFO adds ended_at, duration_ms, end_reason and recoverable_until, and
/// has no expiry.
#[test]
fn info_of_an_ended_session() {
    let server = start(&["recovery-window", "60"]);
    let mut resp2 = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let id = resp2.create(&["alice", "DATA", "k", "v"]);
    resp2.int(&["SESSION.SET", &id, "k", "w"]);
    let before = now_ms();
    assert_eq!(resp2.int(&["SESSION.END", &id]), 1);
    let after = now_ms();
    let map = resp3.call(&["SESSION.INFO", &id]);
    assert_eq!(map.kind, b'%');
    assert_eq!(
        map.items.len(),
        2 * (ACTIVE_FIELDS.len() + ENDED_FIELDS.len())
    );
    for reply in [map, resp2.call(&["SESSION.INFO", &id])] {
        let info = pairs(&reply);
        let names: Vec<&str> = info.iter().map(|(name, _)| name.as_str()).collect();
        let expected: Vec<&str> = ACTIVE_FIELDS.iter().chain(&ENDED_FIELDS).copied().collect();
        assert_eq!(names, expected);
        let info: HashMap<String, Frame> = info.into_iter().collect();
        assert_eq!(info["state"].text(), "ended");
        assert_eq!(info["end_reason"].text(), "ended");
        assert!(info["expires_at"].is_null());
        assert_eq!(info["version"].integer(), Some(2));
        let created = rfc3339_ms(&info["created_at"]);
        let ended_at = rfc3339_ms(&info["ended_at"]);
        assert!((before..=after).contains(&ended_at), "ended_at {ended_at}");
        assert_eq!(info["duration_ms"].integer(), Some(ended_at - created));
        assert_eq!(rfc3339_ms(&info["recoverable_until"]), ended_at + 60_000);
    }
}

/// end_reason tells how a session ended: ended, expired, evicted, cleanup.
#[test]
fn info_end_reasons() {
    let server = start(&["max-sessions-per-user", "1"]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["expired"]);
    let ended = client.create(&["a"]);
    client.int(&["SESSION.END", &ended]);
    let expired = client.create(&["b", "IDLE", "1"]);
    let evicted = client.create(&["c"]);
    client.create(&["c"]);
    let cleaned = client.create(&["d"]);
    assert_eq!(client.int(&["SESSION.ENDALL", "nobody"]), 0);
    events.expect(
        "expired",
        &expired,
        Duration::from_secs(1) + LATENESS + LATENESS,
    );
    // CLEANUP FORCE ends every active session: here c's second one and d's.
    assert_eq!(client.int(&["SESSION.CLEANUP", "FORCE"]), 2);
    assert_eq!(client.end_reason(&ended), "ended");
    assert_eq!(client.end_reason(&expired), "expired");
    assert_eq!(client.end_reason(&evicted), "evicted");
    assert_eq!(client.end_reason(&cleaned), "cleanup");
}

// ---------------------------------------------------------------------------------------------
// SESSION.END / SESSION.ROTATE
// ---------------------------------------------------------------------------------------------

/// END answers 1 for an active session, then 0; the session is gone for reads.
#[test]
fn end_once() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let id = client.create(&["u"]);
    let other = client.create(&["u"]);
    assert_eq!(client.int(&["SESSION.END", &id]), 1);
    assert_eq!(client.int(&["SESSION.END", &id]), 0);
    assert_eq!(client.int(&["SESSION.END", UNKNOWN]), 0);
    assert_eq!(client.int(&["SESSION.END", "garbage"]), 0);
    client.nil(&["SESSION.GET", &id]);
    assert_eq!(client.int(&["SESSION.TTL", &id]), -2);
    assert_eq!(client.list("u"), [other]);
    assert_eq!(client.int(&["SESSION.COUNT"]), 1);
    assert_eq!(client.stats()["ended_total"], 1);
}

/// ROTATE gives a new id with the same user, data, version and created_at; the old id is
/// dead at once for every command, RECOVER included.
#[test]
fn rotate_moves_the_session_and_kills_the_old_id() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let old = client.create(&["alice", "IDLE", "60", "ABSOLUTE", "120", "DATA", "a", "1"]);
    client.int(&["SESSION.SET", &old, "b", "2"]);
    let before = client.info(&old);
    let new = client.bulk(&["SESSION.ROTATE", &old]);
    assert_uuid_v4(&new);
    assert_ne!(new, old);
    assert_eq!(
        client.fields("SESSION.GET", &new),
        [("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    let after = client.info(&new);
    for field in [
        "user",
        "state",
        "created_at",
        "idle_timeout",
        "absolute_deadline",
        "version",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["version"].integer(), Some(2));
    client.nil(&["SESSION.GET", &old]);
    client.nil(&["SESSION.PEEK", &old]);
    client.nil(&["SESSION.INFO", &old]);
    client.nil(&["SESSION.SET", &old, "a", "2"]);
    client.nil(&["SESSION.RECOVER", &old]);
    client.nil(&["SESSION.ROTATE", &old]);
    assert_eq!(client.int(&["SESSION.TTL", &old]), -2);
    assert_eq!(client.int(&["SESSION.END", &old]), 0);
    assert_eq!(client.list("alice"), [new.as_str()]);
    let stats = client.stats();
    assert_eq!(
        (
            stats["active"],
            stats["rotated_total"],
            stats["ended_total"],
            stats["created_total"]
        ),
        (1, 1, 0, 1)
    );
    client.nil(&["SESSION.ROTATE", UNKNOWN]);
    client.nil(&["SESSION.ROTATE", "garbage"]);
    assert_eq!(client.int(&["SESSION.END", &new]), 1);
    client.nil(&["SESSION.ROTATE", &new]);
}

/// A rotated session keeps its place in LIST, so the cap still evicts the oldest.
#[test]
fn rotate_keeps_the_list_position() {
    let server = start(&["max-sessions-per-user", "3"]);
    let mut client = Client::new(&server);
    let a = client.create(&["u"]);
    let b = client.create(&["u"]);
    let c = client.create(&["u"]);
    let a2 = client.bulk(&["SESSION.ROTATE", &a]);
    let b2 = client.bulk(&["SESSION.ROTATE", &b]);
    assert_eq!(client.list("u"), [a2.clone(), b2.clone(), c.clone()]);
    let d = client.create(&["u"]);
    assert_eq!(client.list("u"), [b2, c, d]);
    assert_eq!(client.end_reason(&a2), "evicted");
}

// ---------------------------------------------------------------------------------------------
// SESSION.RECOVER
// ---------------------------------------------------------------------------------------------

/// Sessions ended, expired or evicted within the window come back under a new id with their
/// user, data and version; the old id cannot be recovered twice.
#[test]
fn recover_ended_expired_and_evicted_sessions() {
    let server = start(&["max-sessions-per-user", "2"]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["expired"]);
    let expired = client.create(&["exp", "IDLE", "1", "DATA", "x", "1"]);
    let ended = client.create(&["bob", "DATA", "k", "v"]);
    client.int(&["SESSION.SET", &ended, "k", "w"]);
    client.int(&["SESSION.END", &ended]);
    let recovered = client.bulk(&["SESSION.RECOVER", &ended]);
    assert_uuid_v4(&recovered);
    assert_ne!(recovered, ended);
    assert_eq!(
        client.fields("SESSION.GET", &recovered),
        [("k".into(), "w".into())]
    );
    let info = client.info(&recovered);
    assert_eq!(info["user"].text(), "bob");
    assert_eq!(info["state"].text(), "active");
    assert_eq!(info["version"].integer(), Some(2));
    client.nil(&["SESSION.RECOVER", &ended]);
    client.nil(&["SESSION.INFO", &ended]);
    assert_eq!(client.list("bob"), [recovered.as_str()]);

    // Evicted: recovering it counts against the cap and evicts the oldest in turn.
    let b2 = client.create(&["bob"]);
    let b3 = client.create(&["bob"]);
    assert_eq!(client.end_reason(&recovered), "evicted");
    let again = client.bulk(&["SESSION.RECOVER", &recovered]);
    assert_eq!(client.list("bob"), [b3, again.clone()]);
    assert_eq!(client.end_reason(&b2), "evicted");
    assert_eq!(client.int(&["SESSION.COUNT", "bob"]), 2);
    assert_eq!(
        client.fields("SESSION.PEEK", &again),
        [("k".into(), "w".into())]
    );

    events.expect(
        "expired",
        &expired,
        Duration::from_secs(1) + LATENESS + LATENESS,
    );
    let back = client.bulk(&["SESSION.RECOVER", &expired]);
    assert_eq!(
        client.fields("SESSION.GET", &back),
        [("x".into(), "1".into())]
    );
    let ttl = client.int(&["SESSION.TTL", &back]);
    assert!(
        (900..=1000).contains(&ttl),
        "recovered idle timeout kept: {ttl}"
    );

    // Not recoverable: active, unknown, malformed.
    client.nil(&["SESSION.RECOVER", &back]);
    client.nil(&["SESSION.RECOVER", UNKNOWN]);
    client.nil(&["SESSION.RECOVER", "garbage"]);
    let stats = client.stats();
    assert_eq!(stats["recovered_total"], 3);
    assert_eq!(stats["recoverable"], 1, "only b2 is left to recover");
}

/// With `on-limit reject`, a RECOVER over the cap is `-SESSIONLIMIT` and the ended session
/// stays recoverable for later.
#[test]
fn recover_over_cap_with_reject_keeps_the_session_recoverable() {
    let server = start(&["max-sessions-per-user", "1", "on-limit", "reject"]);
    let mut client = Client::new(&server);
    let a = client.create(&["bob", "DATA", "k", "v"]);
    client.int(&["SESSION.END", &a]);
    let b = client.create(&["bob"]);
    assert_eq!(
        client.error(&["SESSION.RECOVER", &a]),
        "SESSIONLIMIT user has reached max-sessions-per-user (1)"
    );
    assert_eq!(client.list("bob"), [b.as_str()]);
    assert_eq!(client.end_reason(&a), "ended");
    assert_eq!(client.stats()["recoverable"], 1);
    client.int(&["SESSION.END", &b]);
    let back = client.bulk(&["SESSION.RECOVER", &a]);
    assert_eq!(
        client.fields("SESSION.GET", &back),
        [("k".into(), "v".into())]
    );
    assert_eq!(client.stats()["recovered_total"], 1);
}

/// Past the recovery window an ended session is gone: RECOVER and INFO are nil.
#[test]
fn recover_past_the_window_is_nil() {
    let server = start(&["recovery-window", "1"]);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "DATA", "k", "v"]);
    client.int(&["SESSION.END", &id]);
    let until = rfc3339_ms(&client.info(&id)["recoverable_until"]);
    // The window must pass.
    let wait = until + 5 - now_ms();
    thread::sleep(Duration::from_millis(wait.max(0) as u64));
    client.nil(&["SESSION.RECOVER", &id]);
    client.nil(&["SESSION.INFO", &id]);
    let stats = client.stats();
    assert_eq!((stats["recoverable"], stats["recovered_total"]), (0, 0));
}

/// `recovery-window 0`: ended, evicted and expired sessions are gone at once.
#[test]
fn recovery_window_zero_keeps_nothing() {
    let server = start(&["recovery-window", "0", "max-sessions-per-user", "1"]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["expired"]);
    let expiring = client.create(&["x", "IDLE", "1"]);
    let ended = client.create(&["u"]);
    client.int(&["SESSION.END", &ended]);
    let evicted = client.create(&["u"]);
    client.create(&["u"]);
    events.expect(
        "expired",
        &expiring,
        Duration::from_secs(1) + LATENESS + LATENESS,
    );
    for id in [&ended, &evicted, &expiring] {
        client.nil(&["SESSION.RECOVER", id]);
        client.nil(&["SESSION.INFO", id]);
    }
    let stats = client.stats();
    assert_eq!(stats["recoverable"], 0);
    assert_eq!(stats["ended_total"], 3);
}

// ---------------------------------------------------------------------------------------------
// SESSION.LIST / SESSION.ENDALL / SESSION.COUNT
// ---------------------------------------------------------------------------------------------

/// LIST is the user's active ids oldest first; WITHINFO gives an INFO map each.
#[test]
fn list_oldest_first_and_withinfo() {
    let server = start(&[]);
    let mut resp2 = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let ids: Vec<String> = (0..4).map(|_| resp2.create(&["u"])).collect();
    resp2.create(&["other"]);
    resp2.create(&[""]);
    assert_eq!(resp2.list("u"), ids);
    resp2.int(&["SESSION.END", &ids[1]]);
    let left = [ids[0].clone(), ids[2].clone(), ids[3].clone()];
    assert_eq!(resp2.list("u"), left);
    assert!(resp2.list("nobody").is_empty());
    for (reply, kind) in [
        (resp3.call(&["SESSION.LIST", "u", "WITHINFO"]), b'%'),
        (resp2.call(&["SESSION.LIST", "u", "withinfo"]), b'*'),
    ] {
        assert_eq!(reply.kind, b'*');
        let listed: Vec<String> = reply
            .items
            .iter()
            .map(|item| {
                assert_eq!(item.kind, kind, "{}", escape(&item.raw));
                let info: HashMap<String, Frame> = pairs(item).into_iter().collect();
                assert_eq!(info.len(), ACTIVE_FIELDS.len());
                assert_eq!(info["state"].text(), "active");
                assert_eq!(info["user"].text(), "u");
                info["id"].text()
            })
            .collect();
        assert_eq!(listed, left);
    }
    assert_eq!(
        resp2.error(&["SESSION.LIST", "u", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(
        resp2.error(&["SESSION.LIST", "u", "WITHINFO", "x"]),
        "ERR syntax error"
    );
}

/// ENDALL ends every session of the user, or all but EXCEPT's, and says how many.
#[test]
fn endall_with_and_without_except() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["ended"]);
    let bob: Vec<String> = (0..3).map(|_| client.create(&["bob"])).collect();
    let alice = client.create(&["alice"]);
    assert_eq!(client.int(&["SESSION.ENDALL", "bob", "EXCEPT", &bob[1]]), 2);
    let mut ended: HashSet<String> = HashSet::new();
    for _ in 0..2 {
        ended.insert(events.next(PROMPTLY, "ended").1);
    }
    assert_eq!(ended, HashSet::from([bob[0].clone(), bob[2].clone()]));
    assert_eq!(client.list("bob"), [bob[1].clone()]);
    assert_eq!(client.list("alice"), [alice.as_str()]);
    assert_eq!(client.end_reason(&bob[0]), "ended");
    assert_eq!(client.int(&["SESSION.ENDALL", "bob", "except", UNKNOWN]), 1);
    assert_eq!(client.int(&["SESSION.ENDALL", "bob"]), 0);
    assert_eq!(client.int(&["SESSION.COUNT", "bob"]), 0);
    assert_eq!(client.int(&["SESSION.COUNT"]), 1);
    assert_eq!(
        client.error(&["SESSION.ENDALL", "bob", "EXCEPT"]),
        "ERR syntax error"
    );
    assert_eq!(
        client.error(&["SESSION.ENDALL", "bob", "ALL", "x"]),
        "ERR syntax error"
    );
    assert_eq!(client.int(&["SESSION.ENDALL", "alice"]), 1);
    assert_eq!(client.stats()["ended_total"], 4);
}

/// COUNT is the namespace's active sessions, or one user's.
#[test]
fn count_namespace_and_user() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    assert_eq!(client.int(&["SESSION.COUNT"]), 0);
    let b = client.create(&["bob"]);
    client.create(&["bob"]);
    client.create(&["alice"]);
    client.create(&[""]);
    assert_eq!(client.int(&["SESSION.COUNT"]), 4);
    assert_eq!(client.int(&["SESSION.COUNT", "bob"]), 2);
    assert_eq!(client.int(&["SESSION.COUNT", "alice"]), 1);
    assert_eq!(client.int(&["SESSION.COUNT", "nobody"]), 0);
    client.int(&["SESSION.END", &b]);
    assert_eq!(client.int(&["SESSION.COUNT"]), 3);
    assert_eq!(client.int(&["SESSION.COUNT", "bob"]), 1);
    assert_eq!(
        client.error(&["SESSION.COUNT", "a", "b"]),
        "ERR syntax error"
    );
}

// ---------------------------------------------------------------------------------------------
// SESSION.STATS
// ---------------------------------------------------------------------------------------------

const STATS_FIELDS: [&str; 11] = [
    "active",
    "users_active",
    "peak_active",
    "created_total",
    "ended_total",
    "expired_total",
    "evicted_total",
    "rotated_total",
    "recovered_total",
    "recoverable",
    "avg_duration_ms",
];

/// Every counter after a known sequence of creates, an eviction, an END, a ROTATE, a
/// RECOVER (which evicts in turn) and an expiry.
#[test]
fn stats_after_a_known_sequence() {
    let server = start(&["max-sessions-per-user", "2"]);
    let mut client = Client::new(&server);
    let mut resp3 = Client::resp3(&server);
    let events = subscribe(&server, &["expired"]);
    let reply = resp3.call(&["SESSION.STATS"]);
    assert_eq!(reply.kind, b'%');
    let names: Vec<String> = pairs(&reply).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, STATS_FIELDS);
    assert!(client.stats().values().all(|&n| n == 0));

    let b1 = client.create(&["bob"]);
    let b2 = client.create(&["bob"]);
    let a1 = client.create(&["alice"]);
    client.create(&[""]);
    client.create(&["bob"]); // evicts b1
    client.int(&["SESSION.END", &a1]);
    let b2r = client.bulk(&["SESSION.ROTATE", &b2]);
    let b1_duration = client.info(&b1)["duration_ms"].integer().unwrap();
    client.bulk(&["SESSION.RECOVER", &b1]); // evicts b2r
    let e = client.create(&["", "IDLE", "1"]);
    events.expect("expired", &e, Duration::from_secs(1) + LATENESS + LATENESS);

    let durations: i64 = [&a1, &b2r, &e]
        .iter()
        .map(|id| client.info(id)["duration_ms"].integer().unwrap())
        .sum::<i64>()
        + b1_duration;
    let expected = HashMap::from([
        ("active", 3),
        ("users_active", 1),
        ("peak_active", 4),
        ("created_total", 7),
        ("ended_total", 4),
        ("expired_total", 1),
        ("evicted_total", 2),
        ("rotated_total", 1),
        ("recovered_total", 1),
        ("recoverable", 3),
        ("avg_duration_ms", durations / 4),
    ]);
    let stats = client.stats();
    for name in STATS_FIELDS {
        assert_eq!(stats[name], expected[name], "{name}");
    }
    assert!(durations >= 1000, "e lived its idle second: {durations}");
    assert_eq!(client.int(&["SESSION.COUNT"]), 3);
    assert_eq!(
        client.error(&["SESSION.STATS", "x"]),
        "ERR wrong number of arguments for 'session.stats' command"
    );
}

// ---------------------------------------------------------------------------------------------
// SESSION.CLEANUP
// ---------------------------------------------------------------------------------------------

/// DRYRUN lists what would end and changes nothing; FORCE ends everything.
#[test]
fn cleanup_dryrun_and_force() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["ended"]);
    let ids: HashSet<String> = (0..3).map(|i| client.create(&[&format!("u{i}")])).collect();
    for args in [
        &["SESSION.CLEANUP", "FORCE", "DRYRUN"][..],
        &["SESSION.CLEANUP", "DRYRUN", "IDLE", "0"][..],
    ] {
        let reply = client.call(args);
        assert_eq!(reply.kind, b'*', "{}", escape(&reply.raw));
        let listed: HashSet<String> = reply.items.iter().map(Frame::text).collect();
        assert_eq!(listed, ids, "{args:?}");
    }
    let reply = client.call(&["SESSION.CLEANUP", "DRYRUN"]);
    assert!(reply.items.is_empty(), "nothing idle for 1800 s");
    assert_eq!(client.int(&["SESSION.COUNT"]), 3);
    for id in &ids {
        assert_eq!(client.info(id)["state"].text(), "active");
    }
    assert_eq!(client.stats()["ended_total"], 0);
    events.assert_none_pending();
    assert_eq!(client.int(&["SESSION.CLEANUP", "FORCE"]), 3);
    assert_eq!(client.int(&["SESSION.COUNT"]), 0);
    let mut ended = HashSet::new();
    for _ in 0..3 {
        ended.insert(events.next(PROMPTLY, "ended").1);
    }
    assert_eq!(ended, ids);
    for id in &ids {
        assert_eq!(client.end_reason(id), "cleanup");
    }
    assert_eq!(client.int(&["SESSION.CLEANUP", "FORCE"]), 0);
    assert_eq!(
        client.error(&["SESSION.CLEANUP", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(
        client.error(&["SESSION.CLEANUP", "IDLE"]),
        "ERR syntax error"
    );
    assert_eq!(
        client.error(&["SESSION.CLEANUP", "IDLE", "x"]),
        "ERR value is not an integer or out of range"
    );
}

/// CLEANUP ends only sessions idle for the given seconds, by default the policy's idle
/// timeout.
#[test]
fn cleanup_ends_only_idle_sessions() {
    let server = start(&["idle-timeout", "1"]);
    let mut client = Client::new(&server);
    // IDLE 0: the sessions never expire by themselves, only CLEANUP ends them.
    let idle = client.create(&["u", "IDLE", "0"]);
    let used = client.create(&["u", "IDLE", "0"]);
    // Idleness needs time to pass.
    thread::sleep(Duration::from_millis(1100));
    client.call(&["SESSION.GET", &used]);
    assert!(
        client
            .call(&["SESSION.CLEANUP", "IDLE", "5", "DRYRUN"])
            .items
            .is_empty()
    );
    let reply = client.call(&["SESSION.CLEANUP", "DRYRUN"]);
    let listed: Vec<String> = reply.items.iter().map(Frame::text).collect();
    assert_eq!(listed, [idle.as_str()]);
    assert_eq!(client.int(&["SESSION.CLEANUP", "IDLE", "5"]), 0);
    assert_eq!(client.int(&["SESSION.CLEANUP"]), 1);
    assert_eq!(client.end_reason(&idle), "cleanup");
    assert_eq!(client.list("u"), [used]);
}

// ---------------------------------------------------------------------------------------------
// Caps under concurrency
// ---------------------------------------------------------------------------------------------

const THREADS: usize = 10;
const CREATES_PER_THREAD: usize = 20;

/// Every thread's CREATE results, in the order that thread sent them.
fn create_concurrently(server: &Server) -> Vec<Vec<Result<String, String>>> {
    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut connection = server.connection();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                (0..CREATES_PER_THREAD)
                    .map(|_| {
                        redis::cmd("SESSION.CREATE")
                            .arg("bob")
                            .query::<String>(&mut connection)
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|worker| worker.join().expect("creating thread"))
        .collect()
}

/// 200 simultaneous CREATEs for one user with cap 3 (evict-oldest) leave exactly 3 active:
/// the newest, so each thread's survivors are the last ones it created.
#[test]
fn cap_is_exact_under_concurrent_creates_evict_oldest() {
    let server = start(&["max-sessions-per-user", "3"]);
    let results = create_concurrently(&server);
    let mut client = Client::new(&server);
    let listed = client.list("bob");
    assert_eq!(listed.len(), 3);
    assert_eq!(client.int(&["SESSION.COUNT", "bob"]), 3);
    let survivors: HashSet<&String> = listed.iter().collect();
    let mut all = HashSet::new();
    for ids in &results {
        let ids: Vec<&String> = ids.iter().map(|r| r.as_ref().expect("CREATE")).collect();
        all.extend(ids.iter().copied());
        let kept = ids.iter().filter(|id| survivors.contains(*id)).count();
        assert!(
            ids[ids.len() - kept..]
                .iter()
                .all(|id| survivors.contains(*id)),
            "a thread's survivors must be the last sessions it created"
        );
    }
    assert_eq!(all.len(), THREADS * CREATES_PER_THREAD);
    assert!(survivors.iter().all(|id| all.contains(*id)));
    // LIST is oldest first: survivors of one thread appear in that thread's order.
    for ids in &results {
        let order: Vec<&String> = listed
            .iter()
            .filter(|id| ids.iter().any(|r| r.as_ref().ok() == Some(*id)))
            .collect();
        let expected: Vec<&String> = ids
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|id| survivors.contains(id))
            .collect();
        assert_eq!(order, expected);
    }
    for id in all.iter().filter(|id| !survivors.contains(*id)) {
        assert_eq!(client.end_reason(id), "evicted");
    }
    let stats = client.stats();
    assert_eq!(stats["active"], 3);
    assert_eq!(stats["evicted_total"], 197);
    assert_eq!(stats["created_total"], 200);
    assert_eq!(stats["peak_active"], 3, "never more than the cap at once");
}

/// 200 simultaneous CREATEs for one user with cap 3 and `on-limit reject`: exactly 3 succeed.
#[test]
fn cap_is_exact_under_concurrent_creates_reject() {
    let server = start(&["max-sessions-per-user", "3", "on-limit", "reject"]);
    let results = create_concurrently(&server);
    let created: HashSet<String> = results
        .iter()
        .flatten()
        .filter_map(|r| r.clone().ok())
        .collect();
    assert_eq!(created.len(), 3);
    for error in results.iter().flatten().filter_map(|r| r.as_ref().err()) {
        assert!(error.contains("SESSIONLIMIT"), "{error}");
    }
    let mut client = Client::new(&server);
    let listed: HashSet<String> = client.list("bob").into_iter().collect();
    assert_eq!(listed, created);
    let stats = client.stats();
    assert_eq!(
        (
            stats["active"],
            stats["created_total"],
            stats["peak_active"]
        ),
        (3, 3, 3)
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry and events
// ---------------------------------------------------------------------------------------------

/// A session with IDLE 1 lives on while touched, past its first deadline, then expires one
/// idle second after the last touch, announced on time by `expired`.
#[test]
fn idle_expiry_is_postponed_by_touch() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["expired"]);
    let created = Instant::now();
    let id = client.create(&["u", "IDLE", "1", "ABSOLUTE", "0"]);
    let mut last_touch = (Instant::now(), Instant::now());
    // Touch every 400 ms until 1.2 s: past the first deadline (1 s).
    while created.elapsed() < Duration::from_millis(1200) {
        thread::sleep(Duration::from_millis(400));
        let sent = Instant::now();
        let ttl = client.int(&["SESSION.TOUCH", &id]);
        last_touch = (sent, Instant::now());
        assert!((900..=1000).contains(&ttl), "TOUCH {ttl}");
    }
    assert!(client.info(&id)["state"].text() == "active");
    let at = events.expect("expired", &id, Duration::from_secs(1) + LATENESS + LATENESS);
    let deadline = last_touch.0 + Duration::from_secs(1);
    assert!(
        at + CLOCK_RESOLUTION >= deadline,
        "expired before its idle deadline"
    );
    assert!(
        at <= last_touch.1 + Duration::from_secs(1) + LATENESS,
        "expired event {:?} late",
        at - deadline
    );
    client.nil(&["SESSION.GET", &id]);
    assert_eq!(client.end_reason(&id), "expired");
    assert_eq!(client.stats()["expired_total"], 1);
}

/// ABSOLUTE 1 ends a session one second after creation however often it is touched.
#[test]
fn absolute_expiry_ignores_touches() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &["expired"]);
    let sent = Instant::now();
    let id = client.create(&["u", "ABSOLUTE", "1"]);
    let acked = Instant::now();
    let mut previous = i64::MAX;
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(250));
        let ttl = client.int(&["SESSION.TOUCH", &id]);
        assert!(
            ttl < previous && ttl <= 1000 - 250,
            "TOUCH {ttl} after {previous}"
        );
        previous = ttl;
        client.call(&["SESSION.GET", &id]);
    }
    let at = events.expect("expired", &id, Duration::from_secs(1) + LATENESS);
    assert!(
        at + CLOCK_RESOLUTION >= sent + Duration::from_secs(1),
        "expired early"
    );
    assert!(
        at <= acked + Duration::from_secs(1) + LATENESS,
        "expired late"
    );
    assert_eq!(client.end_reason(&id), "expired");
}

/// A session expired by the wheel no longer counts: not in COUNT or LIST, and not against the
/// cap (reject: a new CREATE succeeds; evict-oldest: nothing is evicted).
#[test]
fn expired_sessions_free_their_place_under_the_cap() {
    for on_limit in ["reject", "evict-oldest"] {
        let server = start(&["max-sessions-per-user", "2", "on-limit", on_limit]);
        let mut client = Client::new(&server);
        let events = subscribe(&server, &["expired", "evicted"]);
        let short = client.create(&["u", "IDLE", "1"]);
        let long = client.create(&["u"]);
        events.expect(
            "expired",
            &short,
            Duration::from_secs(1) + LATENESS + LATENESS,
        );
        assert_eq!(client.int(&["SESSION.COUNT", "u"]), 1, "{on_limit}");
        assert_eq!(client.int(&["SESSION.COUNT"]), 1, "{on_limit}");
        assert_eq!(client.list("u"), [long.as_str()]);
        let next = client.create(&["u"]);
        assert_eq!(client.list("u"), [long, next], "{on_limit}");
        let stats = client.stats();
        assert_eq!(
            (stats["active"], stats["evicted_total"]),
            (2, 0),
            "{on_limit}"
        );
        assert_eq!(stats["users_active"], 1);
        events.assert_none_pending();
    }
}

/// Each lifecycle change publishes on `__session@default__:EVENT`: created, ended, evicted,
/// rotated and recovered (`OLD NEW`).
#[test]
fn lifecycle_events() {
    let server = start(&["max-sessions-per-user", "1"]);
    let mut client = Client::new(&server);
    let events = subscribe(&server, &SESSION_EVENTS);
    let a = client.create(&["u"]);
    events.expect("created", &a, PROMPTLY);
    let b = client.create(&["u"]);
    events.expect("evicted", &a, PROMPTLY);
    events.expect("created", &b, PROMPTLY);
    let b2 = client.bulk(&["SESSION.ROTATE", &b]);
    events.expect("rotated", &format!("{b} {b2}"), PROMPTLY);
    assert_eq!(client.int(&["SESSION.END", &b2]), 1);
    events.expect("ended", &b2, PROMPTLY);
    let b3 = client.bulk(&["SESSION.RECOVER", &b2]);
    events.expect("recovered", &format!("{b2} {b3}"), PROMPTLY);
    let a2 = client.bulk(&["SESSION.RECOVER", &a]);
    events.expect("evicted", &b3, PROMPTLY);
    events.expect("recovered", &format!("{a} {a2}"), PROMPTLY);
    assert_eq!(client.int(&["SESSION.ENDALL", "u"]), 1);
    events.expect("ended", &a2, PROMPTLY);
    // Commands that change nothing publish nothing.
    client.int(&["SESSION.END", &a2]);
    client.call(&["SESSION.ROTATE", &a2]);
    client.call(&["SESSION.CLEANUP", "FORCE", "DRYRUN"]);
    client.call(&["PING"]);
    events.assert_none_pending();
}

// ---------------------------------------------------------------------------------------------
// Arity and persistence
// ---------------------------------------------------------------------------------------------

/// Every SESSION command checks its number of arguments.
#[test]
fn wrong_number_of_arguments() {
    let server = start(&[]);
    let mut client = Client::new(&server);
    let cases: &[&[&str]] = &[
        &["SESSION.CREATE"],
        &["SESSION.GET"],
        &["SESSION.PEEK"],
        &["SESSION.SET", UNKNOWN, "a"],
        &["SESSION.CAS", UNKNOWN, "1", "a"],
        &["SESSION.UNSET", UNKNOWN],
        &["SESSION.TOUCH"],
        &["SESSION.TOUCH", UNKNOWN, "x"],
        &["SESSION.TTL"],
        &["SESSION.INFO"],
        &["SESSION.INFO", UNKNOWN, "x"],
        &["SESSION.END", UNKNOWN, "x"],
        &["SESSION.ROTATE"],
        &["SESSION.RECOVER", UNKNOWN, "x"],
        &["SESSION.LIST"],
        &["SESSION.ENDALL"],
        &["SESSION.STATS", "x"],
    ];
    for args in cases {
        assert_eq!(
            client.error(args),
            format!(
                "ERR wrong number of arguments for '{}' command",
                args[0].to_lowercase()
            ),
            "{args:?}"
        );
    }
}

/// Sessions are kept across a restart (AOF).
#[test]
fn sessions_survive_a_restart() {
    let dir =
        std::env::temp_dir().join(format!("sessiond-sessions-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        &dir_arg,
    ];
    let mut server = Server::sessiond(&args);
    let mut client = Client::new(&server);
    let id = client.create(&["u", "DATA", "k", "v"]);
    client.int(&["SESSION.SET", &id, "k", "w"]);
    server.kill();
    let server = Server::sessiond(&args);
    let mut client = Client::new(&server);
    assert_eq!(
        client.fields("SESSION.GET", &id),
        [("k".into(), "w".into())]
    );
    assert_eq!(client.info(&id)["version"].integer(), Some(2));
    assert_eq!(client.list("u"), [id]);
    let _ = std::fs::remove_dir_all(&dir);
}
