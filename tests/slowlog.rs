//! SLOWLOG contents that the differential test compares only by shape: which commands the
//! default threshold catches, the arguments an entry keeps (shortened, passwords redacted),
//! the client's address and name, and that only operators may read it.

mod common;

use common::{Frame, RawClient, Server, escape, frame};

/// The entries of `SLOWLOG GET -1`, newest first.
fn entries(client: &mut RawClient) -> Vec<Frame> {
    let reply = frame(&client.call(&["SLOWLOG", "GET", "-1"]));
    assert_eq!(reply.kind, b'*', "{}", escape(&reply.raw));
    reply.items
}

/// An entry's arguments as text.
fn arguments(entry: &Frame) -> Vec<String> {
    entry.items[3].items.iter().map(Frame::text).collect()
}

#[test]
fn the_default_threshold_logs_slow_commands_only() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    assert_eq!(client.call(&["CLIENT", "SETNAME", "worker-7"]), b"+OK\r\n");
    for i in 0..100 {
        client.call(&["SET", &format!("k{i}"), "v"]);
    }
    // One MSET of 200,000 keys runs well over 10 ms.
    let mut mset = vec!["MSET".to_string()];
    for i in 0..200_000 {
        mset.extend([format!("key:{i}"), "v".to_string()]);
    }
    assert_eq!(client.call(&mset), b"+OK\r\n");
    let logged = entries(&mut client);
    let msets: Vec<&Frame> = logged
        .iter()
        .filter(|entry| arguments(entry)[0] == "MSET")
        .collect();
    assert_eq!(msets.len(), 1);
    // A SET may be logged only if the machine stalled it for 10 ms.
    assert!(logged.len() < 5, "{} entries", logged.len());
    let entry = msets[0];
    let args = arguments(entry);
    assert_eq!(args.len(), 32);
    assert_eq!(args[31], "... (399970 more arguments)");
    let micros = entry.items[2].integer().expect("a duration");
    assert!(micros >= 10_000, "{micros} µs");
    let local = client.stream().local_addr().expect("a local address");
    assert_eq!(entry.items[4].text(), local.to_string());
    assert_eq!(entry.items[5].text(), "worker-7");
}

#[test]
fn entries_shorten_arguments_and_hide_passwords() {
    let server = Server::sessiond(&["--slowlog-log-slower-than", "0"]);
    let mut client = server.raw();
    client.call(&["AUTH", "nosuchuser", "hunter2"]);
    client.call(&["HELLO", "2", "AUTH", "default", "hunter3", "SETNAME", "n"]);
    client.call(&["CONFIG", "SET", "timeout", "0", "requirepass", "hunter4"]);
    client.call(&["CONFIG", "SET", "requirepass", ""]);
    let long = "x".repeat(200);
    client.call(&["SET", "long", &long]);
    let mut del = vec!["DEL".to_string()];
    del.extend((0..40).map(|i| format!("key{i}")));
    client.call(&del);

    let logged = entries(&mut client);
    let all: Vec<Vec<String>> = logged.iter().rev().map(arguments).collect();
    assert_eq!(all[0], ["AUTH", "(redacted)", "(redacted)"]);
    assert_eq!(
        all[1],
        [
            "HELLO",
            "2",
            "AUTH",
            "(redacted)",
            "(redacted)",
            "SETNAME",
            "n"
        ]
    );
    assert_eq!(
        all[2],
        ["CONFIG", "SET", "timeout", "0", "requirepass", "(redacted)"]
    );
    assert_eq!(all[4][2], format!("{}... (72 more bytes)", &long[..128]));
    assert_eq!(all[5].len(), 32);
    assert_eq!(all[5][30], "key29");
    assert_eq!(all[5][31], "... (10 more arguments)", "41 arguments");
    let text = String::from_utf8_lossy(&client.call(&["SLOWLOG", "GET", "-1"])).into_owned();
    for password in ["hunter2", "hunter3", "hunter4"] {
        assert!(!text.contains(password), "{password} shown: {text}");
    }
    let ids: Vec<i64> = logged.iter().filter_map(|e| e.items[0].integer()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
}

#[test]
fn only_operators_read_the_slow_log() {
    let server = Server::sessiond(&[
        "--user", "shop", "shop-pw", "shop", "--user", "ops", "ops-pw", "*",
    ]);
    let mut shop = server.raw();
    assert_eq!(shop.call(&["AUTH", "shop", "shop-pw"]), b"+OK\r\n");
    assert_eq!(
        shop.call(&["SLOWLOG", "GET"]),
        b"-NOPERM User shop has no permissions to run the 'slowlog|get' command\r\n"
    );
    let mut ops = server.raw();
    assert_eq!(ops.call(&["AUTH", "ops", "ops-pw"]), b"+OK\r\n");
    assert_eq!(ops.call(&["SLOWLOG", "LEN"]), b":0\r\n");
}
