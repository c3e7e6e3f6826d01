//! One shard of a namespace's sessions: the records, an index by id, and the timing wheel
//! that ends them on time.
//!
//! Records live in a slab (`Vec` of slots plus a free list); the id index holds slot
//! numbers, and each session has at most one wheel timer carrying its slot. Touching a
//! session only moves its `last_access`: the timer stays where it is, and when it fires the
//! real deadline is checked and the timer re-armed (no wheel churn on reads).
//!
//! Invariant: a record's `timer` is `Some(t)` exactly when the wheel holds timer `t` for
//! its slot, armed at or before the moment the record must change (its deadline while
//! active, the end of its recovery window while ended).
//!
//! Every change of state that others must hear about (a session leaving the active set, an
//! ended session purged) is queued in `released`; the owner takes the queue after unlocking
//! the shard and settles it (statistics, the user index, events).

use hashbrown::HashTable;

use super::id::SessionId;
use super::record::{EndReason, Ending, Record};
use crate::store::wheel::{TimerId, TimingWheel};

/// A change of state the shard made that the namespace must account for.
#[derive(Debug)]
pub enum Released {
    /// A session stopped being active.
    Left {
        /// Its id.
        id: SessionId,
        /// Its user, to tidy the user index.
        user: Box<[u8]>,
        /// Why.
        reason: EndReason,
        /// How long it was active, in ms.
        duration_ms: u64,
        /// How long after its deadline it expired, in ms (0 unless it expired).
        late_ms: u64,
        /// Whether it is kept for `SESSION.RECOVER`.
        recoverable: bool,
    },
    /// An ended session was removed (its recovery window passed, or it was recovered).
    Purged,
}

/// What changed about a session, for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionChange {
    /// Its state: created, changed, ended, moved away or gone.
    State,
    /// Only its last use (GET, TOUCH).
    Touch,
}

/// Sessions whose id hashes to this shard.
pub struct SessionShard {
    slots: Vec<Option<Record>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    wheel: TimingWheel<u32>,
    released: Vec<Released>,
    armed_since_drain: Option<u64>,
    /// Whether changes are recorded in `changes` (the AOF is on).
    journaled: bool,
    /// Sessions changed since the shard was locked, for the journal.
    changes: Vec<(SessionId, SessionChange)>,
}

impl std::fmt::Debug for SessionShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionShard")
            .field("records", &self.index.len())
            .field("timers", &self.wheel.len())
            .finish()
    }
}

/// How an id is hashed inside a shard: its bytes are random, so any eight of them serve.
fn id_hash(id: &SessionId) -> u64 {
    let bytes = id.bytes();
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[7], bytes[9],
    ])
}

impl SessionShard {
    /// An empty shard whose wheel starts at `now`.
    pub fn new(now: u64) -> Self {
        SessionShard {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            wheel: TimingWheel::new(now),
            released: Vec::new(),
            armed_since_drain: None,
            journaled: false,
            changes: Vec::new(),
        }
    }

    /// Turns recording of changes for the journal on or off.
    pub fn set_journaled(&mut self, journaled: bool) {
        self.journaled = journaled;
    }

    /// The sessions changed since the last call and what changed, in order; hand the list
    /// back with [`SessionShard::recycle_changes`] so its buffer is reused.
    pub fn take_changes(&mut self) -> Vec<(SessionId, SessionChange)> {
        std::mem::take(&mut self.changes)
    }

    /// Gives back a list taken by [`SessionShard::take_changes`], emptied.
    pub fn recycle_changes(&mut self, mut changes: Vec<(SessionId, SessionChange)>) {
        changes.clear();
        self.changes = changes;
    }

    /// Whether changes wait to be journaled.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Records that the session `id` was used without changing (GET, TOUCH).
    pub fn note_touch(&mut self, id: &SessionId) {
        self.note_change(id, SessionChange::Touch);
    }

    fn note_change(&mut self, id: &SessionId, change: SessionChange) {
        if self.journaled {
            self.changes.push((*id, change));
        }
    }

    /// The record of `id` as it is, without applying the clock: what the journal records.
    pub fn current(&self, id: &SessionId) -> Option<&Record> {
        self.slot_of(id).map(|slot| self.record(slot))
    }

