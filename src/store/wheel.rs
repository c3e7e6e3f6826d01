//! Hierarchical timing wheel with 1 ms ticks: each keyspace shard keeps one to expire keys.
//!
//! ```text
//!              64 slots per level, slot width = 64^level ms
//!  level 5  |s0|s1|..|s63|  2^30 ms/slot  (rotation 2^36 ms, about 795 days)
//!  level 4  |s0|s1|..|s63|  2^24 ms/slot
//!  level 3  |s0|s1|..|s63|  2^18 ms/slot
//!  level 2  |s0|s1|..|s63|  2^12 ms/slot
//!  level 1  |s0|s1|..|s63|  64 ms/slot
//!  level 0  |s0|s1|..|s63|  1 ms/slot: entries here fire exactly at their deadline
//!  overflow  deadlines in a later 2^36 ms epoch than the clock
//!  due       deadlines already reached when armed; they fire at the next advance
//! ```
//!
//! A deadline is filed at the level of the highest 6-bit digit in which it differs from the
//! wheel's clock, in the slot named by that digit, so every pending slot lies ahead of the
//! clock's own digit. Each level has a `u64` occupancy bitmap: finding the next non-empty
//! slot is one `trailing_zeros`, and advancing over an idle stretch of any length costs
//! O(levels). When the clock reaches the start of a slot above level 0, the slot's entries
//! are filed again relative to the new clock (they cascade down a level or more); overflow
//! entries are filed again when the clock enters their epoch.
//!
//! Timers live in a slab (`Vec` of nodes plus a free list). Each armed node sits in exactly
//! one doubly linked list (a slot, `due` or overflow) through `u32` indices and remembers
//! which, so removing or rescheduling a timer is O(1) and allocation-free once the slab has
//! grown to the shard's peak timer count.

/// Bits of the deadline consumed by one level: 64 slots.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Number of levels; together they cover 2^36 ms.
const LEVELS: usize = 6;
/// Low bits of a time that lie inside one rotation of the top level (an epoch).
const EPOCH_MASK: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
/// List index of the timers armed with a deadline already reached.
const DUE: usize = SLOTS * LEVELS;
/// List index of the timers whose deadline lies in a later epoch.
const OVERFLOW: usize = DUE + 1;
/// Number of lists: every slot of every level, then `DUE` and `OVERFLOW`.
const LISTS: usize = OVERFLOW + 1;
/// Null link.
const NIL: u32 = u32::MAX;

/// Handle to an armed timer; valid until the timer fires or is removed (ids are reused after that).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(u32);

impl TimerId {
    /// The id as a number, for owners that store it packed (session records).
    pub fn raw(self) -> u32 {
        self.0
    }

    /// An id from [`TimerId::raw`]; it must name a timer still armed in the same wheel.
    pub fn from_raw(raw: u32) -> TimerId {
        TimerId(raw)
    }
}

/// One slab entry: an armed timer, or a free entry when `list` is [`FREE`] (its `item` is
/// then stale). 24 bytes for a `u32` item: the wheel costs each timer little more than its
/// deadline.
struct Node<T> {
    item: T,
    deadline: u64,
    prev: u32,
    /// Next node of the same list, or the next free entry while the node is free.
    next: u32,
    /// Index into `TimingWheel::heads` of the list holding the node, or [`FREE`].
    list: u16,
}

/// The `list` of a free node.
const FREE: u16 = u16::MAX;

/// Timers keyed by millisecond deadline, fired in deadline order by `advance`; see the module docs.
pub struct TimingWheel<T> {
    nodes: Vec<Node<T>>,
    free: u32,
    heads: [u32; LISTS],
    /// Bit `s` of `occupied[l]` is set iff slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// The wheel's clock: every timer with a deadline up to it has fired, except the `DUE` list.
    now: u64,
    len: usize,
    /// Lower bound of the deadlines in `DUE`, meaningful while it is non-empty.
    due_min: u64,
    /// Lower bound of the epoch starts of the `OVERFLOW` deadlines, meaningful while it is non-empty.
    overflow_epoch: u64,
}

