//! The per-user index: each user's session ids, oldest first.
//!
//! The index is a superset of the user's active sessions: a session that expires or is
//! ended by id leaves its id behind until the entry is compacted. Everything that must be
//! exact (caps, LIST, COUNT, ENDALL) checks each id against its shard while holding the
//! user's lock, and every creation for a user happens under that lock, so a cap can never
//! be overshot. `stale` counts ids known to have gone; past half the entry, it is compacted.
//!
//! Most users hold one or two sessions, so an entry is one allocation holding the stale
//! count, the name and the ids (`[stale u32][name length u32][name][id 16 bytes]…`), filed
//! in a hash table by the name's hash: about 70 bytes for a user with one session.
//!
//! Lock order: a user shard, then session shards; never the other way round.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};

use super::id::SessionId;

const STALE: usize = 0;
const NAME_LEN: usize = 4;
const NAME: usize = 8;
const ID_LEN: usize = 16;

/// One user's name and session ids in creation order, packed.
#[derive(Debug)]
pub struct UserSessions(Vec<u8>);

impl UserSessions {
    fn new(name: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(NAME + name.len() + ID_LEN);
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(name);
        UserSessions(bytes)
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }

    fn ids_start(&self) -> usize {
        NAME + self.u32_at(NAME_LEN) as usize
    }

    /// The user's name.
    pub fn name(&self) -> &[u8] {
        &self.0[NAME..self.ids_start()]
    }

    /// How many ids the entry holds (active sessions and stale ones).
    pub fn len(&self) -> usize {
        (self.0.len() - self.ids_start()) / ID_LEN
    }

    /// Whether the entry holds no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids, oldest first.
    pub fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.0[self.ids_start()..]
            .chunks_exact(ID_LEN)
            .map(|chunk| {
                let mut id = [0u8; ID_LEN];
                id.copy_from_slice(chunk);
                SessionId::from_bytes(id)
            })
    }

    /// Appends the newest id.
    pub fn push(&mut self, id: SessionId) {
        self.0.extend_from_slice(id.bytes());
    }

    /// Removes and returns the oldest id.
    pub fn pop_oldest(&mut self) -> Option<SessionId> {
        let oldest = self.ids().next()?;
        let start = self.ids_start();
        self.0.drain(start..start + ID_LEN);
        Some(oldest)
    }

    /// Puts `new` where `old` was, keeping its place in the order.
    pub fn replace(&mut self, old: &SessionId, new: SessionId) {
        let start = self.ids_start();
        if let Some(chunk) = self.0[start..]
            .chunks_exact_mut(ID_LEN)
            .find(|chunk| *chunk == old.bytes())
        {
            chunk.copy_from_slice(new.bytes());
        }
    }

    /// Keeps the ids for which `keep` says yes, in order, and forgets the stale count.
    pub fn retain(&mut self, mut keep: impl FnMut(&SessionId) -> bool) {
        let start = self.ids_start();
        let kept: Vec<SessionId> = self.ids().filter(|id| keep(id)).collect();
        self.0.truncate(start);
        for id in kept {
            self.push(id);
        }
        self.0[STALE..STALE + 4].copy_from_slice(&0u32.to_le_bytes());
        self.0.shrink_to(self.0.len().max(start + ID_LEN));
    }

    /// Puts the ids in the order of `key` (loading: by creation time).
    pub fn sort_by_key(&mut self, mut key: impl FnMut(&SessionId) -> u64) {
        let mut ids: Vec<(u64, SessionId)> = self.ids().map(|id| (key(&id), id)).collect();
        ids.sort_unstable_by_key(|&(key, _)| key);
        self.0.truncate(self.ids_start());
        for (_, id) in ids {
            self.push(id);
        }
    }

    /// Notes that one of the ids has ended; whether so many have that the entry should be
    /// compacted with [`UserSessions::retain`].
    pub fn note_stale(&mut self) -> bool {
        let stale = self.u32_at(STALE).saturating_add(1);
        self.0[STALE..STALE + 4].copy_from_slice(&stale.to_le_bytes());
        stale as usize * 2 >= self.len()
    }
}

/// The index, sharded by user.
#[derive(Debug)]
pub struct UserIndex {
    shards: Box<[Mutex<HashTable<UserSessions>>]>,
    hasher: RandomState,
    users: AtomicU64,
}

