//! MONITOR as Redis streams it: one status line per command run (after it ran, so SELECT
//! shows its new database and a transaction's commands come before EXEC), Redis's quoting,
//! passwords redacted, operator and refused commands not shown, only the monitor's
//! namespace, and a monitor that stops reading is closed at the pub/sub output limit.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{RawClient, Server, escape};

/// The next line a monitor receives, without the `+` and the CRLF.
fn next_line(monitor: &mut RawClient) -> String {
    let reply = monitor.read_reply();
    assert_eq!(reply.first(), Some(&b'+'), "{}", escape(&reply));
    String::from_utf8_lossy(&reply[1..reply.len() - 2]).into_owned()
}

/// What follows the timestamp of a line: `[db addr] "args"...`.
fn after_time(line: &str) -> &str {
    let (time, rest) = line.split_once(' ').expect("a timestamp first");
    let (secs, micros) = time.split_once('.').expect("seconds.microseconds");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
    rest
}

#[test]
fn a_monitor_sees_each_command_as_redis_shows_it() {
    let server = Server::sessiond(&[]);
    let mut monitor = server.raw();
    assert_eq!(monitor.call(&["MONITOR"]), b"+OK\r\n");
    let mut client = server.raw();
    let peer = client.stream().local_addr().unwrap().to_string();
    client.call(&["SET", "a", "x y"]);
    client.call(&["GET"]);
    client.call(&["NOSUCH"]);
    client.call(&["CONFIG", "GET", "port"]);
    client.call(&["MULTI"]);
    client.call(&["SET", "x", "1"]);
    client.call(&["EXEC"]);
    client.call(&["AUTH", "nouser", "secret"]);
    client.call(&["SELECT", "3"]);
    client.call(&[b"SET".as_slice(), b"b", b"\x00\xff\n\"\\"]);
    let expected = [
        format!(r#"[0 {peer}] "SET" "a" "x y""#),
        format!(r#"[0 {peer}] "MULTI""#),
        format!(r#"[0 {peer}] "SET" "x" "1""#),
        format!(r#"[0 {peer}] "EXEC""#),
        format!(r#"[0 {peer}] "AUTH" "(redacted)" "(redacted)""#),
        format!(r#"[3 {peer}] "SELECT" "3""#),
        format!(r#"[3 {peer}] "SET" "b" "\x00\xff\n\"\\""#),
    ];
    for want in &expected {
        let line = next_line(&mut monitor);
        assert_eq!(after_time(&line), want);
    }

    // A monitor may not touch the keyspace; other commands work; RESET ends monitoring.
    assert_eq!(
        monitor.call(&["GET", "a"]),
        b"-ERR Replica can't interact with the keyspace\r\n"
    );
    let list = String::from_utf8_lossy(&client.call(&["CLIENT", "LIST"])).into_owned();
    assert_eq!(list.matches("flags=O").count(), 1, "{list}");
    assert_eq!(monitor.call(&["RESET"]), b"+RESET\r\n");
    client.call(&["SET", "after", "reset"]);
    assert_eq!(monitor.call(&["GET", "a"]), b"$3\r\nx y\r\n");
}

#[test]
fn a_monitor_sees_only_its_own_namespace() {
    let server = Server::sessiond(&[
        "--namespace",
        "shop",
        "--user",
        "ops",
        "ops-pw",
        "*",
        "--user",
        "shop",
        "shop-pw",
        "shop",
    ]);
    let mut monitor = server.raw();
    assert_eq!(monitor.call(&["AUTH", "ops", "ops-pw"]), b"+OK\r\n");
    assert_eq!(monitor.call(&["MONITOR"]), b"+OK\r\n");
    let mut shop = server.raw();
    assert_eq!(shop.call(&["AUTH", "shop", "shop-pw"]), b"+OK\r\n");
    shop.call(&["SET", "cart", "secret-of-the-shop"]);
    let mut other = server.raw();
    assert_eq!(other.call(&["AUTH", "ops", "ops-pw"]), b"+OK\r\n");
    other.call(&["SET", "seen", "1"]);
    // The shop client's AUTH ran into its namespace, so only the other client shows.
    let lines = [next_line(&mut monitor), next_line(&mut monitor)];
    assert!(
        after_time(&lines[0]).ends_with(r#""AUTH" "(redacted)" "(redacted)""#),
        "{lines:?}"
    );
    assert!(
        after_time(&lines[1]).ends_with(r#""SET" "seen" "1""#),
        "{lines:?}"
    );
    let mut denied = server.raw();
    assert_eq!(denied.call(&["AUTH", "shop", "shop-pw"]), b"+OK\r\n");
    assert_eq!(
        denied.call(&["MONITOR"]),
        b"-NOPERM User shop has no permissions to run the 'monitor' command\r\n"
    );
}

#[test]
fn redis_cli_monitor_prints_the_commands() {
    let server = Server::sessiond(&[]);
    let port = server.addr().port().to_string();
    let mut cli = Command::new("redis-cli")
        .args(["-p", &port, "monitor"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    let mut client = server.raw();
    // redis-cli's MONITOR is in place once CLIENT LIST shows it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&client.call(&["CLIENT", "LIST"])).contains("flags=O") {
        assert!(
            Instant::now() < deadline,
            "redis-cli never started monitoring"
        );
        std::thread::yield_now();
    }
    client.call(&["SET", "from-cli-test", "42"]);
    client.call(&["QUIT"]);
    let mut stdout = cli.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"QUIT\"") {
        let read = stdout.read(&mut chunk).expect("redis-cli output");
        assert!(
            read > 0,
            "redis-cli ended: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..read]);
    }
    cli.kill().unwrap();
    cli.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains(r#""SET" "from-cli-test" "42""#), "{text}");
}

#[test]
fn a_monitor_that_stops_reading_is_closed_at_the_pubsub_limit() {
    let server = Server::sessiond(&["--client-output-buffer-limit", "pubsub 1mb 0 0"]);
    let mut monitor = server.raw();
    assert_eq!(monitor.call(&["MONITOR"]), b"+OK\r\n");
    let mut client = server.raw();
    let value = "v".repeat(10_000);
    // 20,000 commands of 10 kB each is 200 MB of monitor output if it were all kept.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    loop {
        client.call(&["SET", "k", &value]);
        sent += 1;
        if sent % 100 == 0 {
            let list = String::from_utf8_lossy(&client.call(&["CLIENT", "LIST"])).into_owned();
            if !list.contains("flags=O") {
                break;
            }
        }
        assert!(sent < 20_000 && Instant::now() < deadline, "never closed");
    }
    let rss = common::vm_rss_kb(server.pid());
    assert!(rss < 150 * 1024, "RSS {rss} kB after {sent} commands");
}
