//! Client management: CLIENT KILL / LIST, idle timeouts, maxclients, QUIT, RESET, HELLO
//! protocol switching and DEBUG SLEEP's per-client delay.

mod common;

use common::{RawClient, ReadError, Server, encode_command, escape, frame};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// `CLIENT LIST` as one `field -> value` map per line.
fn client_list(client: &mut RawClient) -> Vec<HashMap<String, String>> {
    let text = frame(&client.call(&["CLIENT", "LIST"])).text();
    text.lines()
        .map(|line| {
            line.split(' ')
                .filter_map(|field| field.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn client_id(client: &mut RawClient) -> i64 {
    frame(&client.call(&["CLIENT", "ID"]))
        .integer()
        .expect("CLIENT ID is an integer")
}

#[test]
fn client_kill_id_closes_that_connection() {
    let server = Server::sessiond(&[]);
    let mut victim = server.raw();
    let mut bystander = server.raw();
    let mut killer = server.raw();
    let id = client_id(&mut victim);
    assert_eq!(bystander.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        killer.call(&["CLIENT", "KILL", "ID", &id.to_string()]),
        b":1\r\n"
    );
    victim.expect_closed();
    assert_eq!(bystander.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(killer.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        killer.call(&["CLIENT", "KILL", "ID", &id.to_string()]),
        b":0\r\n",
        "the killed client is gone"
    );
    let ids: Vec<String> = client_list(&mut killer)
        .into_iter()
        .map(|fields| fields["id"].clone())
        .collect();
    assert!(
        !ids.contains(&id.to_string()),
        "CLIENT LIST still shows {id}: {ids:?}"
    );
}

#[test]
fn client_kill_addr_closes_that_connection() {
    let server = Server::sessiond(&[]);
    let mut victim = server.raw();
    let mut old_style_victim = server.raw();
    let mut killer = server.raw();
    assert_eq!(victim.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(old_style_victim.call(&["PING"]), b"+PONG\r\n");
    let addr = victim
        .stream()
        .local_addr()
        .expect("local addr")
        .to_string();
    assert_eq!(killer.call(&["CLIENT", "KILL", "ADDR", &addr]), b":1\r\n");
    victim.expect_closed();
    let addr = old_style_victim
        .stream()
        .local_addr()
        .expect("local addr")
        .to_string();
    assert_eq!(killer.call(&["CLIENT", "KILL", &addr]), b"+OK\r\n");
    old_style_victim.expect_closed();
    assert_eq!(
        escape(&killer.call(&["CLIENT", "KILL", &addr])),
        escape(b"-ERR No such client\r\n")
    );
    assert_eq!(killer.call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn client_list_shows_names_and_last_commands() {
    let server = Server::sessiond(&[]);
    let mut alpha = server.raw();
    let mut beta = server.raw();
    let mut observer = server.raw();
    assert_eq!(alpha.call(&["CLIENT", "SETNAME", "alpha"]), b"+OK\r\n");
    assert_eq!(alpha.call(&["INCR", "counter"]), b":1\r\n");
    assert_eq!(beta.call(&["CLIENT", "SETNAME", "beta"]), b"+OK\r\n");
    assert_eq!(beta.call(&["GET", "missing"]), b"$-1\r\n");
    let alpha_id = client_id(&mut alpha).to_string();
    assert_eq!(alpha.call(&["SELECT", "2"]), b"+OK\r\n");
    let beta_id = client_id(&mut beta).to_string();
    let observer_id = client_id(&mut observer).to_string();
    let list = client_list(&mut observer);
    assert_eq!(list.len(), 3, "three clients: {list:?}");
    let by_id = |id: &str| {
        list.iter()
            .find(|fields| fields["id"] == id)
            .unwrap_or_else(|| panic!("client {id} missing from {list:?}"))
    };
    let alpha_line = by_id(&alpha_id);
    assert_eq!(alpha_line["name"], "alpha");
    assert_eq!(alpha_line["cmd"], "select");
    assert_eq!(alpha_line["db"], "2");
    assert_eq!(
        alpha_line["addr"],
        alpha.stream().local_addr().expect("addr").to_string()
    );
    let beta_line = by_id(&beta_id);
    assert_eq!(beta_line["name"], "beta");
    assert_eq!(beta_line["cmd"], "client|id");
    let observer_line = by_id(&observer_id);
    assert_eq!(observer_line["name"], "");
    assert_eq!(observer_line["cmd"], "client|list");
    assert_eq!(beta.call(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(by_id_after(&mut observer, &beta_id)["cmd"], "get");
    assert_eq!(
        escape(&observer.call(&["CLIENT", "SETNAME", "has space"])),
        escape(b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
    );
}

fn by_id_after(observer: &mut RawClient, id: &str) -> HashMap<String, String> {
    client_list(observer)
        .into_iter()
        .find(|fields| fields["id"] == id)
        .unwrap_or_else(|| panic!("client {id} missing"))
}

#[test]
fn timeout_closes_idle_clients_but_not_subscribers_or_busy_ones() {
    let server = Server::sessiond(&["--timeout", "1"]);
    let mut subscriber = server.raw();
    subscriber.send(&["SUBSCRIBE", "ch"]);
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    // A client that keeps talking (every 250 ms) must survive the timeout.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        let mut client = server.raw();
        thread::spawn(move || {
            let mut pings = 0;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(client.call(&["PING"]), b"+PONG\r\n", "busy client PING");
                pings += 1;
                thread::sleep(Duration::from_millis(250));
            }
            pings
        })
    };
    let mut idle = server.raw();
    assert_eq!(idle.call(&["PING"]), b"+PONG\r\n");
    let idle_since = Instant::now();
    match idle.try_read_reply(Duration::from_secs(5)) {
        Err(ReadError::Closed { partial }) if partial.is_empty() => {}
        Ok(frame) => panic!("idle client got \"{}\" instead of EOF", escape(&frame)),
        Err(e) => panic!("idle client was not closed within 5 s: {e}"),
    }
    let idle_for = idle_since.elapsed();
    assert!(
        idle_for >= Duration::from_millis(900),
        "closed after {idle_for:?}, before the 1 s timeout"
    );
    stop.store(true, Ordering::Relaxed);
    let pings = busy.join().expect("the busy client kept working");
    assert!(pings >= 4, "the busy client pinged {pings} times");
    // The subscriber has been idle longer than the closed client: it must still be there.
    let mut publisher = server.raw();
    assert_eq!(publisher.call(&["PUBLISH", "ch", "hello"]), b":1\r\n");
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        subscriber.call(&["PING"]),
        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
}

#[test]
fn maxclients_refuses_the_extra_connection() {
    let server = Server::sessiond(&["--maxclients", "2"]);
    let mut first = server.raw();
    let mut second = server.raw();
    assert_eq!(first.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(second.call(&["PING"]), b"+PONG\r\n");
    let mut third = server.raw();
    assert_eq!(
        escape(&third.read_reply()),
        escape(b"-ERR max number of clients reached\r\n")
    );
    third.expect_closed();
    assert_eq!(first.call(&["SET", "k", "1"]), b"+OK\r\n");
    assert_eq!(second.call(&["INCR", "k"]), b":2\r\n");
    assert_eq!(second.info_field("stats", "rejected_connections"), "1");
    // Once one leaves, there is room again. Its slot is freed after the close, which has
    // no event of its own: poll connected_clients, with a deadline.
    assert_eq!(first.call(&["QUIT"]), b"+OK\r\n");
    first.expect_closed();
    let deadline = Instant::now() + Duration::from_secs(5);
    while second.info_field("clients", "connected_clients") != "1" {
        assert!(Instant::now() < deadline, "the quit client still counts");
        thread::sleep(Duration::from_millis(10));
    }
    let mut fourth = server.raw();
    assert_eq!(fourth.call(&["GET", "k"]), b"$1\r\n2\r\n");
}

#[test]
fn maxclients_holds_under_a_burst_of_connections() {
    let server = Server::sessiond(&["--maxclients", "2"]);
    let mut clients: Vec<RawClient> = (0..8).map(|_| server.raw()).collect();
    let mut served = 0;
    let mut refused = 0;
    for client in &mut clients {
        let _ = client.try_send(&["PING"]);
        match client.try_read_reply(common::READ_TIMEOUT) {
            Ok(reply) if reply == b"+PONG\r\n" => served += 1,
            Ok(reply) if reply == b"-ERR max number of clients reached\r\n" => refused += 1,
            Err(ReadError::Closed { .. }) => refused += 1,
            Ok(reply) => panic!("unexpected reply \"{}\"", escape(&reply)),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((served, refused), (2, 6), "maxclients 2 with 8 connections");
}

#[test]
fn quit_answers_ok_then_closes_without_running_the_rest() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let mut batch = encode_command(&["QUIT"]);
    batch.extend(encode_command(&["SET", "after-quit", "1"]));
    client.send_raw(&batch);
    assert_eq!(client.read_reply(), b"+OK\r\n");
    client.expect_closed();
    let mut check = server.raw();
    assert_eq!(check.call(&["EXISTS", "after-quit"]), b":0\r\n");
}

#[test]
fn reset_restores_a_fresh_connection_state() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let mut other = server.raw();
    assert_eq!(other.call(&["SET", "where", "db0"]), b"+OK\r\n");
    assert_eq!(frame(&client.call(&["HELLO", "3"])).kind, b'%');
    assert_eq!(client.call(&["SELECT", "2"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "where", "db2"]), b"+OK\r\n");
    assert_eq!(
        client.call(&["CLIENT", "SETNAME", "before-reset"]),
        b"+OK\r\n"
    );
    assert_eq!(
        client.call(&["SUBSCRIBE", "ch"]),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(client.call(&["RESET"]), b"+RESET\r\n");
    // RESP2 again: CONFIG GET is a flat array, not a map.
    assert_eq!(
        client.call(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(
        client.call(&["GET", "where"]),
        b"$3\r\ndb0\r\n",
        "database 0 again"
    );
    assert_eq!(client.call(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(
        other.call(&["PUBLISH", "ch", "x"]),
        b":0\r\n",
        "unsubscribed"
    );
    assert_eq!(
        client.call(&["SET", "k", "v"]),
        b"+OK\r\n",
        "not in subscribe mode"
    );
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn hello_switches_between_resp2_and_resp3() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let mut publisher = server.raw();

    let hello = frame(&client.call(&["HELLO", "3"]));
    assert_eq!(hello.kind, b'%', "{}", escape(&hello.raw));
    assert_eq!(hello.get("proto").and_then(|p| p.integer()), Some(3));
    assert_eq!(hello.get("server").map(|s| s.text()), Some("redis".into()));
    assert_eq!(
        client.call(&["CONFIG", "GET", "databases"]),
        b"%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(client.call(&["GET", "missing"]), b"_\r\n");
    assert_eq!(
        client.call(&["SUBSCRIBE", "ch"]),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    // RESP3 allows ordinary commands while subscribed.
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(publisher.call(&["PUBLISH", "ch", "hello"]), b":1\r\n");
    assert_eq!(
        client.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        client.call(&["UNSUBSCRIBE", "ch"]),
        b">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    );

    assert_eq!(
        escape(&client.call(&["HELLO", "4"])),
        escape(b"-NOPROTO unsupported protocol version\r\n")
    );
    assert_eq!(client.call(&["GET", "missing"]), b"_\r\n", "still RESP3");
    let hello = frame(&client.call(&["HELLO", "2"]));
    assert_eq!(hello.kind, b'*', "{}", escape(&hello.raw));
    assert_eq!(hello.items.len(), 14);
    assert_eq!(hello.get("proto").and_then(|p| p.integer()), Some(2));
    assert_eq!(
        client.call(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(client.call(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(
        client.call(&["SUBSCRIBE", "ch"]),
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(publisher.call(&["PUBLISH", "ch", "again"]), b":1\r\n");
    assert_eq!(
        client.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nagain\r\n"
    );
}

#[test]
fn debug_sleep_delays_only_the_sleeping_client() {
    let server = Server::sessiond(&["--enable-debug-command", "yes"]);
    let mut sleeper = server.raw();
    let mut other = server.raw();
    let sleeper_id = client_id(&mut sleeper).to_string();
    let (arrivals, order) = mpsc::channel();
    sleeper.send(&["DEBUG", "SLEEP", "0.3"]);
    let sleeper_thread = {
        let arrivals = arrivals.clone();
        thread::spawn(move || {
            let reply = sleeper.read_reply();
            arrivals.send("sleeper").expect("record arrival");
            reply
        })
    };
    // Wait until the server is running the sleeper's DEBUG (observable in CLIENT LIST).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list = frame(&other.call(&["CLIENT", "LIST", "ID", &sleeper_id])).text();
        if list.contains("cmd=debug") {
            break;
        }
        assert!(Instant::now() < deadline, "DEBUG never showed up: {list}");
    }
    assert_eq!(other.call(&["PING"]), b"+PONG\r\n");
    arrivals.send("other").expect("record arrival");
    let first = order.recv().expect("first arrival");
    let second = order.recv().expect("second arrival");
    assert_eq!(
        (first, second),
        ("other", "sleeper"),
        "the other client's PING must be answered during the sleep"
    );
    assert_eq!(sleeper_thread.join().expect("sleeper thread"), b"+OK\r\n");
}

#[test]
fn client_kill_filters_by_type_and_user() {
    let server = Server::sessiond(&[]);
    let mut subscriber = server.raw();
    subscriber.send(&["SUBSCRIBE", "ch"]);
    subscriber.read_reply();
    let mut normal = server.raw();
    assert_eq!(normal.call(&["PING"]), b"+PONG\r\n");
    let mut killer = server.raw();
    assert_eq!(
        escape(&killer.call(&["CLIENT", "KILL", "TYPE", "bogus"])),
        escape(b"-ERR Unknown client type 'bogus'\r\n")
    );
    assert_eq!(
        escape(&killer.call(&["CLIENT", "KILL", "USER", "nobody"])),
        escape(b"-ERR No such user 'nobody'\r\n")
    );
    assert_eq!(
        escape(&killer.call(&["CLIENT", "KILL", "TYPE", "pubsub"])),
        escape(b":1\r\n")
    );
    subscriber.expect_closed();
    assert_eq!(
        normal.call(&["PING"]),
        b"+PONG\r\n",
        "a normal client survives"
    );
    assert_eq!(
        killer.call(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]),
        b":1\r\n"
    );
    normal.expect_closed();
    assert_eq!(killer.call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn config_set_timeout_applies_to_clients_already_idle() {
    let server = Server::sessiond(&[]);
    let mut idle = server.raw();
    assert_eq!(idle.call(&["PING"]), b"+PONG\r\n");
    let mut admin = server.raw();
    assert_eq!(admin.call(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
    match idle.try_read_reply(Duration::from_secs(5)) {
        Err(ReadError::Closed { partial }) if partial.is_empty() => {}
        Ok(frame) => panic!("idle client got \"{}\" instead of EOF", escape(&frame)),
        Err(e) => panic!("the idle client was not closed within 5 s of CONFIG SET timeout 1: {e}"),
    }
}
