//! `maxmemory` with `noeviction`: once memory in use passes the limit, commands that may grow
//! it get Redis's `-OOM` error, reads and deletes keep working, and writes are accepted again
//! once deletes bring memory back under the limit.

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
