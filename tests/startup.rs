//! Start-up and configuration: config files and their errors, command-line overrides, the
//! documented example file, `--help`, and the settings that shape what clients see
//! (`notify-keyspace-events`, `databases`, `requirepass`).

mod common;

use common::{Server, StartError, TempConf, escape, frame, vm_rss_kb};
use std::path::Path;
use std::process::Command;

/// Starts sessiond with `args`, expecting it to exit with an error; returns what it printed.
fn start_failure(args: &[&str]) -> String {
    match Server::try_sessiond(args) {
        Ok(server) => panic!("sessiond started with {args:?} ({server:?}) but should have refused"),
        Err(StartError::Exited { status, output, .. }) => {
            assert!(!status.success(), "exit status {status} for {args:?}");
            output
        }
        Err(e) => panic!("sessiond {args:?} did not fail cleanly: {e}"),
    }
}

/// Whether `output` points at line `line` of `file` (as `FILE:LINE` or `FILE ... line LINE`).
fn names_file_and_line(output: &str, file: &str, line: usize) -> bool {
    output.contains(&format!("{file}:{line}"))
        || output.lines().any(|l| {
            l.contains(file)
                && (l.contains(&format!("line {line}")) || l.contains(&format!(":{line}:")))
        })
}

/// One CONFIG GET value through the raw client.
fn config_get(server: &Server, name: &str) -> String {
    let mut client = server.raw();
    let reply = frame(&client.call(&["CONFIG", "GET", name]));
    assert_eq!(
        reply.items.len(),
        2,
        "CONFIG GET {name}: {}",
        escape(&reply.raw)
    );
    reply.items[1].text()
}

#[test]
fn an_unknown_directive_names_the_file_and_line() {
    let conf = TempConf::new("# a comment\nport 0\nappendonly no\nfrobnicate yes\ntimeout 0\n");
    let output = start_failure(&[conf.arg()]);
    assert!(
        names_file_and_line(&output, conf.arg(), 4),
        "the error must name {}:4; output:\n{output}",
        conf.arg()
    );
    assert!(output.contains("frobnicate"), "output:\n{output}");
}

#[test]
fn a_bad_value_names_the_file_and_line() {
    let conf = TempConf::new("appendonly no\n\nport abc\n");
    let output = start_failure(&[conf.arg()]);
    assert!(
        names_file_and_line(&output, conf.arg(), 3),
        "the error must name {}:3; output:\n{output}",
        conf.arg()
    );
    assert!(
        output.contains("port") && output.contains("abc"),
        "output:\n{output}"
    );
}

#[test]
fn bad_command_line_directives_are_refused() {
    let output = start_failure(&["--port", "0", "--appendonly", "no", "--frobnicate", "yes"]);
    assert!(output.contains("frobnicate"), "output:\n{output}");
    let output = start_failure(&["--port", "abc", "--appendonly", "no"]);
    assert!(
        output.contains("port") && output.contains("abc"),
        "output:\n{output}"
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let missing = std::env::temp_dir().join("sessiond-startup-no-such-file.conf");
    let missing = missing.to_str().expect("UTF-8 path");
    let output = start_failure(&[missing, "--port", "0", "--appendonly", "no"]);
    assert!(output.contains(missing), "output:\n{output}");
}

#[test]
fn command_line_overrides_win_over_the_file() {
    let conf = TempConf::new(
        "port 0\nappendonly no\ntimeout 30\nmaxclients 123\nnotify-keyspace-events \"Kx\"\n",
    );
    let server =
        Server::try_sessiond(&[conf.arg(), "--timeout", "5"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config_get(&server, "timeout"), "5", "the flag wins");
    assert_eq!(config_get(&server, "maxclients"), "123", "the file applies");
    assert_eq!(config_get(&server, "notify-keyspace-events"), "xK");
}

#[test]
fn the_documented_example_config_starts() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/sessiond.conf");
    let example = example.to_str().expect("UTF-8 path");
    // metrics-port is overridden too, so parallel runs do not fight over its fixed port.
    let server = Server::try_sessiond(&[
        example,
        "--port",
        "0",
        "--appendonly",
        "no",
        "--metrics-port",
        "0",
    ])
    .unwrap_or_else(|e| panic!("the example config does not start: {e}"));
    let mut client = server.raw();
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(config_get(&server, "databases"), "16");
    assert_eq!(config_get(&server, "appendonly"), "no");
    assert_eq!(config_get(&server, "proto-max-bulk-len"), "536870912");
}

#[test]
fn help_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_sessiond"))
        .arg("--help")
        .output()
        .expect("run sessiond --help");
    assert!(output.status.success(), "status {}", output.status);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Usage"), "help text:\n{text}");
}

