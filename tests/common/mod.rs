//! Shared helpers for sessiond's integration tests.
//!
//! * [`Server`] starts a server process — `sessiond` (the binary cargo built for
//!   this package) or a reference `redis-server` — on an ephemeral port, waits
//!   for its "ready" line on stdout (no sleeps, no port polling) and kills it on
//!   drop.
//! * [`RawClient`] speaks raw RESP over a plain [`TcpStream`] and returns the
//!   exact bytes of every reply frame, so tests can assert on the wire format
//!   (RESP2 and RESP3) and on exact error strings.
//! * [`Frame`] / [`parse_frame`] parse those bytes into a tree when a test
//!   needs to look inside a reply, and [`escape`] prints bytes readably.
//!
//! Use it from a test file with `mod common;`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its ready line before start-up fails.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`RawClient::read_reply`] waits for a reply before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What sessiond prints (after an optional log prefix) once it accepts
/// connections, followed by the socket address it listens on.
pub const SESSIOND_READY: &str = "Ready to accept connections tcp on ";

/// What sessiond prints for a `tls-port` listener, followed by its socket address.
pub const SESSIOND_TLS_READY: &str = "Ready to accept connections tls on ";

/// What redis-server prints once it accepts connections.
pub const REDIS_READY: &str = "Ready to accept connections";

/// How to install the reference server when it is missing.
pub const REDIS_INSTALL_HINT: &str = "apt-get install -y redis-server redis-tools";

/// How many lines of a server's stdout and stderr are kept for diagnostics.
const OUTPUT_TAIL_LINES: usize = 200;

/// Why a server could not be started.
#[derive(Debug)]
pub enum StartError {
    /// The program does not exist (not on `PATH`, or a wrong path).
    NotFound {
        /// The program that was looked for.
        program: String,
    },
    /// Spawning the process failed for another reason.
    Spawn {
        /// The program that was started.
        program: String,
        /// The operating system's error.
        error: io::Error,
    },
    /// The process ended before printing its ready line.
    Exited {
        /// The program that was started.
        program: String,
        /// Its exit status.
        status: ExitStatus,
        /// The last lines it printed on stdout and stderr.
        output: String,
    },
    /// The process printed no ready line within [`STARTUP_TIMEOUT`].
    TimedOut {
        /// The program that was started.
        program: String,
        /// The last lines it printed on stdout and stderr.
        output: String,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotFound { program } => write!(f, "{program}: program not found"),
            StartError::Spawn { program, error } => write!(f, "{program}: cannot start: {error}"),
            StartError::Exited {
                program,
                status,
                output,
            } => write!(
                f,
                "{program} exited ({status}) before it was ready; its output:\n{output}"
            ),
            StartError::TimedOut { program, output } => write!(
                f,
                "{program} printed no ready line within {STARTUP_TIMEOUT:?}; its output:\n{output}"
            ),
        }
    }
}

impl StartError {
    /// Everything the server printed before it failed (empty when it never ran).
    pub fn output(&self) -> &str {
        match self {
            StartError::Exited { output, .. } | StartError::TimedOut { output, .. } => output,
            StartError::NotFound { .. } | StartError::Spawn { .. } => "",
        }
    }
}

/// The last lines a server printed, shared with the threads draining its pipes.
type OutputTail = Arc<Mutex<VecDeque<String>>>;

/// A server process listening on an ephemeral port; killed when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    program: String,
    output: OutputTail,
}

impl Server {
    /// Starts the sessiond binary built by cargo for these tests as
    /// `sessiond --port 0 --appendonly no EXTRA_ARGS...`; panics if it cannot start.
    pub fn sessiond(extra_args: &[&str]) -> Server {
        Server::sessiond_at(env!("CARGO_BIN_EXE_sessiond"), extra_args)
    }

