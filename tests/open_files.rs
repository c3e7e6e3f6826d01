//! The open-file limit and `maxclients`: sessiond raises its soft `RLIMIT_NOFILE` toward
//! `maxclients` + 32, never above the hard limit, and takes fewer clients when that is not
//! enough, as Redis does. Each server starts under util-linux's `prlimit --nofile=SOFT:HARD`,
//! which sets the limits and execs it (so the pid is the server's).

mod common;

use common::{Server, nofile_limits};

/// Starts sessiond under `prlimit --nofile=SOFT:HARD` with `--port 0 --appendonly no ARGS`.
fn sessiond_with_nofile(soft: u64, hard: u64, args: &[&str]) -> Server {
    let nofile = format!("--nofile={soft}:{hard}");
    let mut all = vec![
        nofile.as_str(),
        env!("CARGO_BIN_EXE_sessiond"),
        "--port",
        "0",
        "--appendonly",
        "no",
    ];
    all.extend_from_slice(args);
    let server = Server::try_sessiond_at("prlimit", &all).unwrap_or_else(|e| panic!("{e}"));
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", server.pid())).unwrap_or_default();
    assert_eq!(comm.trim(), "sessiond", "prlimit did not exec the server");
    server
}

fn limits_of(server: &Server) -> (u64, u64) {
    nofile_limits(&server.pid().to_string())
}

fn maxclients(server: &Server) -> Vec<u8> {
    server.raw().call(&["CONFIG", "GET", "maxclients"])
}

fn config_get_reply(value: &str) -> Vec<u8> {
    format!("*2\r\n$10\r\nmaxclients\r\n${}\r\n{value}\r\n", value.len()).into_bytes()
}

#[test]
fn a_low_hard_limit_lowers_maxclients_and_says_so() {
    let server = sessiond_with_nofile(1024, 1024, &["--maxclients", "10000"]);
    assert_eq!(maxclients(&server), config_get_reply("992"));
    assert_eq!(limits_of(&server), (1024, 1024));
    let log = server.output_tail();
    for line in [
        "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
        "Server can't set maximum open files to 10032 because the hard limit is 1024.",
        "Current maximum open files is 1024. maxclients has been reduced to 992 to \
         compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
    ] {
        assert!(log.contains(line), "no {line:?} in the log:\n{log}");
    }
    let mut client = server.raw();
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(client.call(&["GET", "k"]), b"$1\r\nv\r\n");
}

#[test]
fn the_soft_limit_is_raised_as_far_as_maxclients_needs() {
    let server = sessiond_with_nofile(512, 4096, &["--maxclients", "2000"]);
    assert_eq!(limits_of(&server), (2032, 4096));
    assert_eq!(maxclients(&server), config_get_reply("2000"));
    assert!(
        server.output_tail().contains(
            "Increased maximum number of open files to 2032 (it was originally set to 512)."
        ),
        "{}",
        server.output_tail()
    );

    // Up to the hard limit, CONFIG SET raises it again; past it, it is refused.
    let mut client = server.raw();
    assert_eq!(
        client.call(&["CONFIG", "SET", "maxclients", "3000"]),
        b"+OK\r\n"
    );
    assert_eq!(limits_of(&server), (3032, 4096));
    let refused = client.call(&["CONFIG", "SET", "maxclients", "5000", "timeout", "7"]);
    assert_eq!(
        String::from_utf8_lossy(&refused),
        "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating \
         system is not able to handle the specified number of clients, try with 4064\r\n"
    );
    assert_eq!(maxclients(&server), config_get_reply("3000"));
    assert_eq!(
        client.call(&["CONFIG", "GET", "timeout"]),
        b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n",
        "a refused CONFIG SET changes nothing"
    );
    assert_eq!(
        client.call(&["CONFIG", "SET", "maxclients", "100"]),
        b"+OK\r\n"
    );
    assert_eq!(maxclients(&server), config_get_reply("100"));
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn a_limit_without_room_for_a_client_stops_start_up() {
    let nofile = "--nofile=32:32";
    let args = [
        nofile,
        env!("CARGO_BIN_EXE_sessiond"),
        "--port",
        "0",
        "--appendonly",
        "no",
    ];
    let Err(error) = Server::try_sessiond_at("prlimit", &args) else {
        panic!("sessiond started with 32 open files");
    };
    assert!(
        error.output().contains(
            "Your current 'ulimit -n' of 32 is not enough for the server to start. Please \
             increase your open file limit to at least 10032."
        ),
        "{error}"
    );
}
