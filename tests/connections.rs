//! Connections at scale: 10,000 clients held open and served at once, and `maxclients`
//! refusing exactly one client over the limit while 2,000 others keep working.
//!
//! Both sides need more file descriptors than the usual soft limit of 1,024: this test
//! process raises its own soft limit with util-linux's `prlimit`, and each server is
//! started through `sh -c 'ulimit -n N && exec sessiond ...'` (sessiond raises its own soft
//! limit only as far as `maxclients` needs). When the hard limit is too low the tests fail
//! and say so.
//!
//! Commands go out as a pipeline across sockets: the command is written on every
//! connection first, then every reply is read, under one deadline for the whole round.
//! Connections are opened in waves smaller than the listen backlog (sessiond binds with
//! tokio's `TcpListener::bind`, which listens with a backlog of 128), each wave served (a
//! PING each) before the next: a full accept queue drops SYNs, and every dropped one
//! stalls its connect for the one-second SYN retransmit.

mod common;

use common::{
    RawClient, ReadError, Server, encode_command, escape, frame, nofile_limits, vm_rss_kb,
};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The open-file limit both this process and the servers are given (when the hard
/// limit allows it).
const FD_LIMIT: u64 = 20_000;

/// File descriptors this process needs at most: both tests run at once, the first with
/// 10,000 clients and an observer, the second with 2,000 clients and a few more, plus
/// pipes, the harness' sockets and slack.
const FDS_NEEDED_HERE: u64 = 10_001 + 2_003 + 200;

/// Connections opened before the wave is served and the next one opened; below the
/// listen backlog of 128.
const WAVE: usize = 100;

/// How long one round (a command on every connection, then every reply) may take.
const ROUND_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the server may take to notice closed connections.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

const REFUSED: &[u8] = b"-ERR max number of clients reached\r\n";

/// Raises this process' soft open-file limit to `FD_LIMIT` (or the hard limit, if lower)
/// once, and returns the limit to give the servers. Panics, saying what to do, when the
/// hard limit is below what the tests need.
fn raise_own_fd_limit() -> u64 {
    static LIMIT: OnceLock<Result<u64, String>> = OnceLock::new();
    let limit = LIMIT.get_or_init(|| {
        let (soft, hard) = nofile_limits("self");
        let target = hard.min(FD_LIMIT);
        if target < FDS_NEEDED_HERE {
            return Err(format!(
                "these tests need {FDS_NEEDED_HERE} open files, but the hard limit \
                 (ulimit -Hn) is {hard}: raise it, e.g. `ulimit -Hn {FD_LIMIT}` as root, or \
                 `--ulimit nofile={FD_LIMIT}:{FD_LIMIT}` for docker run"
            ));
        }
        if soft < target {
            let pid = std::process::id().to_string();
            let nofile = format!("--nofile={target}:");
            let output = std::process::Command::new("prlimit")
                .args(["--pid", &pid, &nofile])
                .output()
                .map_err(|e| {
                    format!("cannot run prlimit (util-linux) to raise the soft limit: {e}")
                })?;
            if !output.status.success() {
                return Err(format!(
                    "prlimit --pid {pid} {nofile} failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            let (raised, _) = nofile_limits("self");
            if raised < target {
                return Err(format!(
                    "prlimit {nofile} left the soft limit at {raised}, below {target}"
                ));
            }
        }
        Ok(target)
    });
    limit.clone().unwrap_or_else(|message| panic!("{message}"))
}

/// Starts sessiond with `ulimit -n FD_LIMIT` (so it can hold more than 1,024 sockets)
/// and `--port 0 --appendonly no EXTRA_ARGS...`, and checks that the limit took.
fn sessiond_with_fd_limit(fd_limit: u64, needed: u64, extra_args: &[&str]) -> Server {
    let script = format!("ulimit -n {fd_limit} && exec \"$0\" \"$@\"");
    let mut args = vec![
        "-c",
        &script,
        env!("CARGO_BIN_EXE_sessiond"),
        "--port",
        "0",
        "--appendonly",
        "no",
    ];
    args.extend_from_slice(extra_args);
    let server = Server::try_sessiond_at("sh", &args).unwrap_or_else(|e| panic!("{e}"));
    let pid = server.pid().to_string();
    // The shell exec'd the server, so the pid (for the limits and VmRSS) is sessiond's.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "sessiond", "process {pid} is not the server");
    let (soft, _) = nofile_limits(&pid);
    assert!(
        soft >= needed,
        "the server's open-file limit is {soft}, below the {needed} it needs"
    );
    server
}

/// Writes `command(i)` on every connection i, then reads one reply from each: a pipeline
/// across sockets, all under one deadline. The replies, in order; panics naming the
/// first failures (and showing the server's log) when a write or read fails.
fn round(
    clients: &mut [RawClient],
    server: &Server,
    what: &str,
    command: impl Fn(usize) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    let mut failures = Vec::new();
    let mut sent = vec![false; clients.len()];
    for (i, client) in clients.iter_mut().enumerate() {
        match client.try_send_raw(&command(i)) {
            Ok(()) => sent[i] = true,
            Err(e) => failures.push(format!("#{i}: cannot send: {e}")),
        }
    }
    let deadline = Instant::now() + ROUND_TIMEOUT;
    let mut replies = Vec::with_capacity(clients.len());
    for (i, client) in clients.iter_mut().enumerate() {
        if !sent[i] {
            replies.push(Vec::new());
            continue;
        }
        // At least a moment per read: replies already in the socket buffer still count.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        match client.try_read_reply(left) {
            Ok(reply) => replies.push(reply),
            Err(e) => {
                failures.push(format!("#{i}: {e}"));
                replies.push(Vec::new());
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "{what}: {} of {} connections failed; the first: {:?}\nserver output:\n{}",
            failures.len(),
            clients.len(),
            &failures[..failures.len().min(5)],
            server.output_tail()
        );
    }
    replies
}

/// Sends `args` on every connection (a [`round`]) and checks every reply is `expected`.
fn expect_everywhere(clients: &mut [RawClient], server: &Server, args: &[&str], expected: &[u8]) {
    let what = args.join(" ");
    let replies = round(clients, server, &what, |_| encode_command(args));
    let wrong: Vec<String> = replies
        .iter()
        .enumerate()
        .filter(|(_, reply)| reply.as_slice() != expected)
        .map(|(i, reply)| format!("#{i}: \"{}\"", escape(reply)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} connections did not get \"{}\"; the first: {:?}",
        wrong.len(),
        replies.len(),
        escape(expected),
        &wrong[..wrong.len().min(5)]
    );
}

/// Opens `count` connections in waves of [`WAVE`], each wave served (a PING on every
/// connection, pipelined across them) before the next is opened.
fn open_served(server: &Server, count: usize) -> Vec<RawClient> {
    let mut clients: Vec<RawClient> = Vec::with_capacity(count);
    while clients.len() < count {
        let start = clients.len();
        let wave = (count - start).min(WAVE);
        for _ in 0..wave {
            let client = RawClient::try_connect(server.addr()).unwrap_or_else(|e| {
                panic!(
                    "connection #{} to {}: {e}\nserver output:\n{}",
                    clients.len(),
                    server.addr(),
                    server.output_tail()
                )
            });
            clients.push(client);
        }
        expect_everywhere(&mut clients[start..], server, &["PING"], b"+PONG\r\n");
    }
    clients
}

fn connected_clients(client: &mut RawClient) -> usize {
    let value = client.info_field("clients", "connected_clients");
    value
        .parse()
        .unwrap_or_else(|_| panic!("connected_clients is {value:?}"))
}

/// Polls INFO until connected_clients is `expected`: the server notices closed
/// connections asynchronously, with no event to wait on. Returns how long it took.
fn wait_for_connected(client: &mut RawClient, expected: usize) -> Duration {
    let started = Instant::now();
    let deadline = started + CLOSE_TIMEOUT;
    loop {
        let connected = connected_clients(client);
        if connected == expected {
            return started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "connected_clients is still {connected} after {CLOSE_TIMEOUT:?}, expected {expected}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Fails when the server logged failed accepts (EMFILE and the like).
fn assert_no_accept_errors(server: &Server) {
    let output = server.output_tail();
    assert!(
        !output.contains("accept failed"),
        "the server failed to accept connections:\n{output}"
    );
}

/// Reads the refusal a client over `maxclients` gets, then the close.
fn expect_refused(client: &mut RawClient, server: &Server) {
    match client.try_read_reply(common::READ_TIMEOUT) {
        Ok(reply) => assert_eq!(
            escape(&reply),
            escape(REFUSED),
            "the client over maxclients got something else"
        ),
        Err(ReadError::Timeout) => panic!(
            "the client over maxclients got no refusal (was it admitted?)\nserver output:\n{}",
            server.output_tail()
        ),
        Err(e) => panic!("the client over maxclients: {e}"),
    }
    client.expect_closed();
}

#[test]
fn ten_thousand_connections_are_held_open_and_served() {
    const CLIENTS: usize = 10_000;
    let started = Instant::now();
    let fd_limit = raise_own_fd_limit();
    // The clients, the observer, and the server's own descriptors (listeners, epoll,
    // pipes...): 32 spare, as Redis reserves.
    let server = sessiond_with_fd_limit(
        fd_limit,
        CLIENTS as u64 + 1 + 32,
        &["--maxclients", "10050"],
    );
    let pid = server.pid();
    let mut observer = server.raw();
    assert_eq!(observer.call(&["PING"]), b"+PONG\r\n");
    let rss_idle_kb = vm_rss_kb(pid);

    let mut clients = open_served(&server, CLIENTS);
    let opened = started.elapsed();

    // All of them at once: PING written on every connection, then every PONG read.
    let round_started = Instant::now();
    expect_everywhere(&mut clients, &server, &["PING"], b"+PONG\r\n");
    let ping_round = round_started.elapsed();
    assert_eq!(
        connected_clients(&mut observer),
        CLIENTS + 1,
        "the clients and the observer"
    );

    // A write on one is read on another...
    assert_eq!(
        clients[0].call(&["SET", "written-by-the-first", "hello"]),
        b"+OK\r\n"
    );
    assert_eq!(
        clients[CLIENTS - 1].call(&["GET", "written-by-the-first"]),
        b"$5\r\nhello\r\n"
    );
    // ...and every one of them writes: INCR from all, each getting its own value.
    let replies = round(&mut clients, &server, "INCR", |_| {
        encode_command(&["INCR", "counter"])
    });
    let mut values: Vec<i64> = replies
        .iter()
        .map(|reply| {
            frame(reply)
                .integer()
                .unwrap_or_else(|| panic!("INCR replied \"{}\"", escape(reply)))
        })
        .collect();
    values.sort_unstable();
    assert!(
        values.iter().copied().eq(1..=CLIENTS as i64),
        "the INCR replies are not exactly 1..={CLIENTS} (first {:?}, last {:?})",
        values.first(),
        values.last()
    );
    assert_eq!(
        observer.call(&["GET", "counter"]),
        format!("${}\r\n{CLIENTS}\r\n", CLIENTS.to_string().len()).as_bytes()
    );
    let rss_kb = vm_rss_kb(pid);

    // Half of them leave; the server notices every close.
    clients.truncate(CLIENTS / 2);
    let noticed = wait_for_connected(&mut observer, CLIENTS / 2 + 1);
    expect_everywhere(&mut clients, &server, &["PING"], b"+PONG\r\n");
    assert_no_accept_errors(&server);

    let grown_bytes = rss_kb.saturating_sub(rss_idle_kb) * 1024;
    eprintln!(
        "{CLIENTS} connections: opened and served in {opened:?}, a PING on each in \
         {ping_round:?}; server VmRSS {rss_idle_kb} kB idle, {rss_kb} kB with them open \
         (~{} bytes per connection); {} closes noticed in {noticed:?}; total {:?}",
        grown_bytes / CLIENTS as u64,
        CLIENTS / 2,
        started.elapsed()
    );
}

#[test]
fn one_client_over_maxclients_gets_the_error_and_the_rest_keep_working() {
    const MAX: usize = 2_000;
    let started = Instant::now();
    let fd_limit = raise_own_fd_limit();
    let server = sessiond_with_fd_limit(fd_limit, MAX as u64 + 1 + 32, &["--maxclients", "2000"]);
    let mut clients = open_served(&server, MAX);
    assert_eq!(connected_clients(&mut clients[0]), MAX);

    // One more: refused with the error, then closed.
    let mut extra = RawClient::connect(server.addr());
    expect_refused(&mut extra, &server);

    // The 2,000 keep working, and a write on one is read on another.
    expect_everywhere(&mut clients, &server, &["PING"], b"+PONG\r\n");
    assert_eq!(clients[0].call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(clients[MAX - 1].call(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(connected_clients(&mut clients[1]), MAX);
    assert_eq!(
        clients[1].info_field("stats", "rejected_connections"),
        "1",
        "only the extra client was refused"
    );

    // One leaves: once the server has noticed, a new client is admitted and served...
    drop(clients.remove(MAX / 2));
    wait_for_connected(&mut clients[0], MAX - 1);
    let mut newcomer = RawClient::connect(server.addr());
    assert_eq!(newcomer.call(&["GET", "k"]), b"$1\r\nv\r\n");
    clients.push(newcomer);
    // ...and the server is full again.
    let mut another = RawClient::connect(server.addr());
    expect_refused(&mut another, &server);
    expect_everywhere(&mut clients, &server, &["PING"], b"+PONG\r\n");
    assert_eq!(connected_clients(&mut clients[0]), MAX);
    assert_eq!(clients[0].info_field("stats", "rejected_connections"), "2");
    assert_no_accept_errors(&server);
    eprintln!(
        "maxclients {MAX}: {MAX} connections served, the extra ones refused, in {:?}",
        started.elapsed()
    );
}
