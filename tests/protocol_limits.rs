//! Input limits and protocol errors, over raw TCP against the real binary.
//!
//! Every malformed or oversized request must get Redis's exact `-ERR Protocol error: ...`
//! reply and a closed connection, before the server buffers the declared size; afterwards
//! the server must still serve new connections with its data intact. Inline commands, huge
//! but legal requests and clients vanishing mid-frame are covered too.

mod common;

use common::{ReadError, Server, encode_command, escape, vm_rss_kb};
use std::io::Write;
use std::net::Shutdown;

/// A key every test writes first and checks after each bad client.
const SENTINEL: (&str, &str) = ("sentinel", "still-here");

/// Starts a server and stores the sentinel key.
fn server_with_sentinel(extra_args: &[&str]) -> Server {
    let server = Server::sessiond(extra_args);
    let mut client = server.raw();
    assert_eq!(client.call(&["SET", SENTINEL.0, SENTINEL.1]), b"+OK\r\n");
    server
}

/// The server answers PING on a fresh connection and still holds the sentinel key.
fn assert_intact(server: &Server) {
    let mut client = server.raw();
    assert_eq!(
        client.call(&["PING"]),
        b"+PONG\r\n",
        "PING on a new connection"
    );
    let expected = format!("${}\r\n{}\r\n", SENTINEL.1.len(), SENTINEL.1);
    assert_eq!(
        escape(&client.call(&["GET", SENTINEL.0])),
        escape(expected.as_bytes()),
        "the key written before the bad client"
    );
}

/// Sends `bytes` on a new connection and expects exactly `error` followed by the close.
fn expect_protocol_error(server: &Server, bytes: &[u8], error: &str) {
    let mut client = server.raw();
    client.send_raw(bytes);
    let reply = client.read_reply();
    assert_eq!(
        escape(&reply),
        escape(format!("-ERR Protocol error: {error}\r\n").as_bytes()),
        "reply to \"{}\"",
        escape(&bytes[..bytes.len().min(60)])
    );
    client.expect_closed();
    assert_intact(server);
}

const RSS_LIMIT_KB: u64 = 100 * 1024;

#[test]
fn oversized_declared_bulk_is_refused_before_anything_is_buffered() {
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    client.send_raw(b"*1\r\n$536870913\r\n");
    assert_eq!(
        escape(&client.read_reply()),
        escape(b"-ERR Protocol error: invalid bulk length\r\n")
    );
    // The junk that would have been the bulk: the server should not take it in at all. It
    // may already have closed, so a failed send is fine.
    let junk = vec![b'x'; 1024 * 1024];
    let _ = client.try_send_raw(&junk);
    match client.try_read_reply(common::READ_TIMEOUT) {
        Err(ReadError::Closed { partial }) => assert!(
            partial.is_empty(),
            "unexpected bytes before the close: \"{}\"",
            escape(&partial)
        ),
        Ok(frame) => panic!("expected the close, got \"{}\"", escape(&frame)),
        Err(e) => panic!("expected the close: {e}"),
    }
    let rss = vm_rss_kb(server.pid());
    assert!(
        rss < RSS_LIMIT_KB,
        "server RSS is {rss} kB after a 512 MB bulk was declared"
    );
    assert_intact(&server);
}

#[test]
fn a_large_legal_bulk_is_not_allocated_before_its_bytes_arrive() {
    // 400 MB is under the default proto-max-bulk-len: the request is legal, but the server
    // must grow its buffer with the bytes that arrive, not with the declared length.
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    let header = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$419430400\r\n";
    client.send_raw(header);
    // 8 MB is more than the loopback socket buffers hold, so once the write returns the
    // server has read most of it.
    let chunk = vec![b'y'; 1024 * 1024];
    for _ in 0..8 {
        client.send_raw(&chunk);
    }
    let rss = vm_rss_kb(server.pid());
    assert!(
        rss < RSS_LIMIT_KB,
        "server RSS is {rss} kB with 8 MB of a declared 400 MB bulk received"
    );
    client.stream().shutdown(Shutdown::Both).expect("shutdown");
    drop(client);
    assert_intact(&server);
    let mut check = server.raw();
    assert_eq!(check.call(&["EXISTS", "big"]), b":0\r\n");
}

#[test]
fn multibulk_count_over_the_limit_is_refused() {
    let server = server_with_sentinel(&[]);
    expect_protocol_error(&server, b"*1048577\r\n", "invalid multibulk length");
    expect_protocol_error(&server, b"*abc\r\n", "invalid multibulk length");
}

#[test]
fn arguments_must_be_bulk_strings() {
    let server = server_with_sentinel(&[]);
    expect_protocol_error(&server, b"*1\r\n:5\r\n", "expected '$', got ':'");
    expect_protocol_error(
        &server,
        b"*2\r\n$3\r\nGET\r\n+k\r\n",
        "expected '$', got '+'",
    );
    expect_protocol_error(&server, b"*1\r\n$-1\r\n", "invalid bulk length");
    expect_protocol_error(&server, b"*1\r\n$abc\r\n", "invalid bulk length");
}

