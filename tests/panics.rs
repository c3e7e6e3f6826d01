//! A panic in one connection's handling takes down that connection only: `DEBUG PANIC`
//! panics while holding every shard lock of the client's database, and the server must go
//! on with every lock free, every other client served, the AOF writing, and the dead client
//! forgotten (CLIENT LIST, `connected_clients`, its subscriptions). Also `enable-debug-command`,
//! which gates DEBUG as Redis 7 does.

mod common;

use std::time::{Duration, Instant};

use common::{RawClient, Server, frame};

/// Keys spread over every shard of a database (16 shards, a few keys each on average).
const KEYS: usize = 200;

/// Redis 7's refusal of DEBUG when `enable-debug-command` does not allow the client.
const DEBUG_REFUSED: &str = "-ERR DEBUG command not allowed. If the enable-debug-command option \
     is set to \"local\", you can run it from a local connection, otherwise you need to set \
     this option in the configuration file, and then restart the server.\r\n";

fn start(dir: &std::path::Path) -> Server {
    Server::sessiond(&[
        "--appendonly",
        "yes",
        "--dir",
        dir.to_str().expect("a UTF-8 path"),
        "--shards",
        "16",
        "--enable-debug-command",
        "yes",
    ])
}

fn set_all(client: &mut RawClient, value: &str) {
    for i in 0..KEYS {
        assert_eq!(
            client.call(&["SET", &format!("key:{i}"), value]),
            b"+OK\r\n"
        );
    }
}

fn check_all(client: &mut RawClient, value: &str) {
    let expected = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
    for i in 0..KEYS {
        assert_eq!(
            client.call(&["GET", &format!("key:{i}")]),
            expected,
            "key:{i}"
        );
    }
}

fn client_id(client: &mut RawClient) -> String {
    frame(&client.call(&["CLIENT", "ID"])).text()
}

/// Waits until the server's log holds `text`; the log arrives through a pipe.
fn wait_for_log(server: &Server, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.output_tail();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {text:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_panicking_connection_leaves_the_server_and_its_locks_intact() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = start(dir.path());
    let mut writer = server.raw();
    set_all(&mut writer, "before");

    let mut subscriber = server.raw();
    assert_eq!(
        subscriber.call(&["SUBSCRIBE", "news"]),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    // The client that panics subscribes too (RESP3 lets it run DEBUG while subscribed).
    let mut victim = server.raw();
    let victim_id = client_id(&mut victim);
    assert!(victim.call(&["HELLO", "3"]).starts_with(b"%"));
    assert_eq!(
        victim.call(&["SUBSCRIBE", "news"]),
        b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        writer.call(&["PUBSUB", "NUMSUB", "news"]),
        b"*2\r\n$4\r\nnews\r\n:2\r\n"
    );
    assert_eq!(writer.info_field("clients", "connected_clients"), "3");

    victim.send(&["DEBUG", "PANIC"]);
    victim.expect_closed();

    // The panic is in the log, with its message, at error level, and then the client's end
    // (logged once the unwinding reached it, so wait for that line).
    let log = wait_for_log(&server, &format!("Client id={victim_id} "));
    assert!(
        log.lines()
            .any(|line| line.contains("ERROR") && line.contains("DEBUG PANIC")),
        "{log}"
    );
    assert!(log.contains(&format!("Client id={victim_id} ")), "{log}");

    // The clients that were connected go on; every shard lock of db 0 is free.
    assert_eq!(writer.call(&["PING"]), b"+PONG\r\n");
    check_all(&mut writer, "before");
    set_all(&mut writer, "after");
    assert_eq!(writer.call(&["PUBLISH", "news", "hello"]), b":1\r\n");
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );

    // New clients connect; the dead one is forgotten everywhere.
    let mut newcomer = server.raw();
    check_all(&mut newcomer, "after");
    let list = frame(&newcomer.call(&["CLIENT", "LIST"])).text();
    assert!(!list.contains(&format!("id={victim_id} ")), "{list}");
    assert_eq!(list.lines().count(), 3, "{list}");
    assert_eq!(newcomer.info_field("clients", "connected_clients"), "3");
    assert_eq!(
        newcomer.call(&["PUBSUB", "NUMSUB", "news"]),
        b"*2\r\n$4\r\nnews\r\n:1\r\n"
    );

    // What was written after the panic survives a restart.
    drop((writer, subscriber, newcomer));
    assert!(server.terminate().success());
    let server = start(dir.path());
    check_all(&mut server.raw(), "after");
}

#[test]
fn debug_is_refused_unless_enable_debug_command_allows_it() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    assert_eq!(
        client.call(&["CONFIG", "GET", "enable-debug-command"]),
        b"*2\r\n$20\r\nenable-debug-command\r\n$2\r\nno\r\n"
    );
    for command in [
        &["DEBUG", "SLEEP", "0"][..],
        &["DEBUG", "PANIC"],
        &["DEBUG", "NOSUCH"],
    ] {
        assert_eq!(
            String::from_utf8_lossy(&client.call(command)),
            DEBUG_REFUSED
        );
    }
    assert_eq!(
        client.call(&["DEBUG"]),
        b"-ERR wrong number of arguments for 'debug' command\r\n"
    );
    assert_eq!(
        client.call(&["CONFIG", "SET", "enable-debug-command", "yes"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config\r\n"
    );
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");

    // `local` allows clients from 127.0.0.1 and ::1 only, as Redis counts them.
    let server = Server::sessiond(&["--enable-debug-command", "local", "--protected-mode", "no"]);
    assert_eq!(server.raw().call(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
    let source = "127.0.0.2".parse().expect("an address");
    let mut other = RawClient::connect_from(source, server.addr());
    assert_eq!(
        String::from_utf8_lossy(&other.call(&["DEBUG", "SLEEP", "0"])),
        DEBUG_REFUSED
    );
}
