//! List values: a listpack while small, a deque of elements once grown, each element at a
//! logical index.
//!
//! A new list is packed ([`Listpack`]: the elements head first, in one allocation). Past
//! one node of `list-max-listpack-size` (a negative size is a byte budget: -1 = 4 KB ... -5
//! = 64 KB; a positive one an element count, within 8 KB, as Redis's quicklist nodes) it
//! becomes a [`VecDeque`] of elements, where pushing and popping at either end is O(1) and
//! inserting in the middle moves the shorter side. It does not go back; `OBJECT ENCODING`
//! says `quicklist` for both, as Redis 7.0 does for every list.
//!
//! Every element has a *logical index*: the list spans `head .. head + len`. Pushing on the
//! left decrements `head`, pushing on the right extends the end, popping moves them back,
//! and a change in the middle renumbers the shorter side only. Each write reports the
//! logical indices whose element it changed, so the journal logs a push or pop on a long
//! list as the new span and the elements pushed, never the whole list (see
//! [`crate::persistence::Effect::ListElements`]).

use std::collections::VecDeque;
use std::ops::Range;

use super::listpack::{self, Listpack};
use super::shard::{MemberNotes, Shard};
use super::value::{Value, WrongType};

/// The threshold of the packed encoding: `list-max-listpack-size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    /// Negative: a byte budget (-1 = 4 KB, -2 = 8 KB, ... -5 and below = 64 KB); positive:
    /// most elements (within 8 KB).
    pub max_packed_size: i32,
}

impl Default for ListLimits {
    /// Redis 7.0's default, -2: 8 KB.
    fn default() -> Self {
        ListLimits {
            max_packed_size: -2,
        }
    }
}

/// The byte budget of a node of a positive `list-max-listpack-size` (Redis's
/// `SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;

impl ListLimits {
    /// Whether `count` elements taking `bytes` encoded fit the packed encoding.
    fn fits_packed(self, count: usize, bytes: usize) -> bool {
        match usize::try_from(self.max_packed_size) {
            Ok(most) => count <= most.max(1) && bytes <= SAFETY_LIMIT,
            Err(_) => {
                let level = self.max_packed_size.unsigned_abs().clamp(1, 5) - 1;
                bytes <= 4096 << level
            }
        }
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (LPUSH, LPOP, `LEFT`).
    Left,
    /// The tail (RPUSH, RPOP, `RIGHT`).
    Right,
}

/// A list value; see the module docs.
#[derive(Clone, Default)]
pub struct List {
    /// The logical index of the first element.
    head: i64,
    body: Body,
}

#[derive(Clone)]
enum Body {
    /// The elements head first, back to back.
    Packed(Listpack),
    /// One allocation per element.
    Deque(VecDeque<Box<[u8]>>),
}

impl Default for Body {
    fn default() -> Self {
        Body::Packed(Listpack::default())
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "List@{}", self.head)?;
        f.debug_list()
            .entries(self.iter().map(<[u8]>::escape_ascii))
            .finish()
    }
}

impl PartialEq for List {
    /// Equal when they hold the same elements in the same order, whatever their encoding
    /// and logical indices.
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for List {}

impl List {
    /// A list of `elements`, head first, whose head has logical index `head`.
    pub fn from_elements<'a>(
        head: i64,
        elements: impl IntoIterator<Item = &'a [u8]>,
        limits: ListLimits,
    ) -> List {
        let mut list = List {
            head,
            body: Body::default(),
        };
        let elements: Vec<&[u8]> = elements.into_iter().collect();
        list.push(End::Right, &elements, limits);
        list
    }

    /// How many elements it holds.
    pub fn len(&self) -> usize {
        match &self.body {
            Body::Packed(packed) => packed.len(),
            Body::Deque(deque) => deque.len(),
        }
    }

    /// Whether it holds no element (a key never holds an empty list).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The logical index of the first element.
    pub fn head(&self) -> i64 {
        self.head
    }

    /// The logical indices of its elements.
    pub fn span(&self) -> Range<i64> {
        self.head..self.head + self.len() as i64
    }

    /// Whether it is the deque (not packed).
    pub fn is_deque(&self) -> bool {
        matches!(self.body, Body::Deque(_))
    }

    /// The element at `position` (0 = the head).
    pub fn get(&self, position: usize) -> Option<&[u8]> {
        match &self.body {
            Body::Packed(packed) => packed.iter().nth(position),
            Body::Deque(deque) => deque.get(position).map(|element| &**element),
        }
    }

