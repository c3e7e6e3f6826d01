//! `protected-mode`: with no password, only clients on 127.0.0.1 or ::1 are served; others
//! get Redis's `-DENIED` text, byte for byte, and are disconnected. A client from another
//! address is made by binding its socket to 127.0.0.2, which is still this host but not
//! what Redis counts as local.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::{RawClient, Server};

const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The server's port, on the 0.0.0.0 it listens on, as reached over loopback.
fn reachable(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.addr().port()))
}

/// The reply to a PING from 127.0.0.2, after checking that the server then closed the
/// connection.
fn refusal(server: &Server) -> String {
    let mut outsider = RawClient::connect_from(ELSEWHERE, reachable(server));
    // The server may have closed already; what it wrote must still be readable.
    let _ = outsider.try_send(&["PING"]);
    let reply = String::from_utf8_lossy(&outsider.read_reply()).into_owned();
    outsider.expect_closed();
    reply
}

#[test]
fn clients_from_elsewhere_get_redis_refusal_while_no_password_is_set() {
    let redis = Server::redis(&["--bind", "0.0.0.0", "--protected-mode", "yes"]);
    let sessiond = Server::sessiond(&["--bind", "0.0.0.0"]);
    let expected = refusal(&redis);
    assert!(
        expected.starts_with("-DENIED Redis is running in protected mode"),
        "redis-server: {expected}"
    );
    assert_eq!(
        refusal(&sessiond),
        expected,
        "the same refusal as redis-server"
    );
    assert_eq!(
        RawClient::connect(reachable(&sessiond)).call(&["PING"]),
        b"+PONG\r\n",
        "127.0.0.1 is served"
    );
}

#[test]
fn a_password_or_protected_mode_no_lets_them_in() {
    let with_password = Server::sessiond(&["--bind", "0.0.0.0", "--requirepass", "s3cret"]);
    let mut outsider = RawClient::connect_from(ELSEWHERE, reachable(&with_password));
    assert_eq!(outsider.call(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(outsider.call(&["PING"]), b"+PONG\r\n");

    let open = Server::sessiond(&["--bind", "0.0.0.0"]);
    assert!(refusal(&open).starts_with("-DENIED"));
    let mut local = RawClient::connect(reachable(&open));
    assert_eq!(
        local.call(&["CONFIG", "SET", "protected-mode", "no"]),
        b"+OK\r\n"
    );
    let mut outsider = RawClient::connect_from(ELSEWHERE, reachable(&open));
    assert_eq!(outsider.call(&["PING"]), b"+PONG\r\n");
}
