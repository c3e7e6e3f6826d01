//! The per-user index: each user's session ids, oldest first.
//!
//! The index is a superset of the user's active sessions: a session that expires or is
//! ended by id leaves its id behind until the entry is compacted. Everything that must be
//! exact (caps, LIST, COUNT, ENDALL) checks each id against its shard while holding the
//! user's lock, and every creation for a user happens under that lock, so a cap can never
//! be overshot. `stale` counts ids known to have gone; past half the entry, it is compacted.
//!
//! Lock order: a user shard, then session shards; never the other way round.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;
use parking_lot::{Mutex, MutexGuard};

use super::id::SessionId;

/// One user's session ids in creation order.
#[derive(Debug, Default)]
pub struct UserSessions {
    /// Ids that may still be active, oldest first.
    pub ids: VecDeque<SessionId>,
    /// How many of `ids` are known to have ended since the last compaction.
    pub stale: usize,
}

impl UserSessions {
    /// Whether so many ids went stale that the entry should be compacted.
    pub fn wants_compaction(&self) -> bool {
        self.stale * 2 >= self.ids.len()
    }
}

/// Users of one shard of the index.
pub type UserMap = HashMap<Box<[u8]>, UserSessions, RandomState>;

/// The index, sharded by user.
#[derive(Debug)]
pub struct UserIndex {
    shards: Box<[Mutex<UserMap>]>,
    hasher: RandomState,
    users: AtomicU64,
}

impl UserIndex {
    /// An empty index in `shards` parts.
    pub fn new(shards: usize) -> Self {
        UserIndex {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(UserMap::default()))
                .collect(),
            hasher: RandomState::default(),
            users: AtomicU64::new(0),
        }
    }

    /// Locks the part holding `user`.
    pub fn lock(&self, user: &[u8]) -> UserLock<'_> {
        let shard = (self.hasher.hash_one(user) % self.shards.len() as u64) as usize;
        UserLock {
            map: self.shards[shard].lock(),
            users: &self.users,
        }
    }

    /// Users with an entry (at least one session that may be active).
    pub fn users(&self) -> u64 {
        self.users.load(Ordering::Relaxed)
    }
}

/// One locked part of the index.
pub struct UserLock<'a> {
    map: MutexGuard<'a, UserMap>,
    users: &'a AtomicU64,
}

impl UserLock<'_> {
    /// The entry of `user`, created empty if missing.
    pub fn entry(&mut self, user: &[u8]) -> &mut UserSessions {
        if !self.map.contains_key(user) {
            self.map.insert(user.into(), UserSessions::default());
            self.users.fetch_add(1, Ordering::Relaxed);
        }
        self.map.get_mut(user).expect("inserted above")
    }

    /// The entry of `user`, if it has one.
    pub fn get(&mut self, user: &[u8]) -> Option<&mut UserSessions> {
        self.map.get_mut(user)
    }

    /// Drops the entry of `user` if it holds no ids.
    pub fn remove_if_empty(&mut self, user: &[u8]) {
        if self.map.get(user).is_some_and(|e| e.ids.is_empty()) {
            self.map.remove(user);
            self.users.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