#[test]
fn overlong_header_lines_are_refused() {
    let server = server_with_sentinel(&[]);
    let mut mbulk = b"*".to_vec();
    mbulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
    expect_protocol_error(&server, &mbulk, "too big mbulk count string");

    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
    expect_protocol_error(&server, &bulk, "too big bulk count string");

    let inline = b"PING".repeat(70 * 1024 / 4);
    expect_protocol_error(&server, &inline, "too big inline request");
}

#[test]
fn a_protocol_error_closes_after_the_replies_before_it() {
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    let mut batch = encode_command(&["SET", "first", "1"]);
    batch.extend_from_slice(b"*1\r\n:5\r\n");
    batch.extend_from_slice(&encode_command(&["SET", "after", "1"]));
    client.send_raw(&batch);
    assert_eq!(client.read_reply(), b"+OK\r\n");
    assert_eq!(
        escape(&client.read_reply()),
        escape(b"-ERR Protocol error: expected '$', got ':'\r\n")
    );
    client.expect_closed();
    let mut check = server.raw();
    assert_eq!(check.call(&["EXISTS", "first"]), b":1\r\n");
    assert_eq!(
        check.call(&["EXISTS", "after"]),
        b":0\r\n",
        "a command after the bad frame must not run"
    );
    assert_intact(&server);
}

#[test]
fn inline_commands_work() {
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    client.send_raw(b"PING\r\n");
    assert_eq!(client.read_reply(), b"+PONG\r\n");
    client.send_raw(b"SET a b\r\n");
    assert_eq!(client.read_reply(), b"+OK\r\n");
    assert_eq!(client.call(&["GET", "a"]), b"$1\r\nb\r\n");
    // Bare LF, extra blanks and empty lines, mixed with a multibulk in one write.
    let mut batch = b"\r\n\r\nSET   c   d\nGET c\r\n".to_vec();
    batch.extend_from_slice(&encode_command(&["GET", "a"]));
    batch.extend_from_slice(b"ECHO hi\r\n");
    client.send_raw(&batch);
    assert_eq!(client.read_reply(), b"+OK\r\n");
    assert_eq!(client.read_reply(), b"$1\r\nd\r\n");
    assert_eq!(client.read_reply(), b"$1\r\nb\r\n");
    assert_eq!(client.read_reply(), b"$2\r\nhi\r\n");
    // Empty multibulks are skipped as Redis does.
    client.send_raw(b"*0\r\n*-1\r\nPING\r\n");
    assert_eq!(client.read_reply(), b"+PONG\r\n");
    assert_intact(&server);
}

#[test]
fn inline_commands_understand_quotes_like_redis() {
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    client.send_raw(b"SET q \"hello world\"\r\n");
    assert_eq!(client.read_reply(), b"+OK\r\n");
    assert_eq!(client.call(&["GET", "q"]), b"$11\r\nhello world\r\n");
    client.send_raw(b"SET k 'a b'\r\n");
    assert_eq!(client.read_reply(), b"+OK\r\n");
    assert_eq!(client.call(&["GET", "k"]), b"$3\r\na b\r\n");
    client.send_raw(b"ECHO \"\\x41\\n\"\r\n");
    assert_eq!(client.read_reply(), b"$2\r\nA\n\r\n");
    client.send_raw(b"SET q \"unbalanced\r\n");
    assert_eq!(
        escape(&client.read_reply()),
        escape(b"-ERR Protocol error: unbalanced quotes in request\r\n")
    );
    client.expect_closed();
    assert_intact(&server);
}

#[test]
fn negative_multibulk_counts_are_skipped_like_redis() {
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    client.send_raw(b"*-5\r\nPING\r\n");
    assert_eq!(escape(&client.read_reply()), escape(b"+PONG\r\n"));
}

#[test]
fn proto_max_bulk_len_limits_bulks() {
    let server = server_with_sentinel(&["--proto-max-bulk-len", "1mb"]);
    let mut client = server.raw();
    assert_eq!(
        client.call(&["CONFIG", "GET", "proto-max-bulk-len"]),
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n"
    );
    // Exactly the limit is fine.
    let value = vec![b'v'; 1024 * 1024];
    assert_eq!(
        client.call(&[b"SET".as_slice(), b"max", &value]),
        b"+OK\r\n"
    );
    assert_eq!(client.call(&["STRLEN", "max"]), b":1048576\r\n");
    // One byte more is refused as soon as the header arrives.
    expect_protocol_error(
        &server,
        b"*3\r\n$3\r\nSET\r\n$4\r\nover\r\n$1048577\r\n",
        "invalid bulk length",
    );
    // Also when the whole oversized request is sent at once.
    let big = vec![b'w'; 1024 * 1024 + 1];
    let mut over = server.raw();
    over.send(&[b"SET".as_slice(), b"over", &big]);
    assert_eq!(
        escape(&over.read_reply()),
        escape(b"-ERR Protocol error: invalid bulk length\r\n")
    );
    over.expect_closed();
    assert_eq!(client.call(&["EXISTS", "over"]), b":0\r\n");
    assert_intact(&server);
}

