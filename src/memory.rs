//! How much memory the server uses, as INFO and `maxmemory` see it: the bytes the program has
//! allocated and not freed, from jemalloc's statistics (the binary's allocator), so the count
//! falls when data is deleted, unlike the resident size.
//!
//! Reading jemalloc's totals takes a refresh of its statistics (a walk over its arenas, some
//! 0.1 ms), too slow for every command and too costly to run on a timer in an idle sidecar.
//! So `maxmemory` is checked against a reading at most [`READING_MAX_AGE`] old, refreshed by
//! the command that finds it older; with no `maxmemory` nothing is read at all.

use std::sync::atomic::{AtomicU64, Ordering};

/// How old the reading `maxmemory` is checked against may be, in ms.
pub const READING_MAX_AGE: u64 = 100;

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
    /// When `used` was read (Unix ms).
    read_at: AtomicU64,
}

impl MemoryReading {
    /// Bytes allocated at the last reading.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes a new reading.
    pub fn refresh(&self, now_ms: u64) {
        self.used.store(allocated(), Ordering::Relaxed);
        self.read_at.store(now_ms, Ordering::Relaxed);
    }

    /// Whether memory is over `maxmemory` (0 = no limit), so commands that may grow it are
    /// refused. One caller refreshes a reading older than [`READING_MAX_AGE`]; the others use
    /// it meanwhile.
    pub fn is_over(&self, maxmemory: u64, now_ms: u64) -> bool {
        if maxmemory == 0 {
            return false;
        }
        let read_at = self.read_at.load(Ordering::Relaxed);
        if now_ms.saturating_sub(read_at) >= READING_MAX_AGE
            && self
                .read_at
                .compare_exchange(read_at, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.used.store(allocated(), Ordering::Relaxed);
        }
        self.used() > maxmemory
    }
}
