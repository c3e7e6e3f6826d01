//! Server-wide counters for INFO `stats` (kept with relaxed atomics: they are statistics,
//! never used for synchronisation).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters reported by INFO.
#[derive(Debug, Default)]
pub struct Stats {
    commands: AtomicU64,
    connections: AtomicU64,
    rejected: AtomicU64,
}

impl Stats {
    /// Counts executed commands; connections add a whole batch at once so the shared counter
    /// is touched once per read, not once per command.
    pub fn count_commands(&self, executed: u64) {
        self.commands.fetch_add(executed, Ordering::Relaxed);
    }

    /// Counts one accepted connection.
    pub fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one connection refused because of `maxclients`.
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Commands executed since start (or CONFIG RESETSTAT).
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Connections accepted since start (or CONFIG RESETSTAT).
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections refused since start (or CONFIG RESETSTAT).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Zeroes the counters (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for counter in [&self.commands, &self.connections, &self.rejected] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Resident set size of this process, from /proc (0 where unavailable): INFO's
/// `used_memory` and the memory metric.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
