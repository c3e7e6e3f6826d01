//! One shard of a database: its keys in a slab, an index by key, and the timing wheel that
//! expires them.
//!
//! ```text
//! index: HashTable<u32> ──▶ slots: Vec<Option<Slot{key, entry}>> ◀── wheel: TimingWheel<u32>
//!        (slot numbers,          (a free list reuses places)          (timers carry slot
//!         by key hash)                                                 numbers, not keys)
//! ```
//!
//! A key costs its slot (key pointer, value, deadline, timer id, last access), four bytes
//! of index and a wheel node when it has a deadline, besides the key's and value's own
//! allocations: no copy or reference count of the key outside its slot.
//!
//! Invariant: an entry's `timer` names a timer exactly when the wheel holds one for its
//! slot, armed at or before the entry's deadline. Moving a deadline later leaves the timer
//! alone; when it fires, the real deadline is checked and the timer re-armed. Removing a key
//! removes its timer, so a timer never outlives the key in its slot.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::eviction::EvictionPolicy;
use super::value::Value;
use super::watch::Watchers;
use super::wheel::{TimerId, TimingWheel};

/// A key as stored: its own allocation, never a slice of a connection's read buffer.
pub type Key = Box<[u8]>;

/// The `timer` of an entry without one.
const NO_TIMER: u32 = u32::MAX;

/// A stored value with its expiry.
#[derive(Debug)]
pub struct Entry {
    /// What the key holds.
    pub value: Value,
    /// Absolute deadline in Unix milliseconds; 0 when the key does not expire.
    expires_at: u64,
    /// The wheel timer's id, [`NO_TIMER`] when none.
    timer: u32,
    /// [`access_tick`] of the last read or write, for `OBJECT IDLETIME` and LRU eviction.
    last_access: u32,
}

impl Entry {
    fn new(value: Value, now: u64) -> Entry {
        Entry {
            value,
            expires_at: 0,
            timer: NO_TIMER,
            last_access: access_tick(now),
        }
    }

    /// The absolute deadline in Unix milliseconds, if the key expires.
    pub fn expires_at(&self) -> Option<u64> {
        (self.expires_at != 0).then_some(self.expires_at)
    }

    /// Whole seconds since the key was last read or written, at `now` (Unix ms).
    pub fn idle_seconds(&self, now: u64) -> u64 {
        self.idle_ms(now) / 1000
    }

    /// Milliseconds since the key was last read or written, in [`ACCESS_TICK_MS`] steps.
    fn idle_ms(&self, now: u64) -> u64 {
        u64::from(access_tick(now).wrapping_sub(self.last_access)) * ACCESS_TICK_MS
    }

    fn touch(&mut self, now: u64) {
        self.last_access = access_tick(now);
    }

    fn is_expired(&self, now: u64) -> bool {
        self.due_at(now).is_some()
    }

    /// The deadline, if it has passed at `now`.
    fn due_at(&self, now: u64) -> Option<u64> {
        self.expires_at().filter(|&deadline| deadline <= now)
    }

    fn timer(&self) -> Option<TimerId> {
        (self.timer != NO_TIMER).then(|| TimerId::from_raw(self.timer))
    }
}

/// The resolution of an entry's access clock: fine enough for LRU eviction to tell apart
/// keys used a few hundred requests apart.
const ACCESS_TICK_MS: u64 = 10;

/// A Unix millisecond time on the access clock, which wraps every 2^32 ticks (about 497
/// days), as Redis's LRU clock wraps: idle times are right while shorter than that.
fn access_tick(now: u64) -> u32 {
    (now / ACCESS_TICK_MS) as u32
}

/// A key and its entry, in its place of the slab.
#[derive(Debug)]
struct Slot {
    key: Key,
    entry: Entry,
}

/// What changed about a key, for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Its value (or whether it exists).
    Value,
    /// Only its deadline.
    Deadline,
    /// Some members of the collection it holds (a hash's fields): which ones are in the
    /// log; a large collection is journaled by those members, a small one whole.
    Members,
}