    /// Starts the sessiond binary at `binary` as
    /// `BINARY --port 0 --appendonly no EXTRA_ARGS...`; panics if it cannot start.
    pub fn sessiond_at(binary: impl AsRef<OsStr>, extra_args: &[&str]) -> Server {
        let mut args = vec!["--port", "0", "--appendonly", "no"];
        args.extend_from_slice(extra_args);
        let binary = binary.as_ref();
        Server::try_sessiond_at(binary, &args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the sessiond binary built by cargo with exactly `args` (for
    /// example a config file first, or a bad directive) and waits for its
    /// ready line. An error carries what the server printed, so tests of
    /// start-up failures can assert on it.
    pub fn try_sessiond(args: &[&str]) -> Result<Server, StartError> {
        Server::try_sessiond_at(env!("CARGO_BIN_EXE_sessiond"), args)
    }

    /// Starts `binary` with `args` and waits for sessiond's first ready line
    /// (`... Ready to accept connections tcp on ADDR`, or `tls on ADDR` for a
    /// TLS-only server), taking the address from it.
    /// Unless `args` name a `--metrics-port`, `--metrics-port 0` is added, so that
    /// servers running side by side do not fight over the default metrics port; unless
    /// they name `--threads`, `--threads 2`, so that commands of different clients really
    /// run at the same time even where the default is one worker.
    pub fn try_sessiond_at(binary: impl AsRef<OsStr>, args: &[&str]) -> Result<Server, StartError> {
        let mut args: Vec<OsString> = args.iter().map(OsString::from).collect();
        if !args.iter().any(|arg| arg == "--metrics-port") {
            args.extend(["--metrics-port".into(), "0".into()]);
        }
        if !args.iter().any(|arg| arg == "--threads") {
            args.extend(["--threads".into(), "2".into()]);
        }
        Server::spawn(binary.as_ref(), &args, |line| {
            let (_, rest) = line
                .split_once(SESSIOND_READY)
                .or_else(|| line.split_once(SESSIOND_TLS_READY))?;
            rest.trim().parse::<SocketAddr>().ok()
        })
    }

    /// Starts a reference `redis-server` on a free port with persistence off,
    /// plus `extra_args` (`--directive value ...`). Panics — telling how to
    /// install it — when redis-server is not on `PATH`.
    pub fn redis(extra_args: &[&str]) -> Server {
        // The port is free when we look, but another process could take it
        // before redis-server binds it; retry a few times in that case.
        let mut last_error = None;
        for _ in 0..5 {
            match Server::try_redis(extra_args) {
                Ok(server) => return server,
                Err(StartError::NotFound { .. }) => panic!(
                    "redis-server is not on PATH; the differential tests need it: \
                     install it with `{REDIS_INSTALL_HINT}`"
                ),
                Err(e) if e.output().contains("Address already in use") => last_error = Some(e),
                Err(e) => panic!("{e}"),
            }
        }
        panic!(
            "redis-server could not bind a free port: {}",
            last_error.map(|e| e.to_string()).unwrap_or_default()
        )
    }

    /// One attempt at [`Server::redis`], returning the error instead of panicking.
    pub fn try_redis(extra_args: &[&str]) -> Result<Server, StartError> {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let port = port.to_string();
        let mut args: Vec<OsString> = [
            "--port",
            &port,
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--loglevel",
            "notice",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        args.extend(extra_args.iter().map(OsString::from));
        Server::spawn(OsStr::new("redis-server"), &args, |line| {
            line.contains(REDIS_READY).then_some(addr)
        })
    }

    /// Spawns `program args...` with stdout and stderr piped, reads stdout
    /// lines until `ready` returns the server's address, and keeps draining
    /// both pipes on background threads afterwards.
    fn spawn(
        program: &OsStr,
        args: &[OsString],
        ready: impl Fn(&str) -> Option<SocketAddr>,
    ) -> Result<Server, StartError> {
        let name = program.to_string_lossy().into_owned();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| match error.kind() {
                io::ErrorKind::NotFound => StartError::NotFound {
                    program: name.clone(),
                },
                _ => StartError::Spawn {
                    program: name.clone(),
                    error,
                },
            })?;
        let output = OutputTail::default();
        let (lines_tx, lines_rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            drain_stdout(stdout, lines_tx, Arc::clone(&output));
        }
        let (stderr_done_tx, stderr_done_rx) = mpsc::channel::<()>();
        if let Some(stderr) = child.stderr.take() {
            drain_stderr(stderr, Arc::clone(&output), stderr_done_tx);
        }
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            program: name.clone(),
            output,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = ready(&line) {
                        server.addr = addr;
                        return Ok(server);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = server.child.kill();
                    let _ = server.child.wait();
                    return Err(StartError::TimedOut {
                        program: name,
                        output: server.output_tail(),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is gone (or closed it, which
                    // we treat the same way).
                    let status = match server.child.wait() {
                        Ok(status) => status,
                        Err(error) => {
                            return Err(StartError::Spawn {
                                program: name,
                                error,
                            });
                        }
                    };
                    // Let the stderr thread take in the last words (bounded, in
                    // case a grandchild still holds the pipe open).
                    let _ = stderr_done_rx.recv_timeout(Duration::from_secs(2));
                    return Err(StartError::Exited {
                        program: name,
                        status,
                        output: server.output_tail(),
                    });
                }
            }
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `redis://HOST:PORT/` URL for the `redis` crate.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A new synchronous `redis` crate connection (with a read timeout of
    /// [`READ_TIMEOUT`] so a silent server fails the test instead of hanging it).
    pub fn connection(&self) -> redis::Connection {
        let client = redis::Client::open(self.url())
            .unwrap_or_else(|e| panic!("bad url {}: {e}", self.url()));
        let connection = client
            .get_connection_with_timeout(READ_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {} ({}): {e}", self.addr, self.program));
        connection
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set a read timeout on the redis connection");
        connection
    }

    /// A new raw RESP connection to the server.
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines (up to 200) the server printed on stdout and stderr.
    pub fn output_tail(&self) -> String {
        output_text(&self.output)
    }

    /// Kills the server at once (SIGKILL) and waits for it to exit; dropping
    /// it afterwards does nothing more.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits for the process to exit; its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        self.wait()
    }

    /// Waits (up to [`STARTUP_TIMEOUT`]) for the process to exit; its exit status.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.program);
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("program", &self.program)
            .field("pid", &self.child.id())
            .field("addr", &self.addr)
            .finish()
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, drop).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0 to find a free port")
        .port()
}

/// Appends one line to a server's output tail, forgetting the oldest ones.
fn remember(tail: &OutputTail, line: String) {
    let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if tail.len() == OUTPUT_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// The output tail as one string.
fn output_text(tail: &OutputTail) -> String {
    let tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tail.iter().map(|line| format!("  | {line}\n")).collect()
}

/// Reads stdout lines until EOF: each goes to the tail and, while the starter
/// is still listening, to `lines`; so the pipe never fills.
fn drain_stdout(stdout: ChildStdout, lines: mpsc::Sender<String>, tail: OutputTail) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    remember(&tail, line.clone());
                    // The receiver is gone once the server is ready; keep draining.
                    let _ = lines.send(line);
                }
            }
        }
    });
}

/// Reads stderr lines into the tail until EOF, so the pipe never fills;
/// `done` is dropped at EOF.
fn drain_stderr(stderr: ChildStderr, tail: OutputTail, done: mpsc::Sender<()>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => remember(
                    &tail,
                    format!("stderr: {}", String::from_utf8_lossy(&buf).trim_end()),
                ),
            }
        }
        drop(done);
    });
}

