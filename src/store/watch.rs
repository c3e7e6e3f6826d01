//! WATCH: which clients watch which keys of a shard, and marking them when a key changes.
//!
//! Each shard keeps its own watchers beside its keys, under the same lock, so the shard's
//! one place that records a change (for the journal) also marks every client watching that
//! key, whatever changed it: a command, expiry (lazy or by the wheel), FLUSHDB or SWAPDB.
//! A client's EXEC then aborts if its flag is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use super::shard::Key;

/// Set when a key its client watches changes; one per client, shared by all its keys.
pub type WatchFlag = Arc<AtomicBool>;

/// The clients watching keys of one shard. Empty (one branch per change) unless someone
/// watches.
#[derive(Debug, Default)]
pub struct Watchers {
    by_key: HashMap<Key, Vec<WatchFlag>, RandomState>,
}

impl Watchers {
    /// Whether nobody watches a key of this shard.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Starts watching `key` for the client owning `flag` (once, however often it asks).
    pub fn add(&mut self, key: Key, flag: &WatchFlag) {
        let flags = self.by_key.entry(key).or_default();
        if !flags.iter().any(|f| Arc::ptr_eq(f, flag)) {
            flags.push(flag.clone());
        }
    }

    /// Stops watching `key` for the client owning `flag`.
    pub fn remove(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(flags) = self.by_key.get_mut(key) {
            flags.retain(|f| !Arc::ptr_eq(f, flag));
            if flags.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// Marks every client watching `key`: it changed.
    pub fn touch(&self, key: &[u8]) {
        if let Some(flags) = self.by_key.get(key) {
            for flag in flags {
                flag.store(true, Ordering::Release);
            }
        }
    }

    /// Marks every client watching a key for which `existed` holds (FLUSHDB and SWAPDB
    /// change exactly the keys that were there).
    pub fn touch_where(&self, mut existed: impl FnMut(&[u8]) -> bool) {
        for (key, flags) in &self.by_key {
            if existed(key) {
                for flag in flags {
                    flag.store(true, Ordering::Release);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_a_key_marks_only_its_watchers() {
        let mut watchers = Watchers::default();
        let (a, b) = (WatchFlag::default(), WatchFlag::default());
        watchers.add(Key::from(&b"k"[..]), &a);
        watchers.add(Key::from(&b"k"[..]), &a);
        watchers.add(Key::from(&b"other"[..]), &b);
        watchers.touch(b"k");
        assert!(a.load(Ordering::Acquire));
        assert!(!b.load(Ordering::Acquire));
        watchers.remove(b"k", &a);
        watchers.remove(b"other", &b);
        assert!(watchers.is_empty());
    }

    #[test]
    fn touch_where_marks_watchers_of_keys_that_existed() {
        let mut watchers = Watchers::default();
        let (a, b) = (WatchFlag::default(), WatchFlag::default());
        watchers.add(Key::from(&b"present"[..]), &a);
        watchers.add(Key::from(&b"absent"[..]), &b);
        watchers.touch_where(|key| key == b"present");
        assert!(a.load(Ordering::Acquire));
        assert!(!b.load(Ordering::Acquire));
    }
}