impl UserIndex {
    /// An empty index in `shards` parts.
    pub fn new(shards: usize) -> Self {
        UserIndex {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashTable::new()))
                .collect(),
            hasher: RandomState::default(),
            users: AtomicU64::new(0),
        }
    }

    /// Locks the part holding `user`.
    pub fn lock(&self, user: &[u8]) -> UserLock<'_> {
        let hash = self.hasher.hash_one(user);
        let shard = (hash % self.shards.len() as u64) as usize;
        UserLock {
            table: self.shards[shard].lock(),
            hasher: &self.hasher,
            users: &self.users,
        }
    }

    /// Makes room for about `users` more users, spread over the parts (loading: no table
    /// grows while it is filled); [`UserIndex::shrink_to_fit`] gives back what was not used.
    pub fn reserve(&self, users: usize) {
        let per_shard = users.div_ceil(self.shards.len());
        let hasher = &self.hasher;
        for shard in &self.shards {
            shard
                .lock()
                .reserve(per_shard, |entry| hasher.hash_one(entry.name()));
        }
    }

    /// Gives back room no entry uses (after [`UserIndex::reserve`] guessed high).
    pub fn shrink_to_fit(&self) {
        let hasher = &self.hasher;
        for shard in &self.shards {
            shard
                .lock()
                .shrink_to_fit(|entry| hasher.hash_one(entry.name()));
        }
    }

    /// Runs `f` on every entry, one locked part at a time.
    pub fn for_each_entry(&self, mut f: impl FnMut(&mut UserSessions)) {
        for shard in &self.shards {
            shard.lock().iter_mut().for_each(&mut f);
        }
    }

    /// Users with an entry (at least one session that may be active).
    pub fn users(&self) -> u64 {
        self.users.load(Ordering::Relaxed)
    }
}

/// One locked part of the index.
pub struct UserLock<'a> {
    table: MutexGuard<'a, HashTable<UserSessions>>,
    hasher: &'a RandomState,
    users: &'a AtomicU64,
}

impl UserLock<'_> {
    /// The entry of `user`, created empty if missing.
    pub fn entry(&mut self, user: &[u8]) -> &mut UserSessions {
        let hasher = self.hasher;
        let hash = hasher.hash_one(user);
        let entry = self
            .table
            .entry(hash, |e| e.name() == user, |e| hasher.hash_one(e.name()));
        if let hashbrown::hash_table::Entry::Vacant(_) = &entry {
            self.users.fetch_add(1, Ordering::Relaxed);
        }
        entry.or_insert_with(|| UserSessions::new(user)).into_mut()
    }

    /// The entry of `user`, if it has one.
    pub fn get(&mut self, user: &[u8]) -> Option<&mut UserSessions> {
        let hash = self.hasher.hash_one(user);
        self.table.find_mut(hash, |e| e.name() == user)
    }

    /// Drops the entry of `user` if it holds no ids.
    pub fn remove_if_empty(&mut self, user: &[u8]) {
        let hash = self.hasher.hash_one(user);
        if let Ok(entry) = self
            .table
            .find_entry(hash, |e| e.name() == user && e.is_empty())
        {
            entry.remove();
            self.users.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_order_through_pop_replace_and_retain() {
        let index = UserIndex::new(4);
        let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate()).collect();
        let mut users = index.lock(b"alice");
        let entry = users.entry(b"alice");
        assert_eq!(entry.name(), b"alice");
        for id in &ids {
            entry.push(*id);
        }
        assert_eq!(entry.pop_oldest(), Some(ids[0]));
        let fresh = SessionId::generate();
        entry.replace(&ids[2], fresh);
        entry.retain(|id| *id != ids[3]);
        assert_eq!(entry.ids().collect::<Vec<_>>(), vec![ids[1], fresh, ids[4]]);
        assert!(!entry.note_stale(), "1 stale of 3");
        assert!(entry.note_stale(), "2 stale of 3");
        assert_eq!(index.users(), 1);
        users.remove_if_empty(b"alice");
        assert_eq!(index.users(), 1, "not empty yet");
        users.entry(b"alice").retain(|_| false);
        users.remove_if_empty(b"alice");
        assert_eq!(index.users(), 0);
        assert!(users.get(b"alice").is_none());
    }
}
