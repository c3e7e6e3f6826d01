//! A numbered database (`SELECT n`): its keys spread over shards, each behind its own lock.
//!
//! Locks are held only for the duration of one command's work on the shard and never across
//! an `.await`. A command touching several keys locks their shards in ascending index order
//! (see [`Database::lock_many`]), so multi-key commands are atomic and cannot deadlock.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;
use parking_lot::{Mutex, MutexGuard};

use super::expiry::ExpiryClock;
use super::shard::{Change, ChangeLog, Entry, MemberList, Shard};
use crate::persistence::{Effect, Journal, capture};
use crate::pubsub::{EventClass, Hub};

/// Where a database's side effects go: keyspace events, the journal and the expiry driver.
#[derive(Debug, Clone)]
pub struct DatabaseLinks {
    /// The pub/sub hub that carries keyspace notifications.
    pub hub: Arc<Hub>,
    /// The namespace the database belongs to, for channel isolation.
    pub namespace: u32,
    /// The namespace's name, as the journal records it.
    pub namespace_name: Arc<str>,
    /// Where changes are logged.
    pub journal: Arc<Journal>,
    /// Wakes the expiry driver when a deadline earlier than its plan is armed.
    pub clock: Arc<ExpiryClock>,
    /// Keys removed because their deadline passed (INFO `expired_keys`).
    pub expired_keys: Arc<AtomicU64>,
}

/// A shard and what the expiry driver may read without taking its lock.
#[derive(Debug)]
pub struct ShardSlot {
    shard: Mutex<Shard>,
    /// A lower bound of the shard's earliest timer (`u64::MAX` when none).
    next_due: AtomicU64,
}

impl ShardSlot {
    /// A lower bound of the earliest timer in this shard, readable without the lock.
    pub fn next_due(&self) -> u64 {
        self.next_due.load(Ordering::Acquire)
    }
}

/// One database of a namespace.
#[derive(Debug)]
pub struct Database {
    index: usize,
    shards: Box<[ShardSlot]>,
    hasher: RandomState,
    links: DatabaseLinks,
}

impl Database {
    /// A database with `shards` empty shards. All databases of a namespace share `hasher`, so
    /// a key maps to the same shard index in each (SWAPDB swaps shards pairwise).
    pub fn new(
        index: usize,
        shards: usize,
        hasher: RandomState,
        links: DatabaseLinks,
        now: u64,
    ) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| ShardSlot {
                shard: Mutex::new(Shard::new(now)),
                next_due: AtomicU64::new(u64::MAX),
            })
            .collect();
        Database {
            index,
            shards,
            hasher,
            links,
        }
    }

    /// The database number.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many shards the keys are spread over.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard a key lives in.
    pub fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) % self.shards.len() as u64) as usize
    }

    /// Locks the shard holding `key`.
    pub fn lock(&self, key: &[u8]) -> ShardGuard<'_> {
        self.lock_shard(self.shard_of(key))
    }

    /// Locks shard number `index`.
    pub fn lock_shard(&self, index: usize) -> ShardGuard<'_> {
        let slot = &self.shards[index];
        let mut guard = slot.shard.lock();
        guard.set_journaled(self.links.journal.is_active());
        ShardGuard {
            guard,
            slot,
            database: self,
        }
    }

    /// Logs an effect on the database as a whole (FLUSHDB, SWAPDB), with the shards it
    /// concerns locked so it takes its place among the changes to their keys.
    pub fn journal(&self, effect: impl FnOnce(Cow<'_, str>) -> Effect<'_>) {
        let namespace = Cow::Borrowed(&*self.links.namespace_name);
        self.links.journal.append_one(&effect(namespace), true);
    }

    /// Locks every shard holding one of `keys`, in ascending shard order.
    pub fn lock_many<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> MultiGuard<'_> {
        let mut indexes: Vec<usize> = keys.into_iter().map(|key| self.shard_of(key)).collect();
        indexes.sort_unstable();
        indexes.dedup();
        MultiGuard {
            guards: indexes
                .into_iter()
                .map(|index| (index, self.lock_shard(index)))
                .collect(),
            database: self,
        }
    }

    /// Locks every shard, in order (FLUSHDB, KEYS, SWAPDB).
    pub fn lock_all(&self) -> Vec<ShardGuard<'_>> {
        (0..self.shards.len())
            .map(|index| self.lock_shard(index))
            .collect()
    }

    /// Removes every key (FLUSHDB), logged as one effect.
    pub fn flush(&self, now: u64) {
        let mut shards = self.lock_all();
        self.journal(|namespace| Effect::FlushDb {
            namespace,
            db: self.index as u32,
        });
        clear_shards(&mut shards, now);
    }

    /// Exchanges the contents of two databases of one namespace (SWAPDB), logged as one
    /// effect; `self` must have the lower index.
    pub fn swap_with(&self, higher: &Database) {
        let low_shards = self.lock_all();
        let high_shards = higher.lock_all();
        self.journal(|namespace| Effect::SwapDb {
            namespace,
            a: self.index as u32,
            b: higher.index as u32,
        });
        for (mut x, mut y) in low_shards.into_iter().zip(high_shards) {
            x.swap_contents(&mut y);
            x.publish_next_due();
            y.publish_next_due();
        }
    }

    /// The shard slots, for the expiry driver.
    pub fn slots(&self) -> &[ShardSlot] {
        &self.shards
    }

    /// Number of keys, counting ones past their deadline that are not yet removed (as
    /// Redis's DBSIZE does). All shards are locked together, so a multi-key write or SWAPDB is
    /// seen whole or not at all.
    pub fn len(&self) -> usize {
        self.lock_all().iter().map(|shard| shard.len()).sum()
    }

    /// Whether the database holds no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes a keyspace notification for a change to `key` in this database.
    pub fn notify(&self, class: EventClass, event: &str, key: &[u8]) {
        self.links
            .hub
            .notify_keyspace(self.links.namespace, self.index, class, event, key);
    }
}