/// Why [`RawClient::try_read_reply`] returned no frame.
#[derive(Debug)]
pub enum ReadError {
    /// No complete frame arrived within the timeout (bytes received so far are kept).
    Timeout,
    /// The server closed the connection (`partial` = bytes of an unfinished frame).
    Closed {
        /// Bytes received after the last complete frame.
        partial: Vec<u8>,
    },
    /// The bytes received are not valid RESP.
    Protocol {
        /// What is wrong.
        reason: String,
        /// The unparsable bytes.
        bytes: Vec<u8>,
    },
    /// Another socket error.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Timeout => write!(f, "no complete reply within the timeout"),
            ReadError::Closed { partial } if partial.is_empty() => {
                write!(f, "connection closed by the server")
            }
            ReadError::Closed { partial } => write!(
                f,
                "connection closed in the middle of a reply: \"{}\"",
                escape(partial)
            ),
            ReadError::Protocol { reason, bytes } => {
                write!(f, "invalid RESP ({reason}): \"{}\"", escape(bytes))
            }
            ReadError::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

/// A raw RESP client over a blocking [`TcpStream`]: sends commands as RESP
/// arrays of bulk strings (or any bytes) and returns replies as the exact
/// bytes of each frame.
pub struct RawClient {
    stream: TcpStream,
    /// Bytes received but not yet returned as a frame.
    buf: Vec<u8>,
}

impl RawClient {
    /// Connects to `addr`; panics with the address when it cannot.
    pub fn connect(addr: SocketAddr) -> RawClient {
        RawClient::try_connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"))
    }

