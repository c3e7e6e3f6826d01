//! TLS on `tls-port`: redis-cli (Debian's redis-tools, built with OpenSSL) and the `redis`
//! crate (rustls) talk to the real binary; mutual TLS under each `tls-auth-clients`; a plain
//! client on the TLS port; the plain port beside it; CONFIG GET/SET; start-up errors; the
//! handshake timeout against `maxclients`. Certificates are made fresh by rcgen for each test.

mod common;

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RawClient, Server, StartError, encode_command, free_port, parse_frame};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// How long a test waits for a TLS reply before it fails.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate and its key, as PEM files.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
}

impl Identity {
    fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(&self.cert).expect("read certificate")
    }

    fn key_pem(&self) -> Vec<u8> {
        std::fs::read(&self.key).expect("read key")
    }
}

/// A CA and what it signed, in a temporary directory: a server certificate for localhost and
/// 127.0.0.1, and a client certificate.
struct Authority {
    ca: PathBuf,
    server: Identity,
    client: Identity,
}

/// The files of a test: one trusted CA, and a second one the server does not trust.
struct Pki {
    _dir: tempfile::TempDir,
    trusted: Authority,
    stranger: Authority,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let trusted = authority(dir.path(), "trusted");
        let stranger = authority(dir.path(), "stranger");
        Pki {
            _dir: dir,
            trusted,
            stranger,
        }
    }

    /// The server's `tls-*` arguments: the trusted CA's server certificate and the CA.
    fn server_args(&self) -> Vec<String> {
        let a = &self.trusted;
        [
            "--tls-cert-file",
            path(&a.server.cert),
            "--tls-key-file",
            path(&a.server.key),
            "--tls-ca-cert-file",
            path(&a.ca),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Makes a CA named `name` and a server and a client certificate it signs, as files in `dir`.
fn authority(dir: &Path, name: &str) -> Authority {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("sessiond test CA {name}"));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let write = |file: &str, contents: String| {
        let path = dir.join(format!("{name}-{file}"));
        std::fs::write(&path, contents).expect("write PEM");
        path
    };
    let leaf = |sans: Vec<String>, usage: ExtendedKeyUsagePurpose, file: &str| {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} {file}"));
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
        Identity {
            cert: write(&format!("{file}.crt"), cert.pem()),
            key: write(&format!("{file}.key"), key.serialize_pem()),
        }
    };
    let server = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        "server",
    );
    let client = leaf(
        vec!["client.test".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
        "client",
    );
    Authority {
        ca: write("ca.crt", ca_cert.pem()),
        server,
        client,
    }
}