#[test]
fn notify_keyspace_events_reads_back_in_redis_canonical_form() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    // Checked against redis-server 7.0.
    for (set, canonical) in [
        ("Ex", "xE"),
        ("KEA", "AKE"),
        ("xE", "xE"),
        ("Kx", "xK"),
        ("Elg", "glE"),
        ("g$lshzxe", "g$lshzxe"),
        ("EA", "AE"),
        ("tdKE", "tdKE"),
        ("mn", "nm"),
        ("", ""),
    ] {
        assert_eq!(
            client.call(&["CONFIG", "SET", "notify-keyspace-events", set]),
            b"+OK\r\n",
            "CONFIG SET notify-keyspace-events {set:?}"
        );
        assert_eq!(
            config_get(&server, "notify-keyspace-events"),
            canonical,
            "after CONFIG SET notify-keyspace-events {set:?}"
        );
    }
    assert_eq!(
        escape(&client.call(&["CONFIG", "SET", "notify-keyspace-events", "Q"])),
        escape(
            b"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
        )
    );
}

#[test]
fn databases_bounds_select() {
    let server = Server::sessiond(&["--databases", "4"]);
    let mut client = server.raw();
    assert_eq!(client.call(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(
        escape(&client.call(&["SELECT", "4"])),
        escape(b"-ERR DB index is out of range\r\n")
    );
    assert_eq!(
        escape(&client.call(&["SELECT", "-1"])),
        escape(b"-ERR DB index is out of range\r\n")
    );
    assert_eq!(config_get(&server, "databases"), "4");
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let server = Server::sessiond(&["--requirepass", "secret"]);
    let mut client = server.raw();
    for command in [&["GET", "x"][..], &["PING"], &["SET", "x", "1"]] {
        assert_eq!(
            escape(&client.call(command)),
            escape(b"-NOAUTH Authentication required.\r\n"),
            "{command:?} before AUTH"
        );
    }
    assert_eq!(
        escape(&client.call(&["AUTH", "wrong"])),
        escape(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    );
    assert_eq!(
        escape(&client.call(&["GET", "x"])),
        escape(b"-NOAUTH Authentication required.\r\n"),
        "a failed AUTH leaves the client unauthenticated"
    );
    assert_eq!(client.call(&["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "x", "1"]), b"+OK\r\n");
    assert_eq!(client.call(&["GET", "x"]), b"$1\r\n1\r\n");

    let mut two_args = server.raw();
    assert_eq!(two_args.call(&["AUTH", "default", "secret"]), b"+OK\r\n");
    assert_eq!(two_args.call(&["GET", "x"]), b"$1\r\n1\r\n");

    let mut hello = server.raw();
    assert_eq!(
        escape(&hello.call(&["HELLO", "3", "AUTH", "default", "wrong"])),
        escape(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    );
    let reply = frame(&hello.call(&["HELLO", "3", "AUTH", "default", "secret"]));
    assert_eq!(
        reply.kind,
        b'%',
        "HELLO 3 answers a map: {}",
        escape(&reply.raw)
    );
    assert_eq!(reply.get("proto").and_then(|p| p.integer()), Some(3));
    assert_eq!(hello.call(&["GET", "x"]), b"$1\r\n1\r\n");
    assert_eq!(
        hello.call(&["CONFIG", "GET", "requirepass"]),
        b"%1\r\n$11\r\nrequirepass\r\n$6\r\nsecret\r\n"
    );
}

#[test]
fn databases_are_created_on_first_use() {
    let server = Server::sessiond(&["--databases", "1000000"]);
    let rss_kb = vm_rss_kb(server.pid());
    assert!(
        rss_kb < 200 * 1024,
        "a million unused databases must cost little memory, RSS is {rss_kb} kB"
    );
    let mut client = server.raw();
    assert_eq!(client.call(&["SELECT", "999999"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(client.call(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(
        escape(&client.call(&["SELECT", "1000000"])),
        escape(b"-ERR DB index is out of range\r\n")
    );
    assert_eq!(client.call(&["DBSIZE"]), b":1\r\n");
}