    /// The elements, head first.
    pub fn iter(&self) -> Elements<'_> {
        self.range(0..self.len())
    }

    /// The elements at `positions`, head first.
    pub fn range(&self, positions: Range<usize>) -> Elements<'_> {
        match &self.body {
            Body::Packed(packed) => {
                let elements: Vec<&[u8]> = packed
                    .iter()
                    .skip(positions.start)
                    .take(positions.len())
                    .collect();
                Elements::Packed(elements.into_iter())
            }
            Body::Deque(deque) => Elements::Deque(deque.range(positions)),
        }
    }

    /// Pushes `elements` one after the other at `end` (so LPUSH a b leaves b first); the
    /// logical indices they took.
    pub fn push(&mut self, end: End, elements: &[&[u8]], limits: ListLimits) -> Range<i64> {
        let added: usize = elements
            .iter()
            .map(|e| listpack::encoded_len(e.len()))
            .sum();
        self.make_room(elements.len(), added, limits);
        let count = elements.len() as i64;
        match &mut self.body {
            Body::Packed(packed) => {
                let at = match end {
                    End::Left => packed_offset(packed, 0),
                    End::Right => packed.end(),
                };
                let ordered: Vec<&[u8]> = match end {
                    End::Left => elements.iter().rev().copied().collect(),
                    End::Right => elements.to_vec(),
                };
                packed.splice(at..at, 0, &ordered);
            }
            Body::Deque(deque) => {
                for element in elements {
                    let element = Box::from(*element);
                    match end {
                        End::Left => deque.push_front(element),
                        End::Right => deque.push_back(element),
                    }
                }
            }
        }
        match end {
            End::Left => {
                self.head -= count;
                self.head..self.head + count
            }
            End::Right => {
                let tail = self.span().end;
                tail - count..tail
            }
        }
    }

    /// Removes up to `count` elements from `end` and returns them in the order popped.
    pub fn pop(&mut self, end: End, count: usize) -> Vec<Vec<u8>> {
        let count = count.min(self.len());
        let positions = match end {
            End::Left => 0..count,
            End::Right => self.len() - count..self.len(),
        };
        let mut popped: Vec<Vec<u8>> = self.range(positions).map(<[u8]>::to_vec).collect();
        if end == End::Right {
            popped.reverse();
        }
        self.discard(end, count);
        popped
    }

    /// Removes up to `count` elements from `end`.
    fn discard(&mut self, end: End, count: usize) {
        let count = count.min(self.len());
        let positions = match end {
            End::Left => 0..count,
            End::Right => self.len() - count..self.len(),
        };
        match &mut self.body {
            Body::Packed(packed) => {
                let (start, stop) = packed_range(packed, positions);
                packed.splice(start..stop, count, &[]);
            }
            Body::Deque(deque) => match end {
                End::Left => drop(deque.drain(..count)),
                End::Right => deque.truncate(deque.len() - count),
            },
        }
        if end == End::Left {
            self.head += count as i64;
        }
    }

    /// Replaces the element at `position` (which must exist); its logical index.
    pub fn set(&mut self, position: usize, element: &[u8], limits: ListLimits) -> Range<i64> {
        let old = self.get(position).map_or(0, <[u8]>::len);
        let grows = listpack::encoded_len(element.len()).saturating_sub(old);
        self.make_room(0, grows, limits);
        match &mut self.body {
            Body::Packed(packed) => {
                let (start, stop) = packed_range(packed, position..position + 1);
                packed.splice(start..stop, 1, &[element]);
            }
            Body::Deque(deque) => deque[position] = Box::from(element),
        }
        let index = self.head + position as i64;
        index..index + 1
    }

    /// Inserts `element` before `position` (`len` = at the tail), moving the shorter side
    /// of the list; the logical indices whose element changed.
    pub fn insert(&mut self, position: usize, element: &[u8], limits: ListLimits) -> Range<i64> {
        self.make_room(1, listpack::encoded_len(element.len()), limits);
        let len = self.len();
        match &mut self.body {
            Body::Packed(packed) => {
                let at = packed_offset(packed, position);
                packed.splice(at..at, 0, &[element]);
            }
            Body::Deque(deque) => deque.insert(position, Box::from(element)),
        }
        if position < len - position {
            self.head -= 1;
            self.head..self.head + position as i64 + 1
        } else {
            let at = self.head + position as i64;
            at..self.span().end
        }
    }

    /// Removes the elements at `positions` (ascending, existing), closing the gap from the
    /// shorter side; the logical indices whose element changed.
    pub fn remove_positions(&mut self, positions: &[usize]) -> Range<i64> {
        let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else {
            return self.head..self.head;
        };
        let len = self.len();
        let removed = positions.len();
        match &mut self.body {
            Body::Packed(packed) => {
                let mut next = positions.iter().peekable();
                let kept: Vec<&[u8]> = packed
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| next.next_if_eq(&i).is_none())
                    .map(|(_, element)| element)
                    .collect();
                let mut fresh = Listpack::default();
                let end = fresh.end();
                fresh.splice(end..end, 0, &kept);
                *packed = fresh;
            }
            Body::Deque(deque) => {
                let mut next = positions.iter().peekable();
                let mut i = 0;
                deque.retain(|_| {
                    let keep = next.next_if_eq(&&i).is_none();
                    i += 1;
                    keep
                });
            }
        }
        // Either the elements before `last` move right, or those after `first` move left.
        let moved_left_side = last + 1 - removed;
        let moved_right_side = len - removed - first;
        if moved_left_side < moved_right_side {
            self.head += removed as i64;
            self.head..self.head + moved_left_side as i64
        } else {
            let at = self.head + first as i64;
            at..self.span().end
        }
    }

    /// Keeps only the elements at `positions`.
    pub fn trim(&mut self, positions: Range<usize>) {
        let len = self.len();
        let (keep_start, keep_end) = (positions.start.min(len), positions.end.min(len));
        self.discard(End::Right, len - keep_end.max(keep_start));
        self.discard(End::Left, keep_start);
    }

    /// Makes the list span exactly `span`, keeping the elements it had inside it and holding
    /// empty placeholders where it had none (replay fills them in).
    pub fn reframe(&mut self, span: Range<i64>) {
        let old_start = self.head;
        let deque = self.make_deque();
        let old_end = old_start + deque.len() as i64;
        if span.end <= old_start || old_end <= span.start {
            deque.clear();
        } else {
            deque.truncate((span.end.min(old_end) - old_start) as usize);
            deque.drain(..(span.start.max(old_start) - old_start) as usize);
        }
        let kept_start = span.start.max(old_start).min(span.end);
        let front = if deque.is_empty() {
            0
        } else {
            (kept_start - span.start) as usize
        };
        for _ in 0..front {
            deque.push_front(Box::default());
        }
        let wanted = (span.end - span.start) as usize;
        deque.resize(wanted, Box::default());
        self.head = span.start;
    }

    /// Sets the element at logical `index`, if the list spans it; for replay.
    pub fn set_logical(&mut self, index: i64, element: &[u8], limits: ListLimits) {
        if self.span().contains(&index) {
            self.set((index - self.head) as usize, element, limits);
        }
    }

    /// Packs the list again if it fits the packed encoding: after replay, which works on the
    /// deque.
    pub fn compact(&mut self, limits: ListLimits) {
        let Body::Deque(deque) = &self.body else {
            return;
        };
        let mut bytes = 0;
        for element in deque {
            bytes += listpack::encoded_len(element.len());
            if !limits.fits_packed(deque.len(), bytes) {
                return;
            }
        }
        let elements: Vec<&[u8]> = deque.iter().map(|e| &**e).collect();
        let mut packed = Listpack::default();
        let end = packed.end();
        packed.splice(end..end, 0, &elements);
        self.body = Body::Packed(packed);
    }

    /// Converts to the deque first when `count` more elements of `bytes` more would not fit
    /// the packed encoding.
    fn make_room(&mut self, count: usize, bytes: usize, limits: ListLimits) {
        if let Body::Packed(packed) = &self.body {
            let fits = limits.fits_packed(
                packed.len().saturating_add(count),
                packed.encoded_len().saturating_add(bytes),
            );
            if !fits {
                self.make_deque();
            }
        }
    }

    /// The deque, converting to it if packed.
    fn make_deque(&mut self) -> &mut VecDeque<Box<[u8]>> {
        if let Body::Packed(packed) = &self.body {
            self.body = Body::Deque(packed.iter().map(Box::from).collect());
        }
        match &mut self.body {
            Body::Deque(deque) => deque,
            Body::Packed(_) => unreachable!("converted above"),
        }
    }
}