    /// Records held, active and ended.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the shard holds no records.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot_of(&self, id: &SessionId) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(id_hash(id), |&slot| {
                slots[slot as usize].as_ref().is_some_and(|r| r.has_id(id))
            })
            .copied()
    }

    fn record(&self, slot: u32) -> &Record {
        self.slots[slot as usize]
            .as_ref()
            .expect("indexed slots hold a record")
    }

    fn record_mut(&mut self, slot: u32) -> &mut Record {
        self.slots[slot as usize]
            .as_mut()
            .expect("indexed slots hold a record")
    }

    /// The session `id` if it is active, ending it first if its deadline has passed.
    pub fn active(&mut self, id: &SessionId, now: u64, window_ms: u64) -> Option<&mut Record> {
        let slot = self.live_slot(id, now, window_ms)?;
        let record = self.record_mut(slot);
        record.is_active().then_some(record)
    }

    /// Whether `id` is held and active, without applying the clock.
    pub fn is_active(&self, id: &SessionId) -> bool {
        self.slot_of(id)
            .is_some_and(|slot| self.record(slot).is_active())
    }

    /// The record of `id`, active or ended, after applying any deadline that has passed.
    pub fn any(&mut self, id: &SessionId, now: u64, window_ms: u64) -> Option<&Record> {
        let slot = self.live_slot(id, now, window_ms)?;
        Some(self.record(slot))
    }

    /// Finds `id` and brings it up to date with the clock: an active session past its
    /// deadline ends (`expired`), an ended one past its window is purged.
    fn live_slot(&mut self, id: &SessionId, now: u64, window_ms: u64) -> Option<u32> {
        let slot = self.slot_of(id)?;
        let record = self.record(slot);
        if record.is_active() {
            if record.deadline().is_some_and(|d| d <= now) {
                self.finish(slot, EndReason::Expired, now, window_ms);
                return self.slot_of(id);
            }
        } else if record.ending().is_some_and(|e| e.recoverable_until <= now) {
            self.purge(slot);
            return None;
        }
        Some(slot)
    }

    /// Adds a new active session and arms its timer.
    pub fn insert(&mut self, record: Record) {
        let deadline = record.deadline();
        let slot = self.place(record);
        if let Some(deadline) = deadline {
            self.arm(slot, deadline);
        }
    }

    /// Stores `record` in a free slot and indexes it, without a timer; returns the slot.
    fn place(&mut self, mut record: Record) -> u32 {
        let id = record.id();
        self.note_change(&id, SessionChange::State);
        record.set_timer(None);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(record);
                slot
            }
            None => {
                self.slots.push(Some(record));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(id_hash(&id), slot, |&s| {
            slots[s as usize].as_ref().map_or(0, |r| id_hash(&r.id()))
        });
        slot
    }

    /// Replaces the active session `id` with `record` (same id), keeping its timer. A
    /// deadline earlier than the armed timer moves the timer.
    pub fn replace(&mut self, id: &SessionId, mut record: Record) {
        let Some(slot) = self.slot_of(id) else {
            return;
        };
        self.note_change(id, SessionChange::State);
        let timer = self.record(slot).timer();
        record.set_timer(timer);
        let deadline = record.deadline();
        self.slots[slot as usize] = Some(record);
        self.rearm_if_earlier(slot, deadline);
    }

    /// Ends the active session `id` for `reason`. It stays for `SESSION.RECOVER` while
    /// `window_ms` lasts. Returns the session's record before it ended.
    pub fn end(
        &mut self,
        id: &SessionId,
        reason: EndReason,
        now: u64,
        window_ms: u64,
    ) -> Option<Record> {
        let slot = self.live_slot(id, now, window_ms)?;
        if !self.record(slot).is_active() {
            return None;
        }
        self.finish(slot, reason, now, window_ms)
    }

    /// Takes an active session out without ending it (it is moving to a new id).
    pub fn take_active(&mut self, id: &SessionId, now: u64, window_ms: u64) -> Option<Record> {
        let slot = self.live_slot(id, now, window_ms)?;
        if !self.record(slot).is_active() {
            return None;
        }
        Some(self.remove_slot(slot))
    }

    /// Takes an ended session out (it is being recovered). It still counts as recoverable:
    /// the caller either accounts for it as purged or gives it back with
    /// [`SessionShard::restore_ended`].
    pub fn take_ended(&mut self, id: &SessionId, now: u64, window_ms: u64) -> Option<Record> {
        let slot = self.live_slot(id, now, window_ms)?;
        if self.record(slot).is_active() {
            return None;
        }
        Some(self.remove_slot(slot))
    }

    /// Puts back an ended session taken by [`SessionShard::take_ended`] whose recovery was
    /// refused, with its timer at the end of its recovery window.
    pub fn restore_ended(&mut self, record: Record) {
        let until = record.ending().map(|e| e.recoverable_until);
        let slot = self.place(record);
        match until {
            Some(until) => self.arm(slot, until),
            None => self.record_mut(slot).set_timer(None),
        }
    }

    /// Puts `record` in place of any session with its id (loading the AOF), with its timer
    /// at its deadline (active) or the end of its recovery window (ended).
    pub fn restore(&mut self, record: Record) {
        self.forget(&record.id());
        if record.is_active() {
            self.insert(record);
        } else {
            self.restore_ended(record);
        }
    }

    /// Moves the last use of the session `id`, if held (loading the AOF).
    pub fn restore_touch(&mut self, id: &SessionId, last_access: u64) {
        if let Some(slot) = self.slot_of(id) {
            self.record_mut(slot).set_last_access(last_access);
        }
    }

    /// Removes the session `id` without a trace (loading the AOF).
    pub fn forget(&mut self, id: &SessionId) {
        if let Some(slot) = self.slot_of(id) {
            self.remove_slot(slot);
        }
    }

    fn finish(&mut self, slot: u32, reason: EndReason, now: u64, window_ms: u64) -> Option<Record> {
        let keep = window_ms > 0;
        let record = self.remove_slot_keep_index(slot);
        self.note_change(&record.id(), SessionChange::State);
        let ending = Ending {
            reason,
            ended_at: now,
            recoverable_until: now.saturating_add(window_ms),
        };
        let late_ms = match (reason, record.deadline()) {
            (EndReason::Expired, Some(deadline)) => now.saturating_sub(deadline),
            _ => 0,
        };
        self.released.push(Released::Left {
            id: record.id(),
            user: record.user().into(),
            reason,
            duration_ms: now.saturating_sub(record.created_at()),
            late_ms,
            recoverable: keep,
        });
        if keep {
            self.slots[slot as usize] = Some(record.ended(ending));
            self.arm(slot, ending.recoverable_until);
        } else {
            self.unindex(slot, &record.id());
        }
        Some(record)
    }

    fn purge(&mut self, slot: u32) {
        self.remove_slot(slot);
        self.released.push(Released::Purged);
    }

    /// Empties `slot` (disarming its timer) but leaves the index entry, for callers that
    /// put a record back in the same slot.
    fn remove_slot_keep_index(&mut self, slot: u32) -> Record {
        let record = self.slots[slot as usize]
            .take()
            .expect("indexed slots hold a record");
        if let Some(timer) = record.timer() {
            self.wheel.remove(TimerId::from_raw(timer));
        }
        record
    }

    fn remove_slot(&mut self, slot: u32) -> Record {
        let record = self.remove_slot_keep_index(slot);
        self.note_change(&record.id(), SessionChange::State);
        self.unindex(slot, &record.id());
        record
    }

    fn unindex(&mut self, slot: u32, id: &SessionId) {
        if let Ok(entry) = self.index.find_entry(id_hash(id), |&s| s == slot) {
            entry.remove();
        }
        self.slots[slot as usize] = None;
        self.free.push(slot);
    }

    fn arm(&mut self, slot: u32, deadline: u64) {
        let timer = self.wheel.insert(deadline, slot);
        self.record_mut(slot).set_timer(Some(timer.raw()));
        self.armed_since_drain = Some(self.armed_since_drain.map_or(deadline, |t| t.min(deadline)));
    }

    fn rearm_if_earlier(&mut self, slot: u32, deadline: Option<u64>) {
        let Some(deadline) = deadline else {
            return;
        };
        match self.record(slot).timer().map(TimerId::from_raw) {
            Some(timer) if self.wheel.deadline(timer).is_some_and(|t| t <= deadline) => {}
            Some(timer) => {
                self.wheel.remove(timer);
                self.arm(slot, deadline);
            }
            None => self.arm(slot, deadline),
        }
    }

    /// Fires every timer due at `now`: active sessions past their deadline end (`expired`),
    /// ended ones past their window are purged, the others are re-armed at their real time.
    pub fn advance(&mut self, now: u64, window_ms: u64, fired: &mut Vec<(u32, u64)>) {
        fired.clear();
        self.wheel.advance(now, fired);
        for &(slot, _) in fired.iter() {
            let Some(record) = self.slots[slot as usize].as_mut() else {
                continue;
            };
            record.set_timer(None);
            let due = if record.is_active() {
                record.deadline()
            } else {
                record.ending().map(|e| e.recoverable_until)
            };
            match due {
                Some(due) if due <= now && record.is_active() => {
                    self.finish(slot, EndReason::Expired, now, window_ms);
                }
                Some(due) if due <= now => self.purge(slot),
                Some(due) => self.arm(slot, due),
                None => {}
            }
        }
    }

    /// The earliest time a timer may fire, as a lower bound.
    pub fn next_deadline(&self) -> Option<u64> {
        self.wheel.next_deadline()
    }

    /// The earliest deadline armed since the last call, if any.
    pub fn take_armed(&mut self) -> Option<u64> {
        self.armed_since_drain.take()
    }

    /// The changes of state queued since the last call.
    pub fn take_released(&mut self) -> Vec<Released> {
        std::mem::take(&mut self.released)
    }

    /// Every record (active and ended), without applying the clock.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.slots.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::record::NewSession;

    fn session(now: u64, idle_s: u32, absolute: u64) -> Record {
        let new = NewSession {
            id: SessionId::generate(),
            user: b"u",
            created_at: now,
            idle_timeout_s: idle_s,
            absolute_deadline: absolute,
            version: 1,
        };
        Record::new(&new, [(&b"k"[..], &b"v"[..])])
    }

    #[test]
    fn touch_moves_the_deadline_without_rearming_and_expiry_is_on_time() {
        let mut shard = SessionShard::new(0);
        let record = session(0, 1, 0);
        let id = record.id();
        shard.insert(record);
        let mut fired = Vec::new();
        shard.active(&id, 500, 0).unwrap().set_last_access(500);
        shard.advance(1_000, 0, &mut fired);
        assert!(shard.take_released().is_empty(), "touched: not yet");
        shard.advance(1_499, 0, &mut fired);
        assert!(shard.take_released().is_empty());
        shard.advance(1_500, 0, &mut fired);
        let released = shard.take_released();
        assert!(matches!(
            released.as_slice(),
            [Released::Left {
                reason: EndReason::Expired,
                recoverable: false,
                ..
            }]
        ));
        assert!(shard.is_empty());
        assert!(shard.active(&id, 1_500, 0).is_none());
    }

    #[test]
    fn ended_sessions_stay_for_the_window_then_are_purged() {
        let mut shard = SessionShard::new(0);
        let record = session(0, 0, 10_000);
        let id = record.id();
        shard.insert(record);
        let mut fired = Vec::new();
        assert!(shard.end(&id, EndReason::Ended, 100, 1_000).is_some());
        assert!(shard.end(&id, EndReason::Ended, 100, 1_000).is_none());
        assert!(shard.active(&id, 200, 1_000).is_none());
        let ending = shard.any(&id, 200, 1_000).unwrap().ending().unwrap();
        assert_eq!(ending.recoverable_until, 1_100);
        shard.advance(1_099, 1_000, &mut fired);
        assert_eq!(shard.len(), 1);
        shard.advance(1_100, 1_000, &mut fired);
        assert_eq!(shard.len(), 0);
        let released = shard.take_released();
        assert!(matches!(released.last(), Some(Released::Purged)));
    }

    #[test]
    fn lazy_expiry_on_access_and_absolute_deadline_wins() {
        let mut shard = SessionShard::new(0);
        let record = session(0, 60, 300);
        let id = record.id();
        shard.insert(record);
        shard.active(&id, 299, 500).unwrap().set_last_access(299);
        assert!(shard.active(&id, 300, 500).is_none());
        assert_eq!(
            shard.any(&id, 301, 500).unwrap().ending().unwrap().reason,
            EndReason::Expired
        );
        assert!(shard.take_ended(&id, 302, 500).is_some());
        assert!(shard.is_empty());
    }

    #[test]
    fn a_restored_ended_session_is_recoverable_until_its_window_ends() {
        let mut shard = SessionShard::new(0);
        let record = session(0, 0, 0);
        let id = record.id();
        shard.insert(record);
        shard.end(&id, EndReason::Ended, 100, 1_000);
        let taken = shard.take_ended(&id, 200, 1_000).unwrap();
        assert!(shard.any(&id, 200, 1_000).is_none());
        shard.restore_ended(taken);
        let ending = shard.any(&id, 300, 1_000).unwrap().ending().unwrap();
        assert_eq!(
            (ending.reason, ending.recoverable_until),
            (EndReason::Ended, 1_100)
        );
        let mut fired = Vec::new();
        shard.advance(1_099, 1_000, &mut fired);
        assert_eq!(shard.len(), 1);
        shard.advance(1_100, 1_000, &mut fired);
        assert_eq!(shard.len(), 0, "the restored timer purges it");
    }

    #[test]
    fn slots_are_reused_and_lookups_stay_exact() {
        let mut shard = SessionShard::new(0);
        let mut ids = Vec::new();
        for _ in 0..100 {
            let record = session(0, 10, 0);
            ids.push(record.id());
            shard.insert(record);
        }
        for id in &ids[..50] {
            assert!(shard.take_active(id, 1, 1_000).is_some());
        }
        for _ in 0..50 {
            shard.insert(session(1, 10, 0));
        }
        assert_eq!(shard.len(), 100);
        assert_eq!(shard.slots.len(), 100, "freed slots were reused");
        assert!(ids[..50].iter().all(|id| shard.any(id, 2, 1_000).is_none()));
        assert!(
            ids[50..]
                .iter()
                .all(|id| shard.active(id, 2, 1_000).is_some())
        );
    }
}
