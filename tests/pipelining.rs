//! Pipelining: many requests in one write, requests split at arbitrary byte boundaries, and
//! batches that end in the middle of a frame. Every reply is checked against a model of
//! what the commands do, in order.

mod common;

use common::{RawClient, Server, encode_command, escape};
use std::collections::HashMap;
use std::io::Write;
use std::thread;

/// RESP bulk string.
fn bulk(value: &str) -> Vec<u8> {
    format!("${}\r\n{value}\r\n", value.len()).into_bytes()
}

/// Writes `bytes` with a single `write_all` on a clone of the client's socket, from another
/// thread, so the replies can be read while the requests are still going out.
fn write_in_background(client: &RawClient, bytes: Vec<u8>) -> thread::JoinHandle<()> {
    let mut stream = client.stream().try_clone().expect("clone the socket");
    thread::spawn(move || stream.write_all(&bytes).expect("write the pipeline"))
}

#[test]
fn ten_thousand_mixed_commands_in_one_write() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let mut strings: HashMap<String, String> = HashMap::new();
    let mut counters: HashMap<String, i64> = HashMap::new();
    let mut requests = Vec::new();
    let mut expected: Vec<Vec<u8>> = Vec::new();
    for i in 0..10_000u32 {
        match i % 5 {
            0 | 3 => {
                let key = format!("s:{}", i % 97);
                let value = format!("v{i}");
                requests.extend(encode_command(&["SET", &key, &value]));
                expected.push(b"+OK\r\n".to_vec());
                strings.insert(key, value);
            }
            1 => {
                let key = format!("s:{}", (i * 7) % 97);
                requests.extend(encode_command(&["GET", &key]));
                expected.push(strings.get(&key).map_or(b"$-1\r\n".to_vec(), |v| bulk(v)));
            }
            2 => {
                let key = format!("c:{}", i % 13);
                requests.extend(encode_command(&["INCR", &key]));
                let n = counters.entry(key).or_default();
                *n += 1;
                expected.push(format!(":{n}\r\n").into_bytes());
            }
            _ => {
                // Errors in the middle of the pipeline must not disturb the order.
                if i % 10 == 4 {
                    let key = format!("s:{}", i % 97);
                    requests.extend(encode_command(&["INCR", &key]));
                    let current = strings.get(&key).map(|v| v.parse::<i64>());
                    expected.push(match current {
                        Some(Err(_)) => {
                            b"-ERR value is not an integer or out of range\r\n".to_vec()
                        }
                        Some(Ok(n)) => {
                            strings.insert(key, (n + 1).to_string());
                            format!(":{}\r\n", n + 1).into_bytes()
                        }
                        None => {
                            strings.insert(key, "1".into());
                            b":1\r\n".to_vec()
                        }
                    });
                } else {
                    requests.extend(encode_command(&["GET", "c:3"]));
                    expected.push(
                        counters
                            .get("c:3")
                            .map_or(b"$-1\r\n".to_vec(), |n| bulk(&n.to_string())),
                    );
                }
            }
        }
    }
    let writer = write_in_background(&client, requests);
    for (i, want) in expected.iter().enumerate() {
        let got = client.read_reply();
        assert_eq!(escape(&got), escape(want), "reply {i}");
    }
    writer.join().expect("writer thread");
    assert_eq!(
        client.call(&["PING"]),
        b"+PONG\r\n",
        "nothing extra was sent"
    );
}

/// A small batch with every kind of frame boundary: multibulks, an inline command, a binary
/// bulk containing CRLF, an empty argument, and a multi-key command.
fn small_batch() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    let mut push = |request: Vec<u8>, reply: &[u8]| {
        batch.extend(request);
        expected.push(reply.to_vec());
    };
    push(encode_command(&["SET", "k", "v"]), b"+OK\r\n");
    push(encode_command(&["SET", "c", "10"]), b"+OK\r\n");
    push(b"INCR c\r\n".to_vec(), b":11\r\n");
    push(encode_command(&["GET", "k"]), b"$1\r\nv\r\n");
    push(
        encode_command(&[b"ECHO".as_slice(), b"a\r\nb"]),
        b"$4\r\na\r\nb\r\n",
    );
    push(encode_command(&["SET", "e", ""]), b"+OK\r\n");
    push(
        encode_command(&["MGET", "k", "e", "none"]),
        b"*3\r\n$1\r\nv\r\n$0\r\n\r\n$-1\r\n",
    );
    push(encode_command(&["DEL", "k"]), b":1\r\n");
    push(encode_command(&["GET", "k"]), b"$-1\r\n");
    push(b"PING\r\n".to_vec(), b"+PONG\r\n");
    (batch, expected)
}