/// Starts sessiond with TLS on a free port (`--port 0` makes it TLS-only unless `args` name
/// a `--port`) and `args`, retrying when another process took the port first. Returns the
/// server and its TLS address.
fn start(pki: &Pki, args: &[&str]) -> (Server, SocketAddr) {
    for _ in 0..5 {
        let port = free_port();
        let port_arg = port.to_string();
        let mut all: Vec<&str> = vec!["--port", "0", "--appendonly", "no", "--tls-port", &port_arg];
        let tls_args = pki.server_args();
        all.extend(tls_args.iter().map(String::as_str));
        all.extend_from_slice(args);
        match Server::try_sessiond(&all) {
            Ok(server) => return (server, SocketAddr::from(([127, 0, 0, 1], port))),
            Err(e) if e.output().contains("Address already in use") => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no free TLS port after 5 tries");
}

/// A TLS connection made with rustls, trusting `ca`, showing `identity` if given, from
/// `source` if given.
type TlsStream = StreamOwned<ClientConnection, TcpStream>;

fn tls_config(ca: &Path, identity: Option<&Identity>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let config = match identity {
        Some(identity) => {
            let chain = CertificateDer::pem_file_iter(&identity.cert)
                .expect("client cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert PEM");
            let key = PrivateKeyDer::from_pem_file(&identity.key).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client identity")
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// Connects and completes the handshake (a TLS 1.3 server's verdict on the client's
/// certificate arrives with the first reply, so [`call`] is where a rejection shows).
fn tls_connect(
    addr: SocketAddr,
    ca: &Path,
    identity: Option<&Identity>,
    source: Option<IpAddr>,
) -> io::Result<TlsStream> {
    let socket = match source {
        Some(source) => RawClient::connect_from(source, addr).stream().try_clone()?,
        None => TcpStream::connect(addr)?,
    };
    handshake(socket, tls_config(ca, identity))
}

/// [`tls_connect`] over a connected socket, without a client certificate.
fn tls_over(socket: TcpStream, ca: &Path) -> TlsStream {
    handshake(socket, tls_config(ca, None)).expect("handshake")
}

/// Runs the client side of the handshake on `socket`.
fn handshake(socket: TcpStream, config: Arc<ClientConfig>) -> io::Result<TlsStream> {
    socket.set_read_timeout(Some(READ_TIMEOUT))?;
    let name = ServerName::try_from("localhost").expect("server name");
    let connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Sends a command and reads one whole reply frame.
fn call(stream: &mut TlsStream, args: &[&str]) -> io::Result<Vec<u8>> {
    stream.write_all(&encode_command(args))?;
    stream.flush()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((_, len))) = parse_frame(&reply) {
            reply.truncate(len);
            return Ok(reply);
        }
        match stream.read(&mut chunk)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            read => reply.extend_from_slice(&chunk[..read]),
        }
    }
}

/// Reads what the server sends until it closes the connection (which must happen within
/// [`READ_TIMEOUT`]).
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("read timeout");
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(read) => received.extend_from_slice(&chunk[..read]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!("the server should close the connection: {e}"),
        }
    }
}

/// Runs redis-cli over TLS against `addr` with `tls_args` and a command; returns its
/// stdout and stderr together, and whether it exited 0.
fn redis_cli(addr: SocketAddr, tls_args: &[&str], command: &[&str]) -> (String, bool) {
    let output = Command::new("redis-cli")
        .args(["--tls", "-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(tls_args)
        .args(command)
        .output()
        .expect("run redis-cli (apt-get install redis-tools)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (text, output.status.success())
}

/// A `redis` crate client over TLS trusting `ca`, with `identity` as its certificate.
fn redis_client(addr: SocketAddr, ca: &Path, identity: Option<&Identity>) -> redis::Client {
    let certificates = redis::TlsCertificates {
        client_tls: identity.map(|identity| redis::ClientTlsConfig {
            client_cert: identity.cert_pem(),
            client_key: identity.key_pem(),
        }),
        root_cert: Some(std::fs::read(ca).expect("read CA")),
    };
    let url = format!("rediss://127.0.0.1:{}/", addr.port());
    redis::Client::build_with_tls(url, certificates).expect("TLS client")
}

/// PING through a fresh `redis` crate connection.
fn redis_ping(client: &redis::Client) -> redis::RedisResult<String> {
    let mut connection = client.get_connection_with_timeout(READ_TIMEOUT)?;
    redis::cmd("PING").query(&mut connection)
}

#[test]
fn redis_cli_speaks_tls_with_the_ca_and_with_a_client_certificate() {
    let pki = Pki::new();
    let (_server, addr) = start(&pki, &["--tls-auth-clients", "no"]);
    let ca = ["--cacert", path(&pki.trusted.ca)];
    assert_eq!(redis_cli(addr, &ca, &["PING"]), ("PONG\n".into(), true));
    assert_eq!(
        redis_cli(addr, &ca, &["SET", "greeting", "hello tls"]),
        ("OK\n".into(), true)
    );
    assert_eq!(
        redis_cli(addr, &ca, &["GET", "greeting"]),
        ("hello tls\n".into(), true)
    );
    let (text, ok) = redis_cli(addr, &["--cacert", path(&pki.stranger.ca)], &["PING"]);
    assert!(
        !ok && !text.contains("PONG"),
        "a server certificate from a CA redis-cli does not trust must fail: {text}"
    );

    let pki = Pki::new();
    let (_server, addr) = start(&pki, &["--tls-auth-clients", "yes"]);
    let client = &pki.trusted.client;
    let mutual = [
        "--cacert",
        path(&pki.trusted.ca),
        "--cert",
        path(&client.cert),
        "--key",
        path(&client.key),
    ];
    assert_eq!(redis_cli(addr, &mutual, &["PING"]), ("PONG\n".into(), true));
    assert_eq!(
        redis_cli(addr, &mutual, &["SET", "k", "v"]),
        ("OK\n".into(), true)
    );
    assert_eq!(
        redis_cli(addr, &mutual, &["GET", "k"]),
        ("v\n".into(), true)
    );
    let ca = ["--cacert", path(&pki.trusted.ca)];
    let (text, ok) = redis_cli(addr, &ca, &["PING"]);
    assert!(
        !ok && !text.contains("PONG"),
        "redis-cli without a certificate must be refused under tls-auth-clients yes: {text}"
    );
}

#[test]
fn the_redis_crate_speaks_mutual_tls() {
    let pki = Pki::new();
    let (_server, addr) = start(&pki, &[]);
    let client = redis_client(addr, &pki.trusted.ca, Some(&pki.trusted.client));
    let mut connection = client
        .get_connection_with_timeout(READ_TIMEOUT)
        .expect("connect over mutual TLS");
    let () = redis::cmd("SET")
        .arg("user:1")
        .arg("alice")
        .query(&mut connection)
        .expect("SET");
    let value: String = redis::cmd("GET")
        .arg("user:1")
        .query(&mut connection)
        .expect("GET");
    assert_eq!(value, "alice");
    let big: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    let () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut connection)
        .expect("SET big");
    let back: Vec<u8> = redis::cmd("GET")
        .arg("big")
        .query(&mut connection)
        .expect("GET big");
    assert!(back == big, "the 3 MiB value came back changed");
    assert_eq!(redis_ping(&client).expect("PING"), "PONG");
}

/// A reply that fills the socket leaves in many TLS writes; the last encrypted bytes must go
/// out too, though the socket was full when TLS took them (a client with a small receive
/// buffer, 64 KiB, makes the server's socket fill).
#[test]
fn a_large_reply_arrives_whole_at_a_slow_reader() {
    let pki = Pki::new();
    let (_server, addr) = start(&pki, &["--tls-auth-clients", "no"]);
    // More than the kernel's largest send buffer (4 MiB here), so the server's writes block.
    let value: String = (0..16 << 20)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut writer = tls_connect(addr, &pki.trusted.ca, None, None).expect("handshake");
    assert_eq!(
        call(&mut writer, &["SET", "big", &value]).expect("SET"),
        b"+OK\r\n"
    );
    let socket = small_receive_buffer(addr);
    let mut reader = tls_over(socket, &pki.trusted.ca);
    let expected = format!("${}\r\n{value}\r\n", value.len());
    for _ in 0..2 {
        reader
            .write_all(&encode_command(&["GET", "big"]))
            .and_then(|()| reader.flush())
            .expect("send GET");
        let mut reply = vec![0u8; expected.len()];
        reader
            .read_exact(&mut reply)
            .expect("the whole reply arrives");
        assert!(
            reply == expected.as_bytes(),
            "the 16 MiB value came back changed"
        );
    }
    assert_eq!(call(&mut reader, &["PING"]).expect("PING"), b"+PONG\r\n");
}

/// A TCP connection with a 64 KiB receive buffer (the kernel's default grows to 32 MiB);
/// smaller ones make the transfer crawl from segment to segment.
fn small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(64 * 1024)?;
            socket.connect(addr).await?.into_std()
        })
        .expect("connect");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

#[test]
fn tls_auth_clients_yes_refuses_clients_without_a_valid_certificate() {
    let pki = Pki::new();
    // tls-auth-clients yes is the default, as in Redis.
    let (mut server, addr) = start(&pki, &[]);
    let without = redis_client(addr, &pki.trusted.ca, None);
    assert!(
        redis_ping(&without).is_err(),
        "a redis crate client without a certificate must be refused"
    );
    let foreign = redis_client(addr, &pki.trusted.ca, Some(&pki.stranger.client));
    assert!(
        redis_ping(&foreign).is_err(),
        "a certificate from another CA must be refused"
    );
    let mut stream = tls_connect(addr, &pki.trusted.ca, None, None).expect("handshake");
    let refused = call(&mut stream, &["PING"]);
    assert!(refused.is_err(), "no certificate, yet {refused:?}");
    let trusted = redis_client(addr, &pki.trusted.ca, Some(&pki.trusted.client));
    assert_eq!(redis_ping(&trusted).expect("PING"), "PONG");
    assert!(server.is_running());
}

#[test]
fn tls_auth_clients_optional_and_no() {
    let pki = Pki::new();
    let (_server, addr) = start(&pki, &["--tls-auth-clients", "optional"]);
    let without = redis_client(addr, &pki.trusted.ca, None);
    assert_eq!(redis_ping(&without).expect("no certificate"), "PONG");
    let trusted = redis_client(addr, &pki.trusted.ca, Some(&pki.trusted.client));
    assert_eq!(redis_ping(&trusted).expect("trusted certificate"), "PONG");
    let foreign = redis_client(addr, &pki.trusted.ca, Some(&pki.stranger.client));
    assert!(
        redis_ping(&foreign).is_err(),
        "optional still refuses a certificate that does not verify"
    );

    let (_server, addr) = start(&pki, &["--tls-auth-clients", "no"]);
    let foreign = redis_client(addr, &pki.trusted.ca, Some(&pki.stranger.client));
    assert_eq!(
        redis_ping(&foreign).expect("no certificate is asked for"),
        "PONG"
    );
    let without = redis_client(addr, &pki.trusted.ca, None);
    assert_eq!(redis_ping(&without).expect("no certificate"), "PONG");
}

#[test]
fn plain_port_beside_tls_and_a_plain_client_on_the_tls_port() {
    let pki = Pki::new();
    let plain_port = free_port().to_string();
    let (server, tls_addr) = start(&pki, &["--port", &plain_port, "--tls-auth-clients", "no"]);
    assert_ne!(server.addr(), tls_addr);
    let mut plain = server.raw();
    assert_eq!(plain.call(&["SET", "shared", "1"]), b"+OK\r\n");

    let mut talker = TcpStream::connect(tls_addr).expect("connect");
    talker.write_all(&encode_command(&["PING"])).expect("send");
    let answer = read_until_closed(&mut talker);
    assert!(
        !answer.starts_with(b"+") && !answer.starts_with(b"-"),
        "a plain client on the TLS port gets no RESP reply: {answer:?}"
    );

    let mut tls = tls_connect(tls_addr, &pki.trusted.ca, None, None).expect("handshake");
    assert_eq!(
        call(&mut tls, &["GET", "shared"]).expect("GET"),
        b"$1\r\n1\r\n"
    );
    assert_eq!(
        call(&mut tls, &["CONFIG", "GET", "tls-port"]).expect("CONFIG GET"),
        format!(
            "*2\r\n$8\r\ntls-port\r\n${}\r\n{}\r\n",
            tls_addr.port().to_string().len(),
            tls_addr.port()
        )
        .into_bytes()
    );
    let list = plain.call(&["CLIENT", "LIST"]);
    let list = String::from_utf8_lossy(&list);
    assert_eq!(
        list.matches(" laddr=").count(),
        2,
        "the plain and the TLS client are listed: {list}"
    );
    assert!(
        list.contains(&format!("laddr={tls_addr}")),
        "the TLS client shows the TLS port: {list}"
    );
    assert_eq!(plain.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(plain.info_field("stats", "total_connections_received"), "3");
    assert_eq!(
        plain.info_field("server", "tcp_port"),
        server.addr().port().to_string()
    );
}

#[test]
fn config_get_set_and_reloading_the_certificate() {
    let pki = Pki::new();
    let (_server, addr) = start(&pki, &[]);
    let mut admin =
        tls_connect(addr, &pki.trusted.ca, Some(&pki.trusted.client), None).expect("handshake");
    let get = |stream: &mut TlsStream, name: &str| {
        let reply = call(stream, &["CONFIG", "GET", name]).expect("CONFIG GET");
        let frame = common::frame(&reply);
        frame.items[1].text()
    };
    assert_eq!(get(&mut admin, "tls-port"), addr.port().to_string());
    assert_eq!(get(&mut admin, "tls-auth-clients"), "yes");
    assert_eq!(get(&mut admin, "tls-ca-cert-file"), path(&pki.trusted.ca));
    assert_eq!(get(&mut admin, "port"), "0");
    assert_eq!(
        call(&mut admin, &["CONFIG", "SET", "tls-port", "1"]).expect("reply"),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-port') - can't set immutable config\r\n"
    );

    let garbage = pki._dir.path().join("garbage.key");
    std::fs::write(&garbage, "not a key\n").expect("write");
    assert_eq!(
        call(
            &mut admin,
            &["CONFIG", "SET", "timeout", "7", "tls-key-file", path(&garbage)]
        )
        .expect("reply"),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-key-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert_eq!(
        get(&mut admin, "tls-key-file"),
        path(&pki.trusted.server.key)
    );
    assert_eq!(get(&mut admin, "timeout"), "0", "all or nothing");

    assert_eq!(
        call(
            &mut admin,
            &["CONFIG", "SET", "tls-auth-clients", "optional"]
        )
        .expect("reply"),
        b"+OK\r\n"
    );
    let without = redis_client(addr, &pki.trusted.ca, None);
    assert_eq!(redis_ping(&without).expect("optional now"), "PONG");

    // A new certificate from another CA: new connections get it, this one goes on.
    let stranger = &pki.stranger.server;
    let set = call(
        &mut admin,
        &[
            "CONFIG",
            "SET",
            "tls-cert-file",
            path(&stranger.cert),
            "tls-key-file",
            path(&stranger.key),
        ],
    )
    .expect("reply");
    assert_eq!(set, b"+OK\r\n");
    assert!(
        redis_ping(&without).is_err(),
        "the old CA no longer signs it"
    );
    let renewed = redis_client(addr, &pki.stranger.ca, None);
    assert_eq!(redis_ping(&renewed).expect("new certificate"), "PONG");
    assert_eq!(call(&mut admin, &["PING"]).expect("PING"), b"+PONG\r\n");
}

#[test]
fn bad_tls_files_fail_start_up_naming_them() {
    let pki = Pki::new();
    let dir = pki._dir.path();
    let garbage = dir.join("bad.key");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnope\n").expect("write");
    let missing = dir.join("missing.crt");
    let port = free_port().to_string();
    let with = |extra: &[&str]| {
        let mut args = vec!["--port", "0", "--appendonly", "no", "--tls-port", &port];
        let tls_args = pki.server_args();
        args.extend(tls_args.iter().map(String::as_str));
        args.extend_from_slice(extra);
        match Server::try_sessiond(&args) {
            Ok(_) => panic!("{extra:?} must fail start-up"),
            Err(StartError::Exited { status, output, .. }) => {
                assert!(!status.success());
                output
            }
            Err(e) => panic!("{e}"),
        }
    };
    let output = with(&["--tls-key-file", path(&garbage)]);
    assert!(
        output.contains(&format!("tls-key-file '{}'", garbage.display())),
        "{output}"
    );
    let output = with(&["--tls-cert-file", path(&missing)]);
    assert!(
        output.contains(&format!(
            "cannot read tls-cert-file '{}'",
            missing.display()
        )),
        "{output}"
    );
    let output = with(&["--tls-key-file", path(&pki.stranger.server.key)]);
    assert!(
        output.contains("does not go with tls-cert-file"),
        "{output}"
    );
    let output = with(&["--tls-ca-cert-file", ""]);
    assert!(
        output.contains("tls-auth-clients yes needs tls-ca-cert-file"),
        "{output}"
    );
    let output = with(&["--tls-cert-file", ""]);
    assert!(
        output.contains("tls-port is set, but tls-cert-file is not"),
        "{output}"
    );
}

#[test]
fn protected_mode_refuses_remote_tls_clients_after_the_handshake() {
    let pki = Pki::new();
    let (_server, addr) = start(&pki, &["--tls-auth-clients", "no"]);
    let mut stream = tls_connect(
        addr,
        &pki.trusted.ca,
        None,
        Some(IpAddr::from([127, 0, 0, 2])),
    )
    .expect("handshake");
    let reply = call(&mut stream, &["PING"]).expect("the refusal comes over TLS");
    assert!(reply.starts_with(b"-DENIED Redis is running in protected mode"));
    let mut local = tls_connect(addr, &pki.trusted.ca, None, None).expect("handshake");
    assert_eq!(call(&mut local, &["PING"]).expect("PING"), b"+PONG\r\n");
}

#[test]
fn a_silent_client_holds_its_slot_only_until_the_handshake_times_out() {
    let pki = Pki::new();
    let plain_port = free_port().to_string();
    let (server, addr) = start(
        &pki,
        &[
            "--port",
            &plain_port,
            "--maxclients",
            "2",
            "--tls-auth-clients",
            "no",
        ],
    );
    let mut admin = server.raw();
    assert_eq!(admin.call(&["PING"]), b"+PONG\r\n");
    let mut silent = TcpStream::connect(addr).expect("connect");
    let connected = Instant::now();
    // The server admits the silent client before its handshake: the next one is over the
    // limit and closed without a handshake.
    let refused = tls_connect(addr, &pki.trusted.ca, None, None)
        .and_then(|mut stream| call(&mut stream, &["PING"]));
    assert!(refused.is_err(), "over maxclients, yet {refused:?}");
    assert_eq!(admin.info_field("stats", "rejected_connections"), "1");

    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let read = silent.read(&mut byte);
    let waited = connected.elapsed();
    assert!(
        matches!(read, Ok(0)) || read.is_err() && waited < Duration::from_secs(30),
        "the silent client is closed: {read:?}"
    );
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(20),
        "closed after the 10 s handshake timeout, not after {waited:?}"
    );
    let mut stream = tls_connect(addr, &pki.trusted.ca, None, None).expect("handshake");
    assert_eq!(
        call(&mut stream, &["PING"]).expect("a slot is free again"),
        b"+PONG\r\n"
    );
}