/// Empties locked shards.
pub fn clear_shards(shards: &mut [ShardGuard<'_>], now: u64) {
    for shard in shards {
        shard.clear(now);
        shard.publish_next_due();
    }
}

/// Exclusive access to one shard. On drop it publishes the `expired` events of keys the
/// command found past their deadline, and tells the expiry driver about new early timers.
pub struct ShardGuard<'a> {
    guard: MutexGuard<'a, Shard>,
    slot: &'a ShardSlot,
    database: &'a Database,
}

impl std::ops::Deref for ShardGuard<'_> {
    type Target = Shard;

    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl std::ops::DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

impl ShardGuard<'_> {
    /// The database this shard belongs to.
    pub fn database(&self) -> &Database {
        self.database
    }

    /// Logs the changes of several locked shards as one record, so a crash keeps all of
    /// them or none (MOVE across databases). [`MultiGuard`] does this by itself.
    pub fn journal_together(guards: &mut [&mut ShardGuard<'_>]) {
        let Some(journal) = guards.first().map(|g| g.database.links.journal.clone()) else {
            return;
        };
        let logs: Vec<ChangeLog> = guards.iter_mut().map(|g| g.guard.take_changes()).collect();
        let effects = guards.iter().zip(&logs).flat_map(|(guard, log)| {
            log.iter()
                .map(|(key, change, members)| guard.change_effect(key, change, members))
        });
        journal.append(effects, true);
        for (guard, log) in guards.iter_mut().zip(logs) {
            guard.guard.recycle_changes(log);
        }
    }

    /// Records the shard's earliest timer for the expiry driver after it advanced the wheel.
    pub fn publish_next_due(&mut self) {
        let next = self.guard.next_deadline().unwrap_or(u64::MAX);
        self.guard.take_armed();
        self.slot.next_due.store(next, Ordering::Release);
    }

    /// The effect of a change this shard recorded.
    fn change_effect<'k>(
        &'k self,
        key: &'k [u8],
        change: Change,
        members: MemberList<'k>,
    ) -> Effect<'k> {
        let links = &self.database.links;
        capture::key_change(
            &links.namespace_name,
            self.database.index,
            &self.guard,
            key,
            change,
            members,
        )
    }
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        if self.guard.has_changes() {
            let log = self.guard.take_changes();
            let effects = log
                .iter()
                .map(|(key, change, members)| self.change_effect(key, change, members));
            self.database.links.journal.append(effects, true);
            self.guard.recycle_changes(log);
        }
        if let Some(deadline) = self.guard.take_armed() {
            self.slot.next_due.fetch_min(deadline, Ordering::AcqRel);
            self.database.links.clock.note_deadline(deadline);
        }
        if self.guard.has_expired() {
            let expired = self.guard.take_expired();
            self.database
                .links
                .expired_keys
                .fetch_add(expired.len() as u64, Ordering::Relaxed);
            crate::metrics::keys_expired(expired.iter().map(|&(_, late_ms)| late_ms));
            for (key, _) in expired {
                self.database.notify(EventClass::Expired, "expired", &key);
            }
        }
    }
}

/// Several shards locked together for a multi-key command; their changes are logged as one
/// record when it is dropped.
pub struct MultiGuard<'a> {
    guards: Vec<(usize, ShardGuard<'a>)>,
    database: &'a Database,
}

impl<'a> MultiGuard<'a> {
    /// The locked shard holding `key`. The key must have been among those locked.
    pub fn shard(&mut self, key: &[u8]) -> &mut ShardGuard<'a> {
        let index = self.database.shard_of(key);
        let position = self
            .guards
            .binary_search_by_key(&index, |(i, _)| *i)
            .unwrap_or_else(|_| panic!("shard {index} was not locked for this command"));
        &mut self.guards[position].1
    }

    /// The entry at `key` as it is, without side effects (no lazy expiry, no access mark),
    /// so that keys of several locked shards can be read at once (SINTER). The key must
    /// have been among those locked.
    pub fn current(&self, key: &[u8]) -> Option<&Entry> {
        let index = self.database.shard_of(key);
        let position = self
            .guards
            .binary_search_by_key(&index, |(i, _)| *i)
            .unwrap_or_else(|_| panic!("shard {index} was not locked for this command"));
        self.guards[position].1.current(key)
    }
}

impl Drop for MultiGuard<'_> {
    fn drop(&mut self) {
        let mut guards: Vec<&mut ShardGuard<'_>> =
            self.guards.iter_mut().map(|(_, guard)| guard).collect();
        ShardGuard::journal_together(&mut guards);
    }
}