/// Elements of a list in order, from either end.
pub enum Elements<'a> {
    /// Of a packed list (gathered first: a packed list is small).
    Packed(std::vec::IntoIter<&'a [u8]>),
    /// Of the deque.
    Deque(std::collections::vec_deque::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Elements::Packed(elements) => elements.next(),
            Elements::Deque(elements) => elements.next().map(|e| &**e),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Elements::Packed(elements) => elements.size_hint(),
            Elements::Deque(elements) => elements.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Elements<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Elements::Packed(elements) => elements.next_back(),
            Elements::Deque(elements) => elements.next_back().map(|e| &**e),
        }
    }
}

impl ExactSizeIterator for Elements<'_> {}

/// The byte offset of the element at `position` of a packed list (its end for `len`).
fn packed_offset(packed: &Listpack, position: usize) -> usize {
    packed
        .spans()
        .nth(position)
        .map_or(packed.end(), |span| span.start)
}

/// The byte range of the elements at `positions` of a packed list.
fn packed_range(packed: &Listpack, positions: Range<usize>) -> (usize, usize) {
    let start = packed_offset(packed, positions.start);
    let stop = packed
        .spans()
        .nth(positions.end.wrapping_sub(1))
        .filter(|_| positions.end > positions.start)
        .map_or(start, |span| span.end);
    (start, stop)
}