#[test]
fn config_set_proto_max_bulk_len_applies_to_open_connections() {
    let server = server_with_sentinel(&[]);
    let mut admin = server.raw();
    let mut other = server.raw();
    assert_eq!(other.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        admin.call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        b"+OK\r\n"
    );
    other.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    assert_eq!(
        escape(&other.read_reply()),
        escape(b"-ERR Protocol error: invalid bulk length\r\n")
    );
    other.expect_closed();
    assert_intact(&server);
}

#[test]
fn mset_with_100000_arguments() {
    let server = server_with_sentinel(&[]);
    let mut client = server.raw();
    let pairs = 50_000;
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(2 * pairs + 1);
    args.push(b"MSET".to_vec());
    for i in 0..pairs {
        args.push(format!("k:{i}").into_bytes());
        args.push(format!("value-{i}").into_bytes());
    }
    assert_eq!(client.call(&args), b"+OK\r\n");
    assert_eq!(
        client.call(&["DBSIZE"]),
        format!(":{}\r\n", pairs + 1).as_bytes()
    );
    let mut mget: Vec<Vec<u8>> = vec![b"MGET".to_vec()];
    mget.extend((0..pairs).map(|i| format!("k:{i}").into_bytes()));
    let reply = common::frame(&client.call(&mget));
    assert_eq!(reply.items.len(), pairs);
    for (i, item) in reply.items.iter().enumerate() {
        assert_eq!(item.text(), format!("value-{i}"), "MGET element {i}");
    }
    assert_intact(&server);
}

#[test]
fn clients_that_vanish_mid_frame_leave_the_server_fine() {
    let server = server_with_sentinel(&[]);
    let whole = encode_command(&["SET", "half", "written"]);
    // Cut in the count line, in a length line, in a bulk and just before the final CRLF.
    for cut in [1, 3, 6, 12, 20, whole.len() - 1] {
        let mut client = server.raw();
        client.send_raw(&whole[..cut]);
        client.stream().flush().expect("flush");
        client.stream().shutdown(Shutdown::Both).expect("shutdown");
        drop(client);
        assert_intact(&server);
    }
    // A client that half-sends a big bulk and resets the connection.
    let mut client = server.raw();
    client.send_raw(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100000\r\n");
    client.send_raw(&[b'z'; 50_000]);
    drop(client);
    assert_intact(&server);
    let mut check = server.raw();
    assert_eq!(
        check.call(&["EXISTS", "half"]),
        b":0\r\n",
        "no partial command may run"
    );
    // The half-written frames did not disturb later clients' pipelines.
    check.send_raw(
        &[
            encode_command(&["SET", "half", "x"]),
            encode_command(&["GET", "half"]),
        ]
        .concat(),
    );
    assert_eq!(check.read_reply(), b"+OK\r\n");
    assert_eq!(check.read_reply(), b"$1\r\nx\r\n");
}

#[test]
fn unauthenticated_clients_get_tight_limits() {
    let server = Server::sessiond(&["--requirepass", "secret"]);
    expect_unauthenticated_refusal(&server, b"*11\r\n", "unauthenticated multibulk length");
    expect_unauthenticated_refusal(
        &server,
        b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        "unauthenticated bulk length",
    );
    // Within the limits the usual NOAUTH error, and AUTH still works.
    let mut client = server.raw();
    assert_eq!(
        escape(&client.call(&["GET", "k"])),
        escape(b"-NOAUTH Authentication required.\r\n")
    );
    assert_eq!(client.call(&["AUTH", "secret"]), b"+OK\r\n");
    let mut args = vec!["MSET".to_string()];
    args.extend((0..20).map(|i| i.to_string()));
    assert_eq!(
        client.call(&args),
        b"+OK\r\n",
        "authenticated: no such limit"
    );
}

fn expect_unauthenticated_refusal(server: &Server, bytes: &[u8], error: &str) {
    let mut client = server.raw();
    client.send_raw(bytes);
    match client.try_read_reply(std::time::Duration::from_secs(2)) {
        Ok(reply) => assert_eq!(
            escape(&reply),
            escape(format!("-ERR Protocol error: {error}\r\n").as_bytes())
        ),
        Err(e) => panic!("no refusal of \"{}\": {e}", escape(bytes)),
    }
    client.expect_closed();
}