    /// Connects to `addr`, returning the error instead of panicking.
    pub fn try_connect(addr: SocketAddr) -> io::Result<RawClient> {
        RawClient::wrap(TcpStream::connect(addr)?)
    }

    /// Connects to `addr` from the local address `source` (such as 127.0.0.2, which is
    /// this host but not what protected mode counts as local); panics when it cannot.
    pub fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> RawClient {
        let connect = || -> io::Result<TcpStream> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()?;
            let stream = runtime.block_on(async {
                let socket = match source {
                    std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                    std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                };
                socket.bind(SocketAddr::new(source, 0))?;
                socket.connect(addr).await?.into_std()
            })?;
            stream.set_nonblocking(false)?;
            Ok(stream)
        };
        connect()
            .and_then(RawClient::wrap)
            .unwrap_or_else(|e| panic!("cannot connect from {source} to {addr}: {e}"))
    }

    fn wrap(stream: TcpStream) -> io::Result<RawClient> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        Ok(RawClient {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one command, encoded as a RESP array of bulk strings.
    /// Arguments may be `&str`, `&[u8]`, `String`, `Vec<u8>`...
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_raw(&encode_command(args));
    }

    /// Sends `bytes` as they are (inline commands, pipelines, malformed frames).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.try_send_raw(bytes)
            .unwrap_or_else(|e| panic!("cannot send \"{}\": {e}", escape(bytes)));
    }

    /// Like [`RawClient::send`], returning the error (a closed connection
    /// gives `BrokenPipe` or `ConnectionReset`) instead of panicking.
    pub fn try_send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.try_send_raw(&encode_command(args))
    }

    /// Like [`RawClient::send_raw`], returning the error instead of panicking.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one complete reply frame and returns its exact bytes; panics
    /// (showing what was received) on timeout, close or invalid RESP.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply(READ_TIMEOUT)
            .unwrap_or_else(|e| panic!("reading a reply: {e}"))
    }

    /// Reads one complete reply frame, waiting at most `timeout` for it.
    /// On [`ReadError::Timeout`] any partial frame stays buffered for the next read.
    pub fn try_read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, ReadError> {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((_, len))) => return Ok(self.buf.drain(..len).collect()),
                Ok(None) => {}
                Err(reason) => {
                    return Err(ReadError::Protocol {
                        reason,
                        bytes: std::mem::take(&mut self.buf),
                    });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadError::Timeout);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(ReadError::Io)?;
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ReadError::Closed {
                        partial: std::mem::take(&mut self.buf),
                    });
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ReadError::Timeout);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(ReadError::Closed {
                        partial: std::mem::take(&mut self.buf),
                    });
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Sends one command and reads its reply frame.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// Like [`RawClient::call`] with the arguments split on ASCII whitespace
    /// (no quoting): `client.call_str("SET k v")`.
    pub fn call_str(&mut self, line: &str) -> Vec<u8> {
        let args: Vec<&str> = line.split_ascii_whitespace().collect();
        self.call(&args)
    }

    /// Waits until the server closes the connection, failing on any data or
    /// after [`READ_TIMEOUT`]. For QUIT, protocol errors and kills.
    pub fn expect_closed(&mut self) {
        match self.try_read_reply(READ_TIMEOUT) {
            Err(ReadError::Closed { partial }) if partial.is_empty() => {}
            Ok(frame) => panic!(
                "expected the connection to close, got \"{}\"",
                escape(&frame)
            ),
            Err(e) => panic!("expected the connection to close: {e}"),
        }
    }

    /// The underlying stream (for shutdown, peer address, socket options).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// `field`'s value in INFO `section`; panics, showing the section, when it is missing.
    pub fn info_field(&mut self, section: &str, field: &str) -> String {
        let text = frame(&self.call(&["INFO", section])).text();
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{text}"))
            .trim()
            .to_string()
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One parsed RESP2/RESP3 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The type byte: one of `+ - : $ * _ , # ! = ( % ~ > |`.
    pub kind: u8,
    /// Simple types (`+ - : _ , # (`): the text after the type byte.
    /// Bulk types (`$ ! =`): the payload. Aggregates: empty.
    pub data: Vec<u8>,
    /// The RESP2 nulls `$-1` and `*-1`.
    pub null: bool,
    /// Aggregates: the elements; for maps (`%`) keys and values alternate.
    /// Attributes (`|`): the attribute's key/value pairs followed, as the
    /// last item, by the frame the attribute is attached to.
    pub items: Vec<Frame>,
    /// The exact bytes of the whole frame.
    pub raw: Vec<u8>,
}