/// Length of a noted change: two big-endian logical indices, start and end.
const NOTE_LEN: usize = 16;

/// The logical indices a noted change names (see [`ListEdit`]); `None` for a note that is
/// not one.
pub fn decode_note(note: &[u8]) -> Option<Range<i64>> {
    let bytes: &[u8; NOTE_LEN] = note.try_into().ok()?;
    let (start, end) = bytes.split_at(8);
    let start = i64::from_be_bytes(start.try_into().ok()?);
    let end = i64::from_be_bytes(end.try_into().ok()?);
    Some(start..end)
}

fn encode_note(indices: &Range<i64>) -> [u8; NOTE_LEN] {
    let mut note = [0; NOTE_LEN];
    note[..8].copy_from_slice(&indices.start.to_be_bytes());
    note[8..].copy_from_slice(&indices.end.to_be_bytes());
    note
}

/// The ranges of `notes` merged and cut to `span`, ascending: the logical indices a
/// journal record must carry the elements of.
pub fn changed_indices(
    notes: impl Iterator<Item = Range<i64>>,
    span: Range<i64>,
) -> Vec<Range<i64>> {
    let mut ranges: Vec<Range<i64>> = notes
        .map(|r| r.start.max(span.start)..r.end.min(span.end))
        .filter(|r| r.start < r.end)
        .collect();
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<i64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// A list being changed by a command: every change goes through it, so that the journal
/// hears which logical indices changed (as notes of two big-endian `i64`s, start and end;
/// a pop notes an empty range: only the span changed).
pub struct ListEdit<'a> {
    list: &'a mut List,
    notes: MemberNotes<'a>,
    limits: ListLimits,
}

impl<'a> ListEdit<'a> {
    /// The list as it is now.
    pub fn list(&self) -> &List {
        self.list
    }

    fn note(&mut self, indices: Range<i64>) {
        self.notes.note(&encode_note(&indices));
    }

    /// Pushes `elements` at `end`, one after the other.
    pub fn push(&mut self, end: End, elements: &[&[u8]]) {
        let indices = self.list.push(end, elements, self.limits);
        self.note(indices);
    }

    /// Pops up to `count` elements from `end`, in the order popped.
    pub fn pop(&mut self, end: End, count: usize) -> Vec<Vec<u8>> {
        let popped = self.list.pop(end, count);
        if !popped.is_empty() {
            self.note(self.list.head..self.list.head);
        }
        popped
    }

    /// Replaces the element at `position`, which must exist.
    pub fn set(&mut self, position: usize, element: &[u8]) {
        let indices = self.list.set(position, element, self.limits);
        self.note(indices);
    }

    /// Inserts `element` before `position`.
    pub fn insert(&mut self, position: usize, element: &[u8]) {
        let indices = self.list.insert(position, element, self.limits);
        self.note(indices);
    }

    /// Removes the elements at `positions` (ascending).
    pub fn remove_positions(&mut self, positions: &[usize]) {
        if !positions.is_empty() {
            let indices = self.list.remove_positions(positions);
            self.note(indices);
        }
    }

    /// Keeps only the elements at `positions`.
    pub fn trim(&mut self, positions: Range<usize>) {
        self.list.trim(positions);
        self.note(self.list.head..self.list.head);
    }
}

