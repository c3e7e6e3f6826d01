//! MONITOR: every command run in a namespace, streamed to that namespace's monitoring
//! clients in Redis's line format (`+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::config::OutputLimit;
use crate::pubsub::Mailbox;

/// A monitoring client.
#[derive(Debug)]
struct Monitor {
    client: u64,
    namespace: u32,
    mailbox: Mailbox,
}

/// The server's monitoring clients.
#[derive(Debug, Default)]
pub struct Monitors {
    /// How many there are, read on every command without the lock.
    count: AtomicUsize,
    list: RwLock<Vec<Monitor>>,
}

/// A command as monitors see it.
pub struct Fed<'a> {
    /// The namespace it ran in; only that namespace's monitors see it.
    pub namespace: u32,
    /// The database selected after it ran (SELECT shows its new one, as in Redis).
    pub db: usize,
    /// The client that ran it.
    pub peer: SocketAddr,
    /// Its arguments, name first.
    pub args: &'a [&'a [u8]],
    /// Arguments shown as `(redacted)`.
    pub secrets: &'a [usize],
}

impl Monitors {
    /// Whether any client monitors; checked before formatting anything.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Starts streaming `namespace`'s commands to `client`.
    pub fn add(&self, client: u64, namespace: u32, mailbox: Mailbox) {
        let mut list = self.list.write();
        if list.iter().any(|monitor| monitor.client == client) {
            return;
        }
        list.push(Monitor {
            client,
            namespace,
            mailbox,
        });
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Stops streaming to `client` (RESET, a closed connection).
    pub fn remove(&self, client: u64) {
        let mut list = self.list.write();
        list.retain(|monitor| monitor.client != client);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Sends `command` to the monitors of its namespace. A monitor whose waiting output
    /// passes `limit` is disconnected, as a subscriber is.
    pub fn feed(&self, command: &Fed, limit: OutputLimit) {
        let list = self.list.read();
        let mut line: Option<Bytes> = None;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        for monitor in list.iter().filter(|m| m.namespace == command.namespace) {
            let line = line.get_or_insert_with(|| format_line(command, now));
            monitor
                .mailbox
                .deliver_line(line.clone(), limit, now.as_millis() as u64);
        }
    }
}

/// The status line a monitor receives for `command`.
fn format_line(command: &Fed, now: std::time::Duration) -> Bytes {
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        command.db,
        command.peer
    )
    .into_bytes();
    for (i, arg) in command.args.iter().enumerate() {
        line.push(b' ');
        if command.secrets.contains(&i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(arg, &mut line);
        }
    }
    line.extend_from_slice(b"\r\n");
    Bytes::from(line)
}

/// Appends `arg` in double quotes with Redis's escapes (`sdscatrepr`).
fn quote(arg: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in arg {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(byte),
            _ => out.extend_from_slice(format!("\\x{byte:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_as_redis_does() {
        let command = Fed {
            namespace: 0,
            db: 3,
            peer: "127.0.0.1:52490".parse().unwrap(),
            args: &[b"SET", b"b", b"\x00\xff\n\"\\ x"],
            secrets: &[],
        };
        let now = std::time::Duration::from_micros(1_796_180_760_000_042);
        assert_eq!(
            format_line(&command, now),
            "+1796180760.000042 [3 127.0.0.1:52490] \"SET\" \"b\" \"\\x00\\xff\\n\\\"\\\\ x\"\r\n"
        );
        let auth = Fed {
            args: &[b"AUTH", b"u", b"p"],
            secrets: &[1, 2],
            ..command
        };
        assert!(format_line(&auth, now).ends_with(b"\"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"));
    }
}