impl Frame {
    /// The frame's data as text (lossy), for messages and simple assertions.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The value of an integer frame (`:`), if it is one.
    pub fn integer(&self) -> Option<i64> {
        if self.kind != b':' {
            return None;
        }
        std::str::from_utf8(&self.data).ok()?.parse().ok()
    }

    /// Whether this is an error (`-` or `!`).
    pub fn is_error(&self) -> bool {
        matches!(self.kind, b'-' | b'!')
    }

    /// Whether this is a null (`_`, `$-1` or `*-1`).
    pub fn is_null(&self) -> bool {
        self.null || self.kind == b'_'
    }

    /// For a map (`%`), or a RESP2 flat array of pairs, the value under `key`.
    pub fn get(&self, key: &str) -> Option<&Frame> {
        self.items
            .chunks_exact(2)
            .find(|pair| pair[0].data == key.as_bytes())
            .map(|pair| &pair[1])
    }
}

/// Parses one frame from the start of `buf`. Returns the frame and its length
/// in bytes, `Ok(None)` when `buf` holds only part of a frame, or an error
/// describing invalid RESP (including the RESP3 streamed types, which no
/// server here sends).
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    parse_at(buf, 0, 0)
}

/// Parses the single complete frame in `bytes` (nothing may follow it).
/// Panics with the escaped bytes if it is not exactly one frame.
pub fn frame(bytes: &[u8]) -> Frame {
    match parse_frame(bytes) {
        Ok(Some((frame, len))) if len == bytes.len() => frame,
        Ok(Some((_, len))) => panic!(
            "trailing bytes after a frame: \"{}\"",
            escape(&bytes[len..])
        ),
        Ok(None) => panic!("incomplete frame: \"{}\"", escape(bytes)),
        Err(reason) => panic!("invalid RESP ({reason}): \"{}\"", escape(bytes)),
    }
}

/// Deepest nesting accepted, so a malicious reply cannot overflow the stack.
const MAX_DEPTH: usize = 64;