fn read_all(client: &mut RawClient, expected: &[Vec<u8>], what: &str) {
    for (i, want) in expected.iter().enumerate() {
        let got = client.read_reply();
        assert_eq!(escape(&got), escape(want), "{what}: reply {i}");
    }
}

#[test]
fn a_batch_written_one_byte_at_a_time_gets_the_same_replies() {
    let server = Server::sessiond(&[]);
    let (batch, expected) = small_batch();

    let mut whole = server.raw();
    whole.send_raw(&batch);
    read_all(&mut whole, &expected, "whole batch");

    let mut bytewise = server.raw();
    let mut stream = bytewise.stream().try_clone().expect("clone the socket");
    for byte in &batch {
        stream.write_all(std::slice::from_ref(byte)).expect("write");
        stream.flush().expect("flush");
    }
    read_all(&mut bytewise, &expected, "one byte at a time");
    assert_eq!(bytewise.call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn a_batch_split_at_every_byte_boundary_gets_the_same_replies() {
    let server = Server::sessiond(&[]);
    let (batch, expected) = small_batch();
    let mut client = server.raw();
    for split in 1..batch.len() {
        client.send_raw(&batch[..split]);
        client.send_raw(&batch[split..]);
        read_all(&mut client, &expected, &format!("split at byte {split}"));
    }
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn replies_arrive_before_an_incomplete_trailing_frame_is_completed() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let tail = encode_command(&["GET", "x"]);
    let big_value = "b".repeat(100_000);
    let big = encode_command(&["SET", "big", &big_value]);
    // Cut the trailing frame in its count line, a length line, a bulk, and a big bulk.
    let cases: Vec<(Vec<u8>, usize)> = vec![
        (tail.clone(), 1),
        (tail.clone(), 5),
        (tail.clone(), 10),
        (tail.clone(), tail.len() - 1),
        (big.clone(), 30),
        (big.clone(), 50_000),
        (b"GET x\r\n".to_vec(), 3),
    ];
    for (round, (trailing, cut)) in cases.into_iter().enumerate() {
        let value = format!("r{round}");
        let mut first = Vec::new();
        first.extend(encode_command(&["PING"]));
        first.extend(encode_command(&["SET", "x", &value]));
        first.extend(encode_command(&["GET", "x"]));
        first.extend_from_slice(&trailing[..cut]);
        client.send_raw(&first);
        assert_eq!(client.read_reply(), b"+PONG\r\n", "round {round}");
        assert_eq!(client.read_reply(), b"+OK\r\n", "round {round}");
        assert_eq!(
            escape(&client.read_reply()),
            escape(&bulk(&value)),
            "round {round}: replies must not wait for the incomplete frame"
        );
        client.send_raw(&trailing[cut..]);
        let want = if trailing == big {
            b"+OK\r\n".to_vec()
        } else {
            bulk(&value)
        };
        assert_eq!(
            escape(&client.read_reply()),
            escape(&want),
            "round {round}: the completed frame"
        );
    }
    assert_eq!(client.call(&["STRLEN", "big"]), b":100000\r\n");
}

#[test]
fn large_values_inside_a_pipeline() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let value = "0123456789".repeat(200_000);
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.extend(encode_command(&["SET", &format!("big{i}"), &value]));
        batch.extend(encode_command(&["APPEND", &format!("big{i}"), "!"]));
    }
    batch.extend(encode_command(&["GET", "big4"]));
    let writer = write_in_background(&client, batch);
    for i in 0..5 {
        assert_eq!(client.read_reply(), b"+OK\r\n", "SET big{i}");
        assert_eq!(client.read_reply(), b":2000001\r\n", "APPEND big{i}");
    }
    let got = client.read_reply();
    writer.join().expect("writer thread");
    assert_eq!(got.len(), "$2000001\r\n".len() + 2_000_001 + 2);
    assert!(got.starts_with(b"$2000001\r\n0123456789"));
    assert!(got.ends_with(b"89!\r\n"));
}
