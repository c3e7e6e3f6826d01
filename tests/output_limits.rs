//! `client-output-buffer-limit`: a client that does not read what it is sent is disconnected
//! at its class's limit, so the server's memory stays bounded, and everyone else is served.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{RawClient, Server, vm_rss_kb};

/// One published message's payload.
const PAYLOAD: usize = 64 * 1024;
/// How much the test publishes at most: far more than any limit, socket buffers included.
const MOST_PUBLISHED: usize = 512 << 20;

/// Reads what the server still sends `client` until it closes the connection; how many
/// bytes that was. Panics if it stays open for 30 s.
fn drain_until_closed(client: &RawClient) -> usize {
    let mut stream = client.stream().try_clone().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut chunk = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_at_its_limit_and_memory_stays_bounded() {
    let server = Server::sessiond(&["--client-output-buffer-limit", "pubsub", "8mb", "2mb", "60"]);
    let mut subscriber = RawClient::connect(server.addr());
    subscriber.send(&["SUBSCRIBE", "news"]);
    subscriber.read_reply();
    let baseline_kb = vm_rss_kb(server.pid());

    let mut publisher = RawClient::connect(server.addr());
    let payload = vec![b'x'; PAYLOAD];
    let mut published = 0;
    let mut peak_kb = baseline_kb;
    let receivers = loop {
        let reply = publisher.call(&[b"PUBLISH".as_slice(), b"news", &payload]);
        published += PAYLOAD;
        peak_kb = peak_kb.max(vm_rss_kb(server.pid()));
        if reply != b":1\r\n" || published >= MOST_PUBLISHED {
            break reply;
        }
    };
    assert_eq!(
        receivers,
        b":0\r\n",
        "after {} MB published the subscriber still receives",
        published >> 20
    );
    // Socket buffers on both ends hold a few MB; the server holds at most the limit.
    assert!(
        published < 64 << 20,
        "disconnected only after {} MB",
        published >> 20
    );
    assert!(
        peak_kb < baseline_kb + 48 * 1024,
        "RSS grew from {baseline_kb} kB to {peak_kb} kB"
    );

    let received = drain_until_closed(&subscriber);
    assert!(
        received < published,
        "the subscriber got everything ({received} bytes)"
    );
    assert_eq!(publisher.call(&["PING"]), b"+PONG\r\n");
    let clients = String::from_utf8_lossy(&publisher.call(&["CLIENT", "LIST"])).into_owned();
    assert_eq!(clients.matches("id=").count(), 1, "{clients}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .output_tail()
        .contains("closed for overcoming of output buffer limits")
    {
        assert!(Instant::now() < deadline, "{}", server.output_tail());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_subscriber_that_reads_is_never_disconnected() {
    let server = Server::sessiond(&["--client-output-buffer-limit", "pubsub", "1mb", "0", "0"]);
    let mut subscriber = RawClient::connect(server.addr());
    subscriber.send(&["SUBSCRIBE", "news"]);
    subscriber.read_reply();
    let mut publisher = RawClient::connect(server.addr());
    let payload = vec![b'y'; PAYLOAD];
    // 32 MB in all, far over the limit, but never more than one message waiting.
    for _ in 0..512 {
        assert_eq!(
            publisher.call(&[b"PUBLISH".as_slice(), b"news", &payload]),
            b":1\r\n"
        );
        let message = subscriber.read_reply();
        assert!(message.len() > PAYLOAD, "a message arrives whole");
    }
}

#[test]
fn a_normal_client_over_its_reply_limit_is_disconnected() {
    let server = Server::sessiond(&["--client-output-buffer-limit", "normal", "1mb", "0", "0"]);
    let mut client = RawClient::connect(server.addr());
    let value = vec![b'v'; 256 * 1024];
    assert_eq!(
        client.call(&[b"SET".as_slice(), b"big", &value]),
        b"+OK\r\n"
    );
    // Under the limit: three replies of 256 kB in one batch.
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.extend_from_slice(&common::encode_command(&["GET", "big"]));
    }
    client.send_raw(&batch);
    for _ in 0..3 {
        assert_eq!(client.read_reply().len(), value.len() + 11);
    }
    // Over it: eight in one batch make 2 MB of replies at once.
    let mut batch = Vec::new();
    for _ in 0..8 {
        batch.extend_from_slice(&common::encode_command(&["GET", "big"]));
    }
    client.send_raw(&batch);
    let received = drain_until_closed(&client);
    assert!(received < 8 * value.len(), "got {received} bytes");
    let mut other = RawClient::connect(server.addr());
    assert_eq!(other.call(&["STRLEN", "big"]), b":262144\r\n");
}
