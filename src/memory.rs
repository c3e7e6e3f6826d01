//! How much memory the server uses, as INFO and `maxmemory` see it: the bytes the program has
//! allocated and not freed, from jemalloc's statistics (the binary's allocator), so the count
//! falls when data is deleted, unlike the resident size.
//!
//! Reading jemalloc's counters takes a refresh of its statistics, too slow for every command;
//! a ticker refreshes the reading every [`REFRESH_INTERVAL`], and `maxmemory` is checked
//! against the last reading.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the reading that `maxmemory` is checked against is refreshed.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(10);

/// jemalloc's totals at one moment, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Allocated by the program and not freed (INFO `used_memory`).
    pub allocated: u64,
    /// In pages the allocator has in use (allocated plus fragmentation inside them).
    pub active: u64,
    /// In pages the allocator holds in physical memory.
    pub resident: u64,
}

/// The allocator's totals now (all 0 where jemalloc is not the allocator, as in
/// benchmarks that use the library).
pub fn allocator_stats() -> AllocatorStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    if epoch::advance().is_err() {
        return AllocatorStats::default();
    }
    let read = |value: tikv_jemalloc_ctl::Result<usize>| value.map_or(0, |bytes| bytes as u64);
    AllocatorStats {
        allocated: read(stats::allocated::read()),
        active: read(stats::active::read()),
        resident: read(stats::resident::read()),
    }
}

/// Bytes allocated now.
pub fn allocated() -> u64 {
    allocator_stats().allocated
}

/// The last reading of [`allocated`], for checks on the request path.
#[derive(Debug, Default)]
pub struct MemoryReading {
    used: AtomicU64,
}

impl MemoryReading {
    /// Bytes allocated at the last refresh.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes a new reading.
    pub fn refresh(&self) {
        self.used.store(allocated(), Ordering::Relaxed);
    }

    /// Whether memory is over `maxmemory` (0 = no limit), so commands that may grow it are
    /// refused.
    pub fn is_over(&self, maxmemory: u64) -> bool {
        maxmemory > 0 && self.used() > maxmemory
    }
}
