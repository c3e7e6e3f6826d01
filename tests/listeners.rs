//! Listening: `bind 0.0.0.0 ::` on one port (IPv6 sockets are IPv6-only, as in Redis), and
//! an accept loop that runs out of descriptors logging once per burst, not every 10 ms.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{RawClient, Server, frame, free_port, nofile_limits};

#[test]
fn the_ipv4_and_ipv6_wildcards_share_a_port() {
    let port = free_port().to_string();
    let server = Server::sessiond(&["--bind", "0.0.0.0", "::", "--port", &port]);
    let port: u16 = port.parse().expect("a port");
    for ip in [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()] {
        let addr = SocketAddr::new(ip, port);
        let mut client = RawClient::connect(addr);
        assert_eq!(client.call(&["PING"]), b"+PONG\r\n", "{addr}");
        let info = frame(&client.call(&["CLIENT", "INFO"])).text();
        assert!(info.contains(&format!(" laddr={addr} ")), "{addr}: {info}");
    }
    assert!(
        server
            .output_tail()
            .contains("Ready to accept connections tcp on [::]:")
    );
}

/// Sets the soft open-file limit of process `pid`, keeping its hard limit.
fn set_soft_nofile(pid: u32, soft: u64) {
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
        .status()
        .expect("runs prlimit (util-linux)");
    assert!(
        status.success(),
        "prlimit --pid {pid} --nofile={soft}: failed"
    );
}

/// How many descriptors process `pid` has open.
fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("reads /proc/PID/fd")
        .count() as u64
}

#[test]
fn accept_failures_are_logged_once_per_burst() {
    let server = Server::sessiond(&["--maxclients", "100"]);
    let pid = server.pid();
    let (soft, _) = nofile_limits(&pid.to_string());
    // Room for two more descriptors: the third client waits in the backlog, and every
    // retry of accept (each 10 ms) fails with EMFILE.
    set_soft_nofile(pid, open_fds(pid) + 2);
    let mut clients: Vec<RawClient> = (0..6).map(|_| server.raw()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.output_tail().contains("accept failed") {
        assert!(Instant::now() < deadline, "{}", server.output_tail());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Half a second of failures, fifty retries: still the one line.
    std::thread::sleep(Duration::from_millis(500));
    let log = server.output_tail();
    assert_eq!(log.matches("accept failed").count(), 1, "{log}");
    assert!(log.contains("Too many open files"), "{log}");

    // With descriptors again, every waiting client is served.
    set_soft_nofile(pid, soft);
    for client in &mut clients {
        assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
    }
}