impl Change {
    /// What two changes of one key in a row amount to: a new value covers everything, and
    /// member changes are journaled with the deadline.
    fn then(self, next: Change) -> Change {
        match (self, next) {
            (Change::Value, _) | (_, Change::Value) => Change::Value,
            (Change::Members, _) | (_, Change::Members) => Change::Members,
            (Change::Deadline, Change::Deadline) => Change::Deadline,
        }
    }
}

/// The keys a command changed and what changed, for the journal. Key and member bytes are
/// kept back to back in one buffer that is reused, so recording a change allocates nothing
/// once the buffers have grown.
#[derive(Debug, Default)]
pub struct ChangeLog {
    bytes: Vec<u8>,
    spans: Vec<Span>,
    /// Members noted, as ranges of `bytes`; those of one span are contiguous.
    members: Vec<(usize, usize)>,
}

/// One changed key in a [`ChangeLog`].
#[derive(Debug)]
struct Span {
    start: usize,
    end: usize,
    change: Change,
    /// Index in `members` of the span's first member.
    members: usize,
}

impl ChangeLog {
    /// Records that `key` changed; consecutive changes of one key (SET's value and
    /// deadline) make one entry.
    fn note(&mut self, key: &[u8], change: Change) {
        if let Some(span) = self.spans.last_mut()
            && self.bytes[span.start..span.end] == *key
        {
            span.change = span.change.then(change);
            return;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        self.spans.push(Span {
            start,
            end: self.bytes.len(),
            change,
            members: self.members.len(),
        });
    }

    /// Records that `member` of the collection at `key` changed.
    fn note_member(&mut self, key: &[u8], member: &[u8]) {
        self.note(key, Change::Members);
        if self
            .spans
            .last()
            .is_some_and(|s| s.change == Change::Members)
        {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(member);
            self.members.push((start, self.bytes.len()));
        }
    }

    /// The changed keys, what changed, and (for [`Change::Members`]) which members, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Change, MemberList<'_>)> {
        self.spans.iter().enumerate().map(|(i, span)| {
            let end = self
                .spans
                .get(i + 1)
                .map_or(self.members.len(), |s| s.members);
            let members = MemberList {
                bytes: &self.bytes,
                ranges: &self.members[span.members..end],
            };
            (&self.bytes[span.start..span.end], span.change, members)
        })
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Forgets every change, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.members.clear();
    }
}

/// The members of one key noted in a [`ChangeLog`] (possibly repeated).
#[derive(Clone, Copy, Debug)]
pub struct MemberList<'a> {
    bytes: &'a [u8],
    ranges: &'a [(usize, usize)],
}

impl<'a> MemberList<'a> {
    /// The members, in the order they were noted.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let bytes = self.bytes;
        self.ranges
            .iter()
            .map(move |&(start, end)| &bytes[start..end])
    }
}

/// Where a command changing members of a collection (a hash's fields) tells the journal
/// which ones it changed; see [`Shard::edit`].
pub struct MemberNotes<'a> {
    log: Option<&'a mut ChangeLog>,
    /// The shard's WATCHers, marked as a member changes.
    watchers: Option<&'a Watchers>,
    key: &'a [u8],
}

impl MemberNotes<'_> {
    /// Notes that go nowhere, for a value that is not stored yet.
    pub fn unlogged() -> Self {
        MemberNotes {
            log: None,
            watchers: None,
            key: &[],
        }
    }

    /// Records that `member` changed (was set, or removed).
    pub fn note(&mut self, member: &[u8]) {
        if let Some(log) = self.log.as_deref_mut() {
            log.note_member(self.key, member);
        }
        if let Some(watchers) = self.watchers {
            watchers.touch(self.key);
        }
    }
}

