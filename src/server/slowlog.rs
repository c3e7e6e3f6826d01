//! SLOWLOG: the latest commands that ran longer than `slowlog-log-slower-than`
//! microseconds, kept in memory up to `slowlog-max-len` entries, as Redis keeps them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

/// Arguments kept per entry; the last place says how many more there were.
const MAX_ARGS: usize = 32;

/// Bytes kept per argument; the rest is counted, not kept.
const MAX_ARG_BYTES: usize = 128;

/// One logged command.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    /// Increasing over the server's life; RESET does not restart it.
    pub id: u64,
    /// Unix seconds when the command was logged.
    pub at: u64,
    /// How long the command ran, in microseconds.
    pub micros: u64,
    /// The arguments as sent (shortened, secrets redacted).
    pub args: Vec<Bytes>,
    /// The client's `ip:port`.
    pub peer: String,
    /// The client's name (CLIENT SETNAME), empty when none.
    pub client_name: String,
}

/// The server's slow log.
#[derive(Debug, Default)]
pub struct SlowLog {
    next_id: AtomicU64,
    entries: Mutex<VecDeque<SlowEntry>>,
}

impl SlowLog {
    /// Logs a command that took `took`, then keeps at most `max_len` entries (newest
    /// first), as Redis trims after each entry.
    /// `args` are shortened as Redis shortens them, and the ones at `redact` replaced by
    /// `(redacted)` (passwords: see [`secret_positions`]).
    pub fn record(
        &self,
        args: &[&[u8]],
        redact: &[usize],
        took: Duration,
        client: (String, String),
        max_len: usize,
    ) {
        let (peer, client_name) = client;
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            at: crate::store::now_ms() / 1000,
            micros: took.as_micros().try_into().unwrap_or(u64::MAX),
            args: shortened(args, redact),
            peer,
            client_name,
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    /// The newest `count` entries (all of them for `None`), newest first.
    pub fn newest(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let entries = self.entries.lock();
        let count = count.unwrap_or(entries.len());
        entries.iter().take(count).cloned().collect()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry (SLOWLOG RESET).
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// Where a command carries a password, which the slow log must not show: AUTH's
/// arguments, HELLO's after AUTH, and `CONFIG SET requirepass`'s value, as Redis redacts.
pub fn secret_positions(args: &[&[u8]]) -> Vec<usize> {
    let name = args.first().copied().unwrap_or_default();
    let is = |arg: &[u8], word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
    if is(name, "auth") {
        return (1..args.len()).collect();
    }
    if is(name, "hello") {
        return match args.iter().position(|arg| is(arg, "auth")) {
            Some(at) => (at + 1..(at + 3).min(args.len())).collect(),
            None => Vec::new(),
        };
    }
    if is(name, "config") && args.get(1).is_some_and(|sub| is(sub, "set")) {
        return (2..args.len())
            .step_by(2)
            .filter(|&at| is(args[at], "requirepass"))
            .map(|at| at + 1)
            .filter(|&at| at < args.len())
            .collect();
    }
    Vec::new()
}

/// The arguments an entry keeps: at most [`MAX_ARGS`] (the last place then counting the
/// rest), each at most [`MAX_ARG_BYTES`] (with the rest counted), secrets redacted.
fn shortened(args: &[&[u8]], redact: &[usize]) -> Vec<Bytes> {
    let kept = if args.len() > MAX_ARGS {
        MAX_ARGS - 1
    } else {
        args.len()
    };
    let mut out: Vec<Bytes> = args[..kept]
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            if redact.contains(&i) {
                Bytes::from_static(b"(redacted)")
            } else if arg.len() > MAX_ARG_BYTES {
                let mut text = arg[..MAX_ARG_BYTES].to_vec();
                text.extend_from_slice(
                    format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes(),
                );
                Bytes::from(text)
            } else {
                Bytes::copy_from_slice(arg)
            }
        })
        .collect();
    if kept < args.len() {
        out.push(Bytes::from(format!(
            "... ({} more arguments)",
            args.len() - kept
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_shortened_as_redis_does() {
        let long = vec![b'y'; 130];
        let numbers: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let mut args: Vec<&[u8]> = vec![b"SET", &long];
        args.extend(numbers.iter().map(|n| n.as_bytes()));
        let kept = shortened(&args, &[]);
        assert_eq!(kept.len(), 32);
        assert_eq!(&kept[1][..128], &long[..128]);
        assert_eq!(&kept[1][128..], b"... (2 more bytes)");
        assert_eq!(kept[30], "28");
        assert_eq!(kept[31], "... (11 more arguments)");
    }

    #[test]
    fn passwords_are_found_where_redis_finds_them() {
        let hello: &[&[u8]] = &[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"];
        assert_eq!(secret_positions(hello), [3, 4]);
        assert_eq!(secret_positions(&[b"auth", b"u", b"p"]), [1, 2]);
        let config: &[&[u8]] = &[b"CONFIG", b"SET", b"timeout", b"0", b"requirepass", b"pw"];
        assert_eq!(secret_positions(config), [5]);
        assert!(secret_positions(&[b"SET", b"auth", b"x"]).is_empty());
    }

    #[test]
    fn entries_are_newest_first_and_bounded() {
        let log = SlowLog::default();
        let client = || ("127.0.0.1:1".to_string(), String::new());
        for name in [b"A", b"B", b"C"] {
            log.record(&[name], &[], Duration::from_micros(5), client(), 2);
        }
        let ids: Vec<u64> = log.newest(None).iter().map(|e| e.id).collect();
        assert_eq!(ids, [2, 1]);
        log.record(&[b"AUTH", b"pw"], &[1], Duration::ZERO, client(), 2);
        assert_eq!(log.newest(Some(1))[0].args, ["AUTH", "(redacted)"]);
        log.record(&[b"X"], &[], Duration::ZERO, client(), 1);
        assert_eq!(log.len(), 1);
        log.reset();
        assert!(log.is_empty());
    }
}
