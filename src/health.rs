//! `sessiond ping`: whether a server answers PING, for container health checks. A plain
//! blocking socket and two hand-written requests: the check must not need a runtime.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long the check waits for the connection and for each reply.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Why the server did not answer as a healthy one does.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// No connection, or the connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The host name resolves to no address.
    #[error("no address for the host")]
    NoAddress,
    /// The server answered something else than `+OK` to AUTH or `+PONG` to PING.
    #[error("answered {0:?}")]
    Unexpected(String),
}

/// Connects to `host:port`, AUTHs with `password` if given, and expects `+PONG` to PING.
pub fn ping(host: &str, port: u16, password: Option<&str>) -> Result<(), PingError> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or(PingError::NoAddress)?;
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    if let Some(password) = password {
        request(&mut writer, &mut reader, &["AUTH", password], "+OK")?;
    }
    request(&mut writer, &mut reader, &["PING"], "+PONG")
}

/// Sends `args` as a RESP array and checks that the reply line is `expected`.
fn request(
    writer: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    args: &[&str],
    expected: &str,
) -> Result<(), PingError> {
    let mut frame = format!("*{}\r\n", args.len());
    for arg in args {
        frame.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    writer.write_all(frame.as_bytes())?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end();
    if line == expected {
        Ok(())
    } else {
        Err(PingError::Unexpected(line.to_string()))
    }
}