/// Keys and their expiry timers. Locked as a whole by its [`super::Database`].
pub struct Shard {
    /// Each key with its entry, or a free place.
    slots: Vec<Option<Slot>>,
    /// Free places, reused before the slab grows.
    free: Vec<u32>,
    /// Slot numbers by the hash of their key.
    index: HashTable<u32>,
    /// Independent of the hasher that picks the shard, whose low bits every key here shares.
    hasher: RandomState,
    wheel: TimingWheel<u32>,
    /// Keys removed because their deadline passed, waiting for their `expired` events, each
    /// with how many ms after its deadline it was removed.
    expired: Vec<(Key, u64)>,
    /// The earliest deadline armed since the expiry driver last looked, so it can wake earlier.
    armed_since_drain: Option<u64>,
    /// Whether changes are recorded in `changes` (the AOF is on).
    journaled: bool,
    /// Keys changed since the shard was locked, for the journal (when `journaled`).
    changes: ChangeLog,
    /// How many keys have a deadline, and the sum of those deadlines: INFO keyspace's
    /// `expires` and `avg_ttl` without walking the keys.
    deadlines: Deadlines,
    /// Clients watching keys of this shard (WATCH), marked on every change to them.
    watchers: Watchers,
}

/// A count of deadlines and their sum, kept as keys gain and lose them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    /// Keys with a deadline, including ones past it not yet removed.
    pub count: u64,
    /// Their deadlines added up, in Unix milliseconds.
    pub sum: u128,
}

impl Deadlines {
    fn add(&mut self, deadline: u64) {
        self.count += 1;
        self.sum += u128::from(deadline);
    }

    fn remove(&mut self, deadline: u64) {
        self.count -= 1;
        self.sum -= u128::from(deadline);
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("keys", &self.index.len())
            .field("timers", &self.wheel.len())
            .finish()
    }
}

impl Shard {
    /// An empty shard whose wheel starts at `now`.
    pub fn new(now: u64) -> Self {
        Shard {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::default(),
            wheel: TimingWheel::new(now),
            expired: Vec::new(),
            armed_since_drain: None,
            journaled: false,
            changes: ChangeLog::default(),
            deadlines: Deadlines::default(),
            watchers: Watchers::default(),
        }
    }

    /// The keys with a deadline, and the sum of their deadlines.
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    /// Turns recording of changes for the journal on or off.
    pub fn set_journaled(&mut self, journaled: bool) {
        self.journaled = journaled;
    }

    /// The keys changed since the last call and what changed, in order; hand the log
    /// back with [`Shard::recycle_changes`] so its buffers are reused.
    pub fn take_changes(&mut self) -> ChangeLog {
        std::mem::take(&mut self.changes)
    }

    /// Gives back a log taken by [`Shard::take_changes`], emptied, to record into again.
    pub fn recycle_changes(&mut self, mut log: ChangeLog) {
        log.clear();
        self.changes = log;
    }

    /// Whether changes wait to be journaled.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The one place every change to a key passes: logged for the journal, and marking the
    /// clients that WATCH it.
    fn note_change(&mut self, key: &[u8], change: Change) {
        if self.journaled {
            self.changes.note(key, change);
        }
        if !self.watchers.is_empty() {
            self.watchers.touch(key);
        }
    }

    /// The clients watching keys of this shard.
    pub fn watchers_mut(&mut self) -> &mut Watchers {
        &mut self.watchers
    }