impl<T: Copy> TimingWheel<T> {
    /// Creates an empty wheel whose clock starts at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            nodes: Vec::new(),
            free: NIL,
            heads: [NIL; LISTS],
            occupied: [0; LEVELS],
            now: now_ms,
            len: 0,
            due_min: 0,
            overflow_epoch: 0,
        }
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Arms a timer. A deadline at or before the wheel's current time fires at the next `advance`.
    ///
    /// # Panics
    /// If `u32::MAX` timers would be armed at once (ids are `u32`).
    pub fn insert(&mut self, deadline_ms: u64, item: T) -> TimerId {
        let idx = if self.free == NIL {
            assert!(
                self.nodes.len() < NIL as usize,
                "TimingWheel holds at most u32::MAX - 1 timers"
            );
            self.nodes.push(Node {
                item,
                deadline: deadline_ms,
                prev: NIL,
                next: NIL,
                list: 0,
            });
            (self.nodes.len() - 1) as u32
        } else {
            let idx = self.free;
            let node = &mut self.nodes[idx as usize];
            self.free = node.next;
            node.item = item;
            node.deadline = deadline_ms;
            idx
        };
        self.len += 1;
        self.file(idx);
        TimerId(idx)
    }

    /// Disarms a timer in O(1), returning its item.
    pub fn remove(&mut self, id: TimerId) -> Option<T> {
        if !self.is_armed(id) {
            return None;
        }
        self.unlink(id.0);
        Some(self.release(id.0))
    }

    /// The deadline a timer is armed for.
    pub fn deadline(&self, id: TimerId) -> Option<u64> {
        let node = self.nodes.get(id.0 as usize)?;
        (node.list != FREE).then_some(node.deadline)
    }

    /// Moves an armed timer to a new deadline in O(1) (earlier or later).
    ///
    /// Does nothing if `id` is not armed.
    pub fn reschedule(&mut self, id: TimerId, deadline_ms: u64) {
        if !self.is_armed(id) {
            return;
        }
        self.unlink(id.0);
        self.nodes[id.0 as usize].deadline = deadline_ms;
        self.file(id.0);
    }

    /// Advances the wheel's clock to `now_ms`, removing every timer whose deadline is <= now_ms
    /// and pushing `(item, deadline_ms)` onto `fired`. Time never goes backwards (an older now is a no-op).
    ///
    /// With an older `now_ms` the clock stays put, but timers armed with a deadline at or
    /// before the clock still fire, as `insert` promises. Timers fire in deadline order except
    /// those, which come first. Cost: O(levels) plus O(levels) per timer fired or cascaded.
    pub fn advance(&mut self, now_ms: u64, fired: &mut Vec<(T, u64)>) {
        let target = now_ms.max(self.now);
        self.drain(DUE, fired);
        loop {
            if let Some((level, slot, start)) = self.next_slot() {
                // Overflow epochs begin after every slot of the clock's epoch, so they can wait.
                if start > target {
                    break;
                }
                self.now = start;
                self.occupied[level] &= !(1 << slot);
                self.drain(level * SLOTS + slot, fired);
            } else if self.heads[OVERFLOW] != NIL && self.overflow_epoch <= target {
                self.now = self.overflow_epoch;
                self.drain(OVERFLOW, fired);
            } else {
                break;
            }
        }
        self.now = target;
    }

    /// The earliest time at which some timer may fire: never later than the true earliest deadline
    /// (a lower bound is fine, e.g. the start of the earliest occupied slot), None when empty.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.heads[DUE] != NIL {
            Some(self.due_min)
        } else if let Some((_, _, start)) = self.next_slot() {
            Some(start)
        } else if self.heads[OVERFLOW] != NIL {
            Some(self.overflow_epoch)
        } else {
            None
        }
    }

    /// The item of an armed timer picked by `seed` (the first armed slab entry from a
    /// position derived from it): a cheap sample of the timers for eviction, O(1) while the
    /// slab is mostly armed. `None` when empty.
    pub fn sample(&self, seed: usize) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        let start = seed % self.nodes.len();
        let (after, before) = self.nodes.split_at(start);
        before
            .iter()
            .chain(after)
            .find(|node| node.list != FREE)
            .map(|node| &node.item)
    }

    /// Whether `id` names an armed timer.
    fn is_armed(&self, id: TimerId) -> bool {
        self.nodes
            .get(id.0 as usize)
            .is_some_and(|node| node.list != FREE)
    }

    /// The earliest non-empty slot as `(level, slot, start time)`.
    ///
    /// The lowest non-empty level always holds it: entries of level `l` lie inside the clock's
    /// current level `l + 1` slot, which ends before any pending slot of level `l + 1` starts.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let bits = self.occupied[level];
        let shift = SLOT_BITS * level as u32;
        let cursor = (self.now >> shift) as usize % SLOTS;
        debug_assert_eq!(
            bits & !(!1u64 << cursor),
            0,
            "level {level} has a slot at or behind the clock"
        );
        let slot = bits.trailing_zeros() as usize;
        let rotation = self.now & !((1u64 << (shift + SLOT_BITS)) - 1);
        Some((level, slot, rotation + ((slot as u64) << shift)))
    }

    /// Puts the unlinked node `idx` into the list its deadline belongs to, relative to the clock.
    fn file(&mut self, idx: u32) {
        let deadline = self.nodes[idx as usize].deadline;
        let list = if deadline <= self.now {
            if self.heads[DUE] == NIL || deadline < self.due_min {
                self.due_min = deadline;
            }
            DUE
        } else {
            // Non-zero because `deadline > self.now`.
            let differing = self.now ^ deadline;
            let level = ((u64::BITS - 1 - differing.leading_zeros()) / SLOT_BITS) as usize;
            if level < LEVELS {
                let slot = (deadline >> (SLOT_BITS * level as u32)) as usize % SLOTS;
                self.occupied[level] |= 1 << slot;
                level * SLOTS + slot
            } else {
                let epoch = deadline & !EPOCH_MASK;
                if self.heads[OVERFLOW] == NIL || epoch < self.overflow_epoch {
                    self.overflow_epoch = epoch;
                }
                OVERFLOW
            }
        };
        let head = self.heads[list];
        if head != NIL {
            self.nodes[head as usize].prev = idx;
        }
        let node = &mut self.nodes[idx as usize];
        node.prev = NIL;
        node.next = head;
        node.list = list as u16;
        self.heads[list] = idx;
    }

    /// Takes the armed node `idx` out of its list, clearing the slot's bit if it empties.
    fn unlink(&mut self, idx: u32) {
        let Node {
            prev, next, list, ..
        } = self.nodes[idx as usize];
        let list = usize::from(list);
        if prev == NIL {
            self.heads[list] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        if list < DUE && self.heads[list] == NIL {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
    }

    /// Frees the unlinked node `idx`, returning its item.
    fn release(&mut self, idx: u32) -> T {
        let node = &mut self.nodes[idx as usize];
        node.next = self.free;
        node.list = FREE;
        self.free = idx;
        self.len -= 1;
        node.item
    }

    /// Empties `list` (its bitmap bit is the caller's business): fires the entries due by the
    /// clock and files the others again relative to it.
    fn drain(&mut self, list: usize, fired: &mut Vec<(T, u64)>) {
        let mut idx = std::mem::replace(&mut self.heads[list], NIL);
        while idx != NIL {
            let Node { next, deadline, .. } = self.nodes[idx as usize];
            if deadline <= self.now {
                fired.push((self.release(idx), deadline));
            } else {
                self.file(idx);
            }
            idx = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_finds_only_armed_timers() {
        let mut wheel = TimingWheel::new(0);
        assert_eq!(wheel.sample(3), None);
        let ids: Vec<_> = (0..10).map(|n| wheel.insert(100 + n, n)).collect();
        for id in &ids[..9] {
            wheel.remove(*id);
        }
        for seed in 0..20 {
            assert_eq!(wheel.sample(seed), Some(&9));
        }
    }
    use std::collections::{BTreeMap, HashMap};

    const EPOCH: u64 = 1 << 36;

    fn fire(wheel: &mut TimingWheel<u64>, now: u64) -> Vec<(u64, u64)> {
        let mut fired = Vec::new();
        wheel.advance(now, &mut fired);
        fired
    }

    /// Offsets straddling every level boundary, up to past the top level (overflow).
    fn boundary_offsets() -> Vec<u64> {
        let mut offsets = vec![1, 2, 63];
        for k in 1..=7 {
            let p = 1u64 << (SLOT_BITS * k);
            offsets.extend([p - 1, p, p + 1]);
        }
        offsets.sort_unstable();
        offsets.dedup();
        offsets
    }

    #[test]
    fn fires_exactly_at_deadline_not_one_ms_before() {
        let mut w = TimingWheel::new(100);
        w.insert(150, 7);
        assert!(fire(&mut w, 149).is_empty());
        assert_eq!(w.len(), 1);
        assert_eq!(fire(&mut w, 150), vec![(7, 150)]);
        assert!(w.is_empty());
        assert!(fire(&mut w, 10_000).is_empty());
    }

    #[test]
    fn past_and_current_deadlines_fire_at_next_advance() {
        let mut w = TimingWheel::new(1_000);
        w.insert(0, 1);
        w.insert(999, 2);
        w.insert(1_000, 3);
        w.insert(1_001, 4);
        assert_eq!(w.next_deadline(), Some(0));
        let mut fired = fire(&mut w, 1_000);
        fired.sort_unstable();
        assert_eq!(fired, vec![(1, 0), (2, 999), (3, 1_000)]);
        assert_eq!(w.len(), 1);
        // A past deadline fires even when the next advance carries an older time.
        w.insert(500, 5);
        assert_eq!(fire(&mut w, 900), vec![(5, 500)]);
        assert_eq!(fire(&mut w, 1_001), vec![(4, 1_001)]);
    }

    #[test]
    fn older_now_does_not_move_the_clock_back() {
        let mut w = TimingWheel::new(0);
        fire(&mut w, 2_000);
        w.insert(2_001, 1);
        assert!(fire(&mut w, 1_500).is_empty());
        // Still 2_000 after the older advance: 1_800 is in the past, 2_001 is not yet due.
        w.insert(1_800, 2);
        assert_eq!(fire(&mut w, 1_900), vec![(2, 1_800)]);
        assert!(fire(&mut w, 2_000).is_empty());
        assert_eq!(fire(&mut w, 2_001), vec![(1, 2_001)]);
    }

    #[test]
    fn a_timer_with_a_u32_item_takes_24_bytes() {
        assert_eq!(std::mem::size_of::<Node<u32>>(), 24);
    }

    #[test]
    fn remove_disarms_and_returns_item() {
        let mut w = TimingWheel::new(0);
        let a = w.insert(10, 1);
        let b = w.insert(10, 2);
        let c = w.insert(10, 3);
        let far = w.insert(5 * EPOCH, 4);
        assert_eq!(w.remove(b), Some(2));
        assert_eq!(w.remove(b), None);
        assert_eq!(w.deadline(b), None);
        assert_eq!(w.remove(far), Some(4));
        assert_eq!(w.len(), 2);
        let mut fired = fire(&mut w, 10);
        fired.sort_unstable();
        assert_eq!(fired, vec![(1, 10), (3, 10)]);
        assert_eq!(w.remove(a), None);
        assert_eq!(w.remove(c), None);
        assert_eq!(w.remove(TimerId(12_345)), None);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
        assert!(fire(&mut w, 10 * EPOCH).is_empty());
    }

    #[test]
    fn remove_from_every_level_leaves_no_occupied_slot() {
        for start in [0, 1_700_000_000_123] {
            let mut w = TimingWheel::new(start);
            let ids: Vec<_> = boundary_offsets()
                .into_iter()
                .map(|offset| w.insert(start + offset, offset))
                .collect();
            assert!(w.next_deadline().is_some());
            // Remove in insertion order: heads, middles and tails of the lists.
            for id in ids {
                assert!(w.remove(id).is_some());
            }
            assert_eq!(w.occupied, [0; LEVELS]);
            assert_eq!(w.next_deadline(), None);
        }
    }

    #[test]
    fn reschedule_earlier_later_and_into_the_past() {
        let mut w = TimingWheel::new(0);
        let early = w.insert(5_000, 1);
        let late = w.insert(20, 2);
        let past = w.insert(1_000_000, 3);
        let from_overflow = w.insert(3 * EPOCH, 4);
        w.reschedule(early, 10);
        w.reschedule(late, 300_000);
        w.reschedule(from_overflow, 64);
        assert_eq!(w.deadline(early), Some(10));
        assert_eq!(w.deadline(late), Some(300_000));
        assert!(fire(&mut w, 9).is_empty());
        assert_eq!(fire(&mut w, 10), vec![(1, 10)]);
        assert!(fire(&mut w, 63).is_empty());
        assert_eq!(fire(&mut w, 64), vec![(4, 64)]);
        w.reschedule(past, 5);
        assert_eq!(w.deadline(past), Some(5));
        assert_eq!(fire(&mut w, 64), vec![(3, 5)]);
        assert!(fire(&mut w, 299_999).is_empty());
        w.reschedule(late, 2 * EPOCH + 1);
        assert!(fire(&mut w, 2 * EPOCH).is_empty());
        assert_eq!(fire(&mut w, 2 * EPOCH + 1), vec![(2, 2 * EPOCH + 1)]);
        // Rescheduling a fired timer's id does nothing.
        w.reschedule(late, 0);
        assert!(w.is_empty());
        assert!(fire(&mut w, 3 * EPOCH).is_empty());
    }

    #[test]
    fn cascades_from_every_level_and_overflow() {
        let offsets = boundary_offsets();
        assert!(offsets.iter().any(|&o| o > EPOCH));
        for start in [
            0,
            1,
            12_345,
            EPOCH - 2,
            5 * EPOCH + 777,
            u64::MAX - (1 << 43),
        ] {
            // One timer per wheel, approached in a few jumps.
            for &offset in &offsets {
                let mut w = TimingWheel::new(start);
                let d = start + offset;
                let id = w.insert(d, offset);
                for at in [start + offset / 2, d - 1] {
                    assert!(fire(&mut w, at).is_empty(), "start {start} offset {offset}");
                    assert_eq!(w.deadline(id), Some(d));
                    assert!(w.next_deadline().is_some_and(|n| n <= d));
                }
                assert_eq!(fire(&mut w, d), vec![(offset, d)], "start {start}");
                assert!(w.is_empty());
            }
            // All timers in one wheel, each checked 1 ms before and at its deadline.
            let mut w = TimingWheel::new(start);
            for &offset in &offsets {
                w.insert(start + offset, offset);
            }
            for &offset in &offsets {
                let d = start + offset;
                assert!(
                    fire(&mut w, d - 1).is_empty(),
                    "start {start} offset {offset}"
                );
                assert_eq!(fire(&mut w, d), vec![(offset, d)], "start {start}");
            }
            assert!(w.is_empty());
        }
    }

    #[test]
    fn extreme_deadlines() {
        let mut w = TimingWheel::new(0);
        w.insert(u64::MAX, 1);
        w.insert(u64::MAX - 1, 2);
        assert!(fire(&mut w, u64::MAX - 2).is_empty());
        assert_eq!(fire(&mut w, u64::MAX - 1), vec![(2, u64::MAX - 1)]);
        assert_eq!(fire(&mut w, u64::MAX), vec![(1, u64::MAX)]);
        // A 1 ms timer across an epoch boundary goes through overflow.
        let mut w = TimingWheel::new(EPOCH - 1);
        w.insert(EPOCH, 3);
        assert_eq!(w.next_deadline(), Some(EPOCH));
        assert_eq!(fire(&mut w, EPOCH), vec![(3, EPOCH)]);
    }

    #[test]
    fn multi_hour_gap_in_one_advance() {
        let start = 1_700_000_000_000;
        let hours = 5 * 3_600_000;
        let mut w = TimingWheel::new(start);
        let mut expected = Vec::new();
        for i in 0..20_000 {
            let d = start + 1 + (i * 7_919) % hours;
            w.insert(d, i);
            expected.push((i, d));
        }
        w.insert(start + hours + 1, u64::MAX);
        let fired = fire(&mut w, start + hours);
        assert!(
            fired.windows(2).all(|p| p[0].1 <= p[1].1),
            "fired out of order"
        );
        let mut fired = fired;
        fired.sort_unstable();
        expected.sort_unstable();
        assert_eq!(fired, expected);
        assert_eq!(w.len(), 1);
        assert_eq!(w.next_deadline(), Some(start + hours + 1));
        assert_eq!(
            fire(&mut w, start + hours + 1),
            vec![(u64::MAX, start + hours + 1)]
        );
        // An idle gap of days on an empty wheel.
        assert!(fire(&mut w, start + 100 * hours).is_empty());
        w.insert(start + 100 * hours + 3, 9);
        assert_eq!(
            fire(&mut w, start + 100 * hours + 3),
            vec![(9, start + 100 * hours + 3)]
        );
    }

    #[test]
    fn ids_are_reused_after_fire_and_remove() {
        let mut w = TimingWheel::new(0);
        let a = w.insert(5, 1);
        assert_eq!(fire(&mut w, 5), vec![(1, 5)]);
        assert_eq!(w.deadline(a), None);
        let b = w.insert(50, 2);
        assert_eq!(b, a, "fired entry is reused");
        assert_eq!(w.deadline(a), Some(50));
        assert_eq!(w.remove(b), Some(2));
        let c = w.insert(70, 3);
        assert_eq!(c, a, "removed entry is reused");
        // Steady state: churn never grows the slab beyond the peak live count.
        for round in 0..1_000u64 {
            let ids: Vec<_> = (0..10).map(|i| w.insert(100 + round * 10 + i, i)).collect();
            w.remove(ids[round as usize % 10]);
            fire(&mut w, 100 + round * 10 + 9);
        }
        assert!(w.nodes.len() <= 11, "slab grew to {}", w.nodes.len());
    }

    #[test]
    fn next_deadline_is_a_lower_bound() {
        let mut w = TimingWheel::new(1_000);
        assert_eq!(w.next_deadline(), None);
        let id = w.insert(1_010, 1);
        assert_eq!(w.next_deadline(), Some(1_010));
        w.reschedule(id, 1_000 + 70_000);
        let nd = w.next_deadline();
        assert!(nd.is_some_and(|n| n > 1_000 && n <= 71_000), "{nd:?}");
        w.insert(900, 2);
        assert_eq!(w.next_deadline(), Some(900));
        fire(&mut w, 1_000);
        for step in [1, 63, 4_000, 60_000, 5_000, 936] {
            let now = w.now + step;
            fire(&mut w, now);
            if let Some(d) = w.deadline(id) {
                assert!(w.next_deadline().is_some_and(|n| n > now && n <= d));
            }
        }
        assert!(w.is_empty());
        w.insert(7 * EPOCH + 3, 3);
        assert!(w.next_deadline().is_some_and(|n| n <= 7 * EPOCH + 3));
    }

    /// xorshift64* PRNG: deterministic, no crates.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_deadline(rng: &mut Rng, now: u64) -> u64 {
        match rng.below(100) {
            0..40 => now + rng.below(130),
            40..65 => now + rng.below(10_000),
            65..80 => now + rng.below(1 << 22),
            80..88 => now.saturating_sub(rng.below(200)),
            88..95 => now + rng.below(1 << 40),
            _ => (((now >> 36) + 1) << 36) + rng.below(200) - 100,
        }
    }

    #[test]
    fn randomized_against_btreemap_model() {
        for seed in 1..=24u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let start = match seed % 3 {
                0 => rng.below(1 << 20),
                1 => (rng.below(8) + 1) * EPOCH - rng.below(5_000),
                _ => 1_700_000_000_000 + rng.below(1 << 30),
            };
            let mut w = TimingWheel::new(start);
            let mut now = start;
            let mut by_time: BTreeMap<(u64, u32), u64> = BTreeMap::new();
            let mut by_id: HashMap<u32, (u64, u64)> = HashMap::new();
            let mut next_token = 0u64;
            let mut max_id = 0u32;
            for step in 0..5_000 {
                match rng.below(100) {
                    0..35 => {
                        let d = random_deadline(&mut rng, now);
                        next_token += 1;
                        let id = w.insert(d, next_token);
                        assert!(
                            by_id.insert(id.0, (d, next_token)).is_none(),
                            "live id reused"
                        );
                        by_time.insert((d, id.0), next_token);
                        max_id = max_id.max(id.0 + 1);
                    }
                    35..50 => {
                        let id = rng.below(u64::from(max_id) + 2) as u32;
                        let expected = by_id.remove(&id).map(|(d, token)| {
                            by_time.remove(&(d, id));
                            token
                        });
                        assert_eq!(w.remove(TimerId(id)), expected, "seed {seed} step {step}");
                    }
                    50..65 => {
                        let id = rng.below(u64::from(max_id) + 2) as u32;
                        let d = random_deadline(&mut rng, now);
                        w.reschedule(TimerId(id), d);
                        if let Some(entry) = by_id.get_mut(&id) {
                            let token = by_time.remove(&(entry.0, id)).unwrap();
                            by_time.insert((d, id), token);
                            entry.0 = d;
                        }
                    }
                    _ => {
                        let target = match rng.below(100) {
                            0..60 => now + rng.below(4),
                            60..85 => now + rng.below(300),
                            85..95 => now + rng.below(1 << 18),
                            95..98 => now + rng.below(1 << 38),
                            _ => now.saturating_sub(rng.below(50)),
                        };
                        let mut fired = Vec::new();
                        w.advance(target, &mut fired);
                        now = now.max(target);
                        let mut expected = Vec::new();
                        while let Some(entry) = by_time.first_entry() {
                            if entry.key().0 > now {
                                break;
                            }
                            let ((d, id), token) = entry.remove_entry();
                            by_id.remove(&id);
                            expected.push((token, d));
                        }
                        fired.sort_unstable();
                        expected.sort_unstable();
                        assert_eq!(fired, expected, "seed {seed} step {step} now {now}");
                    }
                }
                assert_eq!(w.len(), by_id.len());
                let earliest = by_time.keys().next().map(|&(d, _)| d);
                match (w.next_deadline(), earliest) {
                    (Some(n), Some(e)) => assert!(n <= e, "next {n} > earliest {e}"),
                    (n, e) => assert_eq!(n, e),
                }
                if step % 500 == 0 {
                    for (&id, &(d, _)) in &by_id {
                        assert_eq!(w.deadline(TimerId(id)), Some(d));
                    }
                }
            }
        }
    }
}
