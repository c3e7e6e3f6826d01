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
    /// `(redacted)` (passwords: see [`super::secrets::secret_positions`]).
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