    /// The slot holding `key`, past its deadline or not.
    fn find(&self, key: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hasher.hash_one(key), |&slot| {
                slots[slot as usize]
                    .as_ref()
                    .is_some_and(|held| *held.key == *key)
            })
            .copied()
    }

    fn slot(&self, slot: u32) -> &Slot {
        self.slots[slot as usize]
            .as_ref()
            .expect("indexed and armed slots hold a key")
    }

    fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        &mut self.slots[slot as usize]
            .as_mut()
            .expect("indexed and armed slots hold a key")
            .entry
    }

    /// The entry for `key` as it is, past its deadline or not, without side effects: what
    /// the journal records.
    pub fn current(&self, key: &[u8]) -> Option<&Entry> {
        self.find(key).map(|slot| &self.slot(slot).entry)
    }

    /// Number of keys, including ones whose deadline passed but were not yet removed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the shard holds no keys at all.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of the live entry for `key`, removing it first if its deadline has passed.
    fn live(&mut self, key: &[u8], now: u64) -> Option<u32> {
        let slot = self.find(key)?;
        let Some(deadline) = self.slot(slot).entry.due_at(now) else {
            return Some(slot);
        };
        if let Some((key, _)) = self.remove_slot(slot) {
            self.expired.push((key, now - deadline));
        }
        None
    }

    /// The live entry for `key`, removing it first if its deadline has passed; marks it
    /// accessed.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let slot = self.live(key, now)?;
        let entry = self.entry_mut(slot);
        entry.touch(now);
        Some(entry)
    }

    /// The live entry for `key`, to change its value; marks it accessed and changed.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let slot = self.live(key, now)?;
        self.note_change(key, Change::Value);
        let entry = self.entry_mut(slot);
        entry.touch(now);
        Some(entry)
    }

    /// The live value at `key`, marked accessed, for a command that changes some members of
    /// the collection it holds: it tells the journal which through the [`MemberNotes`].
    pub fn edit<'a>(
        &'a mut self,
        key: &'a [u8],
        now: u64,
    ) -> Option<(&'a mut Value, MemberNotes<'a>)> {
        let slot = self.live(key, now)?;
        let log = self.journaled.then_some(&mut self.changes);
        let watchers = (!self.watchers.is_empty()).then_some(&self.watchers);
        let entry = &mut self.slots[slot as usize].as_mut()?.entry;
        entry.touch(now);
        Some((&mut entry.value, MemberNotes { log, watchers, key }))
    }

    /// The live entry for `key` without marking it accessed (`OBJECT`, `TTL`).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let slot = self.live(key, now)?;
        Some(&self.slot(slot).entry)
    }

    /// Whether `key` exists and is live.
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.live(key, now).is_some()
    }

    /// Stores `value` under `key` with an absolute deadline (`None` = persistent),
    /// replacing what was there. Returns the previous live value.
    pub fn set(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: Option<u64>,
        now: u64,
    ) -> Option<Value> {
        let live = self.live(key, now);
        self.note_change(key, Change::Value);
        match live {
            Some(slot) => {
                let entry = self.entry_mut(slot);
                let old = std::mem::replace(&mut entry.value, value);
                entry.touch(now);
                self.set_slot_deadline(slot, expires_at);
                Some(old)
            }
            None => {
                self.insert_new(Key::from(key), value, expires_at, now);
                None
            }
        }
    }

    /// Stores a new entry under an owned key that is known to be absent.
    fn insert_new(&mut self, key: Key, value: Value, expires_at: Option<u64>, now: u64) {
        let hash = self.hasher.hash_one(&*key);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 keys per shard")
            }
        };
        self.slots[slot as usize] = Some(Slot {
            key,
            entry: Entry::new(value, now),
        });
        let Shard {
            slots,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(hash, slot, |&other| {
            let held = slots[other as usize]
                .as_ref()
                .expect("indexed slots hold a key");
            hasher.hash_one(&*held.key)
        });
        if expires_at.is_some() {
            self.set_slot_deadline(slot, expires_at);
        }
    }

    /// Removes `key`, returning its entry if it was live.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let slot = self.live(key, now)?;
        self.remove_slot(slot).map(|(_, entry)| entry)
    }

    /// Removes the key in `slot` and returns it with its entry, whatever its deadline.
    fn remove_slot(&mut self, slot: u32) -> Option<(Key, Entry)> {
        let Slot { key, mut entry } = self.slots.get_mut(slot as usize)?.take()?;
        let hash = self.hasher.hash_one(&*key);
        if let Ok(found) = self.index.find_entry(hash, |&other| other == slot) {
            found.remove();
        }
        self.free.push(slot);
        self.note_change(&key, Change::Value);
        if let Some(deadline) = entry.expires_at() {
            self.deadlines.remove(deadline);
        }
        if let Some(timer) = entry.timer() {
            self.wheel.remove(timer);
            entry.timer = NO_TIMER;
        }
        Some((key, entry))
    }

    /// Moves a removed entry into this shard under its owned key, keeping its deadline.
    /// Used by RENAME, MOVE and COPY; replaces whatever the key held.
    pub fn insert_entry(&mut self, key: Key, entry: Entry, now: u64) {
        let expires_at = entry.expires_at();
        if let Some(slot) = self.find(&key) {
            self.remove_slot(slot);
        }
        self.note_change(&key, Change::Value);
        self.insert_new(key, entry.value, expires_at, now);
    }

    /// Takes `key` out of the shard with its deadline, for moving it elsewhere.
    pub fn take(&mut self, key: &[u8], now: u64) -> Option<(Key, Entry)> {
        let slot = self.live(key, now)?;
        self.remove_slot(slot)
    }

    /// Sets or clears the deadline of an existing key. A later deadline does not touch the
    /// wheel; an earlier one moves the timer.
    pub fn set_deadline(&mut self, key: &[u8], expires_at: Option<u64>) {
        if let Some(slot) = self.find(key) {
            self.note_change(key, Change::Deadline);
            self.set_slot_deadline(slot, expires_at);
        }
    }

    fn set_slot_deadline(&mut self, slot: u32, expires_at: Option<u64>) {
        let entry = &mut self.slots[slot as usize]
            .as_mut()
            .expect("a key's slot holds it")
            .entry;
        if let Some(old) = entry.expires_at() {
            self.deadlines.remove(old);
        }
        let Some(deadline) = expires_at else {
            entry.expires_at = 0;
            if let Some(timer) = entry.timer() {
                self.wheel.remove(timer);
                entry.timer = NO_TIMER;
            }
            return;
        };
        entry.expires_at = deadline.max(1);
        self.deadlines.add(entry.expires_at);
        match entry.timer() {
            Some(timer) if self.wheel.deadline(timer).is_some_and(|t| t <= deadline) => {}
            Some(timer) => {
                self.wheel.reschedule(timer, deadline);
                self.note_armed(deadline);
            }
            None => {
                entry.timer = self.wheel.insert(deadline, slot).raw();
                self.note_armed(deadline);
            }
        }
    }

    fn note_armed(&mut self, deadline: u64) {
        self.armed_since_drain = Some(self.armed_since_drain.map_or(deadline, |t| t.min(deadline)));
    }

    /// The earliest deadline armed since the last call, if any.
    pub fn take_armed(&mut self) -> Option<u64> {
        self.armed_since_drain.take()
    }

    /// Fires every timer due at `now`: expired keys are removed and recorded, timers of keys
    /// whose deadline moved later are re-armed. `fired` is scratch space, kept by the caller
    /// so that it is allocated once.
    pub fn advance(&mut self, now: u64, fired: &mut Vec<(u32, u64)>) {
        fired.clear();
        self.wheel.advance(now, fired);
        for (slot, _) in fired.drain(..) {
            let Some(held) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
                continue;
            };
            let entry = &mut held.entry;
            entry.timer = NO_TIMER;
            if let Some(deadline) = entry.due_at(now) {
                if let Some((key, _)) = self.remove_slot(slot) {
                    self.expired.push((key, now - deadline));
                }
            } else if let Some(deadline) = entry.expires_at() {
                let timer = self.wheel.insert(deadline, slot).raw();
                self.entry_mut(slot).timer = timer;
            }
        }
    }

    /// Of `samples` keys with a deadline picked from `seed` on, the one `policy` would
    /// evict first (for `maxmemory`), with a guess of the bytes removing it frees.
    pub fn eviction_candidate(
        &self,
        policy: EvictionPolicy,
        samples: usize,
        seed: usize,
        now: u64,
    ) -> Option<(Key, usize)> {
        let spread = self.wheel.len().max(1);
        (0..samples.max(1))
            .filter_map(|n| {
                let slot = *self
                    .wheel
                    .sample(seed.wrapping_add(n.wrapping_mul(spread / 7 + 1)))?;
                let held = self.slots[slot as usize].as_ref()?;
                Some((&held.key, &held.entry))
            })
            .min_by_key(|(_, entry)| match policy {
                EvictionPolicy::VolatileTtl => entry.expires_at,
                EvictionPolicy::VolatileLru => u64::MAX - entry.idle_ms(now),
                EvictionPolicy::VolatileRandom | EvictionPolicy::NoEviction => 0,
            })
            .map(|(key, entry)| (key.clone(), key.len() + entry.value.approximate_size()))
    }

    /// The earliest time a timer may fire, as a lower bound.
    pub fn next_deadline(&self) -> Option<u64> {
        self.wheel.next_deadline()
    }

    /// Keys expired since the last call, for their `expired` events, each with how many ms
    /// after its deadline it was removed.
    pub fn take_expired(&mut self) -> Vec<(Key, u64)> {
        std::mem::take(&mut self.expired)
    }

    /// Whether expired keys are waiting for their events.
    pub fn has_expired(&self) -> bool {
        !self.expired.is_empty()
    }

    /// Iterates over live keys and entries.
    pub fn iter(&self, now: u64) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.slots
            .iter()
            .flatten()
            .filter(move |held| !held.entry.is_expired(now))
            .map(|held| (&*held.key, &held.entry))
    }

    /// Live keys and entries in slab order from place `from` on, visiting at most `budget`
    /// places that hold a key; also returns the place to continue from, `None` at the end.
    /// A key keeps its place for as long as it exists, so continuing from the returned place
    /// (SCAN's cursor) meets every key that exists throughout exactly once.
    pub fn scan_from(
        &self,
        from: u32,
        budget: usize,
        now: u64,
    ) -> (Vec<(&[u8], &Entry)>, Option<u32>) {
        let mut found = Vec::new();
        let mut visited = 0;
        let start = (from as usize).min(self.slots.len());
        for (offset, place) in self.slots[start..].iter().enumerate() {
            if visited == budget {
                return (found, u32::try_from(start + offset).ok());
            }
            let Some(held) = place else { continue };
            visited += 1;
            if !held.entry.is_expired(now) {
                found.push((&*held.key, &held.entry));
            }
        }
        (found, None)
    }

    /// A key at a pseudo-random position, for RANDOMKEY; `None` when empty.
    pub fn random_key(&self, seed: usize, now: u64) -> Option<&[u8]> {
        let live = self.iter(now).count();
        if live == 0 {
            return None;
        }
        self.iter(now).nth(seed % live).map(|(key, _)| key)
    }

    /// Removes every key and timer; returns how many live keys there were. The caller
    /// journals the flush as a whole. Clients watching a key that was there are marked;
    /// the watchers stay.
    pub fn clear(&mut self, now: u64) -> usize {
        let live = self.iter(now).count();
        self.watchers.touch_where(|key| self.find(key).is_some());
        let journaled = self.journaled;
        let watchers = std::mem::take(&mut self.watchers);
        *self = Shard::new(now);
        self.journaled = journaled;
        self.watchers = watchers;
        live
    }

    /// Exchanges the keys of two shards (SWAPDB) while each keeps its own watchers, which
    /// are marked for every key that was there before or is there after.
    pub fn swap_contents(&mut self, other: &mut Shard) {
        std::mem::swap(self, other);
        std::mem::swap(&mut self.watchers, &mut other.watchers);
        let existed = |key: &[u8]| self.find(key).is_some() || other.find(key).is_some();
        self.watchers.touch_where(existed);
        other.watchers.touch_where(existed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::string(bytes::Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn lazy_expiry_removes_and_records() {
        let mut shard = Shard::new(1_000);
        shard.set(b"k", text("v"), Some(1_500), 1_000);
        assert!(shard.get(b"k", 1_499).is_some());
        assert!(shard.get(b"k", 1_500).is_none());
        assert_eq!(shard.take_expired(), vec![(Key::from(&b"k"[..]), 0)]);
        assert_eq!(shard.len(), 0);
    }

    #[test]
    fn wheel_expires_at_the_deadline_and_rearms_when_moved_later() {
        let mut shard = Shard::new(0);
        let mut fired = Vec::new();
        shard.set(b"a", text("1"), Some(100), 0);
        shard.set_deadline(b"a", Some(300));
        shard.advance(100, &mut fired);
        assert!(
            !shard.has_expired(),
            "deadline moved later must not expire at the old one"
        );
        shard.advance(299, &mut fired);
        assert!(!shard.has_expired());
        shard.advance(305, &mut fired);
        assert_eq!(
            shard.take_expired(),
            vec![(Key::from(&b"a"[..]), 5)],
            "removed 5 ms after its deadline"
        );
    }

    #[test]
    fn earlier_deadline_moves_the_timer_and_persist_disarms() {
        let mut shard = Shard::new(0);
        let mut fired = Vec::new();
        shard.set(b"a", text("1"), Some(1_000), 0);
        shard.set_deadline(b"a", Some(10));
        shard.advance(10, &mut fired);
        assert_eq!(shard.take_expired().len(), 1);
        shard.set(b"b", text("1"), Some(10), 10);
        shard.set_deadline(b"b", None);
        shard.advance(1_000, &mut fired);
        assert!(!shard.has_expired());
        assert!(shard.get(b"b", 1_000).is_some());
    }

    #[test]
    fn deadlines_are_counted_as_keys_gain_and_lose_them() {
        let mut shard = Shard::new(0);
        let mut fired = Vec::new();
        shard.set(b"a", text("1"), Some(100), 0);
        shard.set(b"b", text("1"), Some(300), 0);
        shard.set(b"c", text("1"), None, 0);
        assert_eq!(shard.deadlines(), Deadlines { count: 2, sum: 400 });
        shard.set_deadline(b"b", Some(500));
        shard.set_deadline(b"c", Some(50));
        assert_eq!(shard.deadlines(), Deadlines { count: 3, sum: 650 });
        shard.set(b"c", text("2"), None, 0);
        shard.advance(100, &mut fired);
        assert_eq!(shard.deadlines(), Deadlines { count: 1, sum: 500 });
        shard.set_deadline(b"b", None);
        assert_eq!(shard.deadlines(), Deadlines::default());
        shard.set(b"d", text("1"), Some(700), 0);
        shard.remove(b"d", 0);
        assert_eq!(shard.deadlines(), Deadlines::default());
    }

    fn logged(log: &ChangeLog) -> Vec<(Vec<u8>, Change, Vec<Vec<u8>>)> {
        log.iter()
            .map(|(key, change, members)| {
                (
                    key.to_vec(),
                    change,
                    members.iter().map(<[u8]>::to_vec).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn member_changes_merge_with_the_other_changes_of_their_key() {
        let mut log = ChangeLog::default();
        log.note(b"h", Change::Deadline);
        log.note_member(b"h", b"a");
        log.note_member(b"h", b"b");
        log.note(b"h", Change::Deadline);
        log.note_member(b"other", b"x");
        log.note(b"v", Change::Value);
        log.note_member(b"v", b"ignored");
        log.note_member(b"w", b"y");
        log.note(b"w", Change::Value);
        let owned = |s: &[u8]| s.to_vec();
        assert_eq!(
            logged(&log),
            [
                (owned(b"h"), Change::Members, vec![owned(b"a"), owned(b"b")]),
                (owned(b"other"), Change::Members, vec![owned(b"x")]),
                (owned(b"v"), Change::Value, vec![]),
                (owned(b"w"), Change::Value, vec![owned(b"y")]),
            ]
        );
        log.clear();
        assert!(log.is_empty() && log.iter().next().is_none());
    }

    #[test]
    fn edits_note_members_only_when_journaled() {
        let mut shard = Shard::new(0);
        shard.set(b"k", text("v"), None, 0);
        let (_, mut notes) = shard.edit(b"k", 5).expect("k exists");
        notes.note(b"m");
        assert!(!shard.has_changes());
        assert_eq!(
            shard.get(b"k", 5_000).map(|e| e.idle_seconds(7_999)),
            Some(2)
        );
        shard.set_journaled(true);
        let (_, mut notes) = shard.edit(b"k", 6).expect("k exists");
        notes.note(b"m");
        assert_eq!(
            logged(&shard.take_changes()),
            [(b"k".to_vec(), Change::Members, vec![b"m".to_vec()])]
        );
        assert!(shard.edit(b"absent", 6).is_none());
    }

    #[test]
    fn overwriting_without_ttl_clears_the_deadline() {
        let mut shard = Shard::new(0);
        shard.set(b"a", text("1"), Some(50), 0);
        shard.set(b"a", text("2"), None, 1);
        assert_eq!(shard.get(b"a", 100).map(|e| e.expires_at()), Some(None));
    }
}
