//! Stopping and probing the server as operators and containers do: the SHUTDOWN command
//! and `sessiond ping`.

mod common;

use std::process::Command;

use common::{Server, free_port};

fn ping(port: u16, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sessiond"))
        .args(["ping", "--port", &port.to_string()])
        .args(extra)
        .output()
        .expect("run sessiond ping")
}

#[test]
fn ping_exits_0_only_when_the_server_answers() {
    let server = Server::sessiond(&["--requirepass", "s3cret"]);
    let port = server.addr().port();
    let answered = ping(port, &["--password", "s3cret"]);
    assert!(answered.status.success(), "{answered:?}");
    let refused = ping(port, &[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("NOAUTH"),
        "{refused:?}"
    );
    let wrong = ping(port, &["--password", "nope"]);
    assert!(!wrong.status.success());
    drop(server);
    let nobody = ping(free_port(), &[]);
    assert!(!nobody.status.success(), "nothing listens there");
}

#[test]
fn shutdown_closes_without_a_reply_flushes_the_aof_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().unwrap();
    let args = ["--appendonly", "yes", "--dir", dir_arg];
    let mut server = Server::sessiond(&args);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(raw.call(&["SHUTDOWN", "FOO"]), b"-ERR syntax error\r\n");
    assert_eq!(
        raw.call(&["SHUTDOWN", "ABORT"]),
        b"-ERR No shutdown in progress.\r\n"
    );
    raw.send(&["SHUTDOWN", "NOSAVE"]);
    raw.expect_closed();
    let status = server.wait();
    assert!(status.success(), "{status}: {}", server.output_tail());
    let server = Server::sessiond(&args);
    assert_eq!(server.raw().call(&["GET", "k"]), b"$1\r\nv\r\n");
}
