//! `maxmemory-policy`: which keys go when memory is over `maxmemory`.
//!
//! Like Redis, eviction is approximate: each pick samples `maxmemory-samples` keys with a
//! deadline from a random shard (through its timing wheel, which holds exactly the keys that
//! have one) and removes the best of them by the policy. A removal is an ordinary delete: it
//! is logged to the AOF, marks WATCHers and publishes an `evicted` keyspace event. Sessions
//! are never evicted: their caps and timeouts bound them.

use std::sync::atomic::Ordering;

use super::{Store, now_ms};
use crate::pubsub::EventClass;

/// What to do when memory is over `maxmemory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Evict nothing; commands that may grow memory get `-OOM`.
    NoEviction,
    /// Evict the keys with a deadline that were used least recently.
    VolatileLru,
    /// Evict the keys with the nearest deadline.
    VolatileTtl,
    /// Evict random keys with a deadline.
    VolatileRandom,
}

impl EvictionPolicy {
    /// Names as `maxmemory-policy` takes them, in the order errors list them.
    pub const CHOICES: &'static [(&'static str, EvictionPolicy)] = &[
        ("volatile-lru", EvictionPolicy::VolatileLru),
        ("volatile-random", EvictionPolicy::VolatileRandom),
        ("volatile-ttl", EvictionPolicy::VolatileTtl),
        ("noeviction", EvictionPolicy::NoEviction),
    ];

    /// The name CONFIG GET and INFO print.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
            EvictionPolicy::VolatileRandom => "volatile-random",
        }
    }

    /// The policy from [`EvictionPolicy::code`].
    pub fn from_code(code: u8) -> EvictionPolicy {
        EvictionPolicy::CHOICES
            .get(usize::from(code))
            .map_or(EvictionPolicy::NoEviction, |&(_, policy)| policy)
    }

    /// A number for keeping the policy in an atomic.
    pub fn code(self) -> u8 {
        EvictionPolicy::CHOICES
            .iter()
            .position(|&(_, policy)| policy == self)
            .unwrap_or(0) as u8
    }
}

/// Picks and removes keys until about `bytes` are freed, or no key with a deadline is
/// left to take; returns about how many bytes it freed. Holds the transaction gate while it
/// removes, so no key vanishes in the middle of an EXEC.
pub fn evict(store: &Store, policy: EvictionPolicy, samples: usize, bytes: u64) -> u64 {
    let evicted = &store.evicted_keys;
    if policy == EvictionPolicy::NoEviction {
        return 0;
    }
    let _gate = store.gate().enter();
    let namespaces = store.namespaces();
    let databases: Vec<_> = namespaces.iter().flat_map(|ns| ns.databases()).collect();
    let mut seed = now_ms() as usize ^ (evicted.load(Ordering::Relaxed) as usize).rotate_left(17);
    let mut freed = 0u64;
    let mut removed = 0;
    let mut fruitless = 0;
    while freed < bytes && !databases.is_empty() {
        seed = next_seed(seed);
        let database = databases[seed % databases.len()];
        let index = (seed >> 8) % database.shard_count();
        let mut shard = database.lock_shard(index);
        let Some((key, size)) = shard.eviction_candidate(policy, samples, seed >> 16, now_ms())
        else {
            drop(shard);
            // Every shard of every database may be without deadlines: give up after a
            // fair number of empty picks rather than loop.
            fruitless += 1;
            if fruitless > 4 * databases.len() * database.shard_count() {
                break;
            }
            continue;
        };
        fruitless = 0;
        shard.remove(&key, now_ms());
        drop(shard);
        database.notify(EventClass::Evicted, "evicted", &key);
        freed += size as u64;
        removed += 1;
    }
    evicted.fetch_add(removed, Ordering::Relaxed);
    freed
}

/// The next value of a xorshift sequence: cheap, and random enough to spread the picks.
fn next_seed(mut x: usize) -> usize {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_survive_their_code() {
        for &(name, policy) in EvictionPolicy::CHOICES {
            assert_eq!(EvictionPolicy::from_code(policy.code()), policy);
            assert_eq!(policy.as_str(), name);
        }
    }
}