/// Parses the frame starting at `start`; the length returned counts from `start`.
fn parse_at(buf: &[u8], start: usize, depth: usize) -> Result<Option<(Frame, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("frames nested deeper than {MAX_DEPTH}"));
    }
    let Some(&kind) = buf.get(start) else {
        return Ok(None);
    };
    let Some(line_end) = find_crlf(buf, start + 1) else {
        return Ok(None);
    };
    let line = &buf[start + 1..line_end];
    let mut end = line_end + 2;
    let mut frame = Frame {
        kind,
        data: Vec::new(),
        null: false,
        items: Vec::new(),
        raw: Vec::new(),
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
            frame.data = line.to_vec();
        }
        b'$' | b'!' | b'=' => {
            let len = parse_len(line, kind)?;
            if len < 0 {
                frame.null = true;
            } else {
                let len = usize::try_from(len).map_err(|_| "bulk length too large".to_string())?;
                let body_end = end
                    .checked_add(len)
                    .filter(|e| e.checked_add(2).is_some())
                    .ok_or_else(|| "bulk length too large".to_string())?;
                if buf.len() < body_end + 2 {
                    return Ok(None);
                }
                if &buf[body_end..body_end + 2] != b"\r\n" {
                    return Err(format!("bulk of length {len} is not followed by \\r\\n"));
                }
                frame.data = buf[end..body_end].to_vec();
                end = body_end + 2;
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = parse_len(line, kind)?;
            if count < 0 {
                frame.null = true;
            } else {
                let mut elements =
                    usize::try_from(count).map_err(|_| "aggregate length too large".to_string())?;
                if matches!(kind, b'%' | b'|') {
                    elements *= 2;
                }
                if kind == b'|' {
                    // The attribute is followed by the frame it describes.
                    elements += 1;
                }
                for _ in 0..elements {
                    match parse_at(buf, end, depth + 1)? {
                        Some((item, len)) => {
                            frame.items.push(item);
                            end += len;
                        }
                        None => return Ok(None),
                    }
                }
            }
        }
        other => {
            return Err(format!("unknown RESP type byte {:?}", escape(&[other])));
        }
    }
    frame.raw = buf[start..end].to_vec();
    Ok(Some((frame, end - start)))
}

/// Parses the length on a bulk or aggregate header line; only `$` and `*`
/// may be `-1` (the RESP2 nulls).
fn parse_len(line: &[u8], kind: u8) -> Result<i64, String> {
    if line.first() == Some(&b'?') {
        return Err("RESP3 streamed types are not supported".to_string());
    }
    let text = std::str::from_utf8(line).map_err(|_| "non-UTF-8 length".to_string())?;
    let len: i64 = text
        .parse()
        .map_err(|_| format!("bad length {text:?} after {:?}", kind as char))?;
    if len < -1 || (len == -1 && !matches!(kind, b'$' | b'*')) {
        return Err(format!("bad length {len} after {:?}", kind as char));
    }
    Ok(len)
}

/// The index of the first `\r\n` at or after `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// Shows bytes readably: printable ASCII as is, `\r \n \t \\ \"` escaped,
/// anything else as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The soft and hard `Max open files` limits of process `pid` (`self` for this one),
/// from `/proc/PID/limits`; `unlimited` reads as `u64::MAX`.
pub fn nofile_limits(pid: &str) -> (u64, u64) {
    let path = format!("/proc/{pid}/limits");
    let limits = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let parse = |value: &str| {
        if value == "unlimited" {
            u64::MAX
        } else {
            value
                .parse()
                .unwrap_or_else(|_| panic!("bad limit {value:?} in {path}:\n{limits}"))
        }
    };
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .map(|rest| {
            let mut values = rest.split_whitespace();
            let soft = parse(values.next().unwrap_or_default());
            let hard = parse(values.next().unwrap_or_default());
            (soft, hard)
        })
        .unwrap_or_else(|| panic!("no \"Max open files\" line in {path}:\n{limits}"))
}

/// The resident set size of process `pid`, in kB, from `/proc/PID/status`.
pub fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS line in /proc/{pid}/status:\n{status}"))
}

/// A config file in the temporary directory, removed on drop.
pub struct TempConf {
    path: PathBuf,
}

impl TempConf {
    /// Writes `contents` to a fresh file.
    pub fn new(contents: &str) -> TempConf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sessiond-test-{}-{}.conf",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        TempConf { path }
    }

    /// The path, as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Every session event, as in `__session@NAMESPACE__:EVENT`.
pub const SESSION_EVENTS: [&str; 6] = [
    "created",
    "ended",
    "expired",
    "evicted",
    "rotated",
    "recovered",
];

/// The AOF's last incremental file, from its manifest.
pub fn last_incremental(dir: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).expect("manifest");
    let name = manifest
        .lines()
        .rfind(|line| line.contains("type i"))
        .and_then(|line| line.split_whitespace().nth(1))
        .expect("an incremental file")
        .to_string();
    dir.join(name)
}

/// Copies the AOF files of `from` into a fresh temporary directory.
pub fn copy_aof(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        std::fs::copy(entry.path(), to.path().join(entry.file_name())).expect("copy");
    }
    to
}
