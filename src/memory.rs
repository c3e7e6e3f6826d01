//! How much memory the server uses, as INFO and `maxmemory` see it: the bytes the program has
//! allocated and not freed, from jemalloc's statistics (the binary's allocator), so the count
//! falls when data is deleted, unlike the resident size.
//!
//! Reading jemalloc's totals takes a refresh of its statistics (a walk over its arenas, some
//! 0.1 ms), too slow for every command and too costly to run on a timer in an idle sidecar.
//! So `maxmemory` is checked against a reading at most [`READING_MAX_AGE`] old (10 ms once
//! near the limit), refreshed by the command that finds it older; with no `maxmemory`
//! nothing is read at all.

use std::sync::atomic::{AtomicU64, Ordering};

/// How old the reading `maxmemory` is checked against may be, in ms.
pub const READING_MAX_AGE: u64 = 100;
/// The same, once memory is within 10% of `maxmemory` or over it.
pub const READING_MAX_AGE_NEAR_LIMIT: u64 = 10;

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
    /// When `used` was read, in ms of [`monotonic_ms`] (wall time may step back).
    read_at: AtomicU64,
}

impl MemoryReading {
    /// Bytes allocated at the last reading.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes a new reading.
    pub fn refresh(&self) {
        self.used.store(allocated(), Ordering::Relaxed);
        self.read_at.store(monotonic_ms(), Ordering::Relaxed);
    }

    /// Lowers the reading by an estimate of what was just freed (eviction), until the next
    /// real reading: the allocator's totals lag behind frees its thread caches keep, and a
    /// reading that does not move would make every next command evict again.
    pub fn note_freed(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// Whether memory is over `maxmemory` (0 = no limit), so commands that may grow it are
    /// refused. One caller refreshes a reading older than [`READING_MAX_AGE`]; the others use
    /// it meanwhile.
    pub fn is_over(&self, maxmemory: u64) -> bool {
        if maxmemory == 0 {
            return false;
        }
        let now_ms = monotonic_ms();
        let read_at = self.read_at.load(Ordering::Relaxed);
        // Near the limit, a fresher reading keeps a burst of writes from passing it by much.
        let near = self.used() / 10 * 11 >= maxmemory;
        let max_age = if near {
            READING_MAX_AGE_NEAR_LIMIT
        } else {
            READING_MAX_AGE
        };
        if now_ms.saturating_sub(read_at) >= max_age
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

/// Milliseconds since the first call, on a clock that never steps back; never 0, so a
/// reading taken at 0 counts as absent.
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    start.elapsed().as_millis() as u64 + READING_MAX_AGE
}