/// The live list at `key`, to change it; `None` when there is no key, `WrongType` when it
/// holds something else.
pub fn edit<'a>(
    shard: &'a mut Shard,
    key: &'a [u8],
    now: u64,
    limits: ListLimits,
) -> Result<Option<ListEdit<'a>>, WrongType> {
    let Some((value, notes)) = shard.edit(key, now) else {
        return Ok(None);
    };
    match value {
        Value::List(list) => Ok(Some(ListEdit {
            list,
            notes,
            limits,
        })),
        _ => Err(WrongType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: ListLimits = ListLimits { max_packed_size: 4 };

    fn elements(list: &List) -> Vec<String> {
        list.iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    fn both(build: impl Fn(ListLimits) -> List) -> [List; 2] {
        [build(ListLimits::default()), build(TINY)]
    }

    #[test]
    fn pushes_and_pops_number_the_ends() {
        for limits in [ListLimits::default(), ListLimits { max_packed_size: 1 }] {
            let mut list = List::default();
            assert_eq!(list.push(End::Right, &[b"a", b"b"], limits), 0..2);
            assert_eq!(list.push(End::Left, &[b"x", b"y"], limits), -2..0);
            assert_eq!(elements(&list), ["y", "x", "a", "b"]);
            assert_eq!(list.span(), -2..2);
            assert_eq!(list.pop(End::Left, 1), [b"y".to_vec()]);
            assert_eq!(list.pop(End::Right, 2), [b"b".to_vec(), b"a".to_vec()]);
            assert_eq!(list.span(), -1..0);
            assert_eq!(list.pop(End::Right, 5), [b"x".to_vec()]);
            assert!(list.is_empty());
            assert_eq!(list.is_deque(), limits.max_packed_size == 1);
        }
    }

    #[test]
    fn inserts_and_removals_renumber_the_shorter_side() {
        for mut list in
            both(|limits| List::from_elements(10, [&b"a"[..], b"b", b"c", b"d", b"e"], limits))
        {
            let limits = if list.is_deque() {
                TINY
            } else {
                ListLimits::default()
            };
            assert_eq!(list.insert(1, b"x", limits), 9..11, "the head side moved");
            assert_eq!(elements(&list), ["a", "x", "b", "c", "d", "e"]);
            assert_eq!(list.insert(5, b"y", limits), 14..16, "the tail side moved");
            assert_eq!(list.span(), 9..16);
            assert_eq!(elements(&list), ["a", "x", "b", "c", "d", "y", "e"]);
            assert_eq!(
                list.remove_positions(&[5, 6]),
                14..14,
                "nothing after moved"
            );
            assert_eq!(list.remove_positions(&[0]), 10..10, "nothing before moved");
            assert_eq!(elements(&list), ["x", "b", "c", "d"]);
            assert_eq!(list.span(), 10..14);
            assert_eq!(list.remove_positions(&[1]), 11..12, "x moved right");
            assert_eq!(elements(&list), ["x", "c", "d"]);
            assert_eq!(list.set(2, b"D", limits), 13..14);
            list.trim(1..2);
            assert_eq!(elements(&list), ["c"]);
            assert_eq!(list.span(), 12..13);
        }
    }

    #[test]
    fn converts_past_the_node_size() {
        let mut list = List::default();
        let limits = ListLimits::default();
        let long = vec![b'x'; 1000];
        for _ in 0..8 {
            list.push(End::Right, &[&long], limits);
        }
        assert!(!list.is_deque(), "8 × 1002 bytes fit 8 KB");
        list.push(End::Left, &[&long], limits);
        assert!(list.is_deque());
        assert_eq!(list.len(), 9);
        let mut counted = List::default();
        let five = ListLimits { max_packed_size: 5 };
        counted.push(End::Right, &[b"1", b"2", b"3", b"4", b"5"], five);
        assert!(!counted.is_deque());
        counted.set(0, &vec![b'y'; SAFETY_LIMIT], five);
        assert!(counted.is_deque(), "8 KB bounds a counted node too");
    }

    #[test]
    fn reframe_keeps_the_overlap_and_holds_placeholders_elsewhere() {
        let limits = ListLimits::default();
        let mut list = List::from_elements(0, [&b"a"[..], b"b", b"c"], limits);
        list.reframe(-1..2);
        assert_eq!(elements(&list), ["", "a", "b"]);
        list.reframe(1..4);
        assert_eq!(elements(&list), ["b", "", ""]);
        list.reframe(10..12);
        assert_eq!(elements(&list), ["", ""]);
        assert_eq!(list.span(), 10..12);
        list.set_logical(11, b"z", limits);
        list.set_logical(12, b"outside", limits);
        list.compact(limits);
        assert!(!list.is_deque());
        assert_eq!(elements(&list), ["", "z"]);
    }

    #[test]
    fn notes_merge_and_stay_inside_the_span() {
        let notes = [5..7, 0..0, 6..9, 12..20, -3..1];
        let decoded: Vec<Range<i64>> = notes
            .iter()
            .map(|r| decode_note(&encode_note(r)).expect("a note"))
            .collect();
        assert_eq!(
            changed_indices(decoded.into_iter(), 0..15),
            [0..1, 5..9, 12..15]
        );
        assert_eq!(decode_note(b"short"), None);
    }
}
