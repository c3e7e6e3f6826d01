//! List values: a listpack while small, a deque of listpack nodes once grown, each element
//! at a logical index.
//!
//! A new list is packed ([`Listpack`]: the elements head first, in one allocation). Past
//! one node of `list-max-listpack-size` (a negative size is a byte budget: -1 = 4 KB ... -5
//! = 64 KB; a positive one an element count, within 8 KB) it becomes a [`VecDeque`] of such
//! nodes, as Redis's quicklist: pushing and popping at either end touches one node of
//! bounded size, finding a position walks the nodes from the nearer end, and a node that
//! outgrows the limit is split in two. It is packed again only when replay leaves it one
//! node; `OBJECT ENCODING` says `quicklist` for both, as Redis 7.0 does for every list.
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
    /// Nodes of elements (boxed: a `Value` stays as small as a string's).
    Chunked(Box<Chunks>),
}

impl Default for Body {
    fn default() -> Self {
        Body::Packed(Listpack::default())
    }
}

/// A grown list: listpack nodes of at most one `list-max-listpack-size` each, as Redis's
/// quicklist.
#[derive(Clone, Default)]
struct Chunks {
    nodes: VecDeque<Listpack>,
    /// Elements in all nodes.
    len: usize,
}

/// Elements of a list in order, from either end.
pub type Elements<'a> = std::vec::IntoIter<&'a [u8]>;

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
            Body::Chunked(chunks) => chunks.len,
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

    /// Bytes its listpacks take (and their bookkeeping), without walking the elements: what
    /// eviction frees by removing it.
    pub fn allocated_bytes(&self) -> usize {
        const PER_NODE: usize = 16;
        match &self.body {
            Body::Packed(packed) => packed.encoded_len(),
            Body::Chunked(chunks) => chunks
                .nodes
                .iter()
                .map(|node| PER_NODE + node.encoded_len())
                .sum(),
        }
    }

    /// Whether it grew into nodes (is no longer one listpack).
    pub fn is_chunked(&self) -> bool {
        matches!(self.body, Body::Chunked(_))
    }

    /// The element at `position` (0 = the head).
    pub fn get(&self, position: usize) -> Option<&[u8]> {
        match &self.body {
            Body::Packed(packed) => packed.iter().nth(position),
            Body::Chunked(chunks) => chunks.get(position),
        }
    }

    /// The elements, head first.
    pub fn iter(&self) -> Elements<'_> {
        self.range(0..self.len())
    }

    /// The elements at `positions` (inside the list), head first.
    pub fn range(&self, positions: Range<usize>) -> Elements<'_> {
        let elements: Vec<&[u8]> = match &self.body {
            Body::Packed(packed) => packed
                .iter()
                .skip(positions.start)
                .take(positions.len())
                .collect(),
            Body::Chunked(chunks) => chunks.gather(positions),
        };
        elements.into_iter()
    }

    /// Pushes `elements` one after the other at `end` (so LPUSH a b leaves b first); the
    /// logical indices they took.
    pub fn push(&mut self, end: End, elements: &[&[u8]], limits: ListLimits) -> Range<i64> {
        let added: usize = elements
            .iter()
            .map(|e| listpack::encoded_len(e.len()))
            .sum();
        self.make_room(elements.len(), added, limits);
        let ordered: Vec<&[u8]> = match end {
            End::Left => elements.iter().rev().copied().collect(),
            End::Right => elements.to_vec(),
        };
        match &mut self.body {
            Body::Packed(packed) => {
                let at = match end {
                    End::Left => packed_offset(packed, 0),
                    End::Right => packed.end(),
                };
                packed.splice(at..at, 0, &ordered);
            }
            Body::Chunked(chunks) => match end {
                End::Left => chunks.push_front(&ordered, limits),
                End::Right => chunks.push_back(&ordered, limits),
            },
        }
        let count = elements.len() as i64;
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
        match &mut self.body {
            Body::Packed(packed) => {
                let len = packed.len();
                let positions = match end {
                    End::Left => 0..count,
                    End::Right => len - count..len,
                };
                let (start, stop) = packed_range(packed, positions);
                packed.splice(start..stop, count, &[]);
            }
            Body::Chunked(chunks) => chunks.discard(end, count),
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
            Body::Chunked(chunks) => chunks.set(position, element, limits),
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
            Body::Chunked(chunks) => chunks.insert(position, element, limits),
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
            Body::Packed(packed) => *packed = without(packed, positions, 0),
            Body::Chunked(chunks) => chunks.remove_positions(positions),
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
    pub fn reframe(&mut self, span: Range<i64>, limits: ListLimits) {
        let old = self.span();
        let holes = |n: i64| vec![&[][..]; n.max(0) as usize];
        if span.end <= old.start || old.end <= span.start {
            self.discard(End::Right, self.len());
            self.head = span.start;
            self.push(End::Right, &holes(span.end - span.start), limits);
            return;
        }
        self.discard(End::Left, (span.start - old.start).max(0) as usize);
        self.discard(End::Right, (old.end - span.end).max(0) as usize);
        self.push(End::Left, &holes(old.start - span.start), limits);
        self.push(End::Right, &holes(span.end - old.end), limits);
    }

    /// Puts `elements` at the logical indices from `start` on, those the list spans; for
    /// replay. Each node touched is rebuilt once, however many of its elements change.
    pub fn overwrite(&mut self, start: i64, elements: &[&[u8]], limits: ListLimits) {
        let span = self.span();
        let skip = usize::try_from(span.start.saturating_sub(start)).unwrap_or(0);
        let Some(elements) = elements.get(skip..) else {
            return;
        };
        let from = start.saturating_add(skip as i64);
        if from >= span.end {
            return;
        }
        let room = (span.end - from) as usize;
        let elements = &elements[..elements.len().min(room)];
        let position = (from - span.start) as usize;
        match &mut self.body {
            Body::Packed(packed) => {
                let mut all: Vec<&[u8]> = packed.iter().collect();
                all[position..position + elements.len()].copy_from_slice(elements);
                let bytes: usize = all.iter().map(|e| listpack::encoded_len(e.len())).sum();
                if limits.fits_packed(all.len(), bytes) {
                    let rebuilt = node_of(&all);
                    *packed = rebuilt;
                } else {
                    let nodes = pack_nodes(&all, limits).into();
                    let len = all.len();
                    self.body = Body::Chunked(Box::new(Chunks { nodes, len }));
                }
            }
            Body::Chunked(chunks) => chunks.overwrite(position, elements, limits),
        }
    }

    /// Packs the list into one listpack again if it has come down to one node that fits:
    /// after replay, which may grow a list through placeholders.
    pub fn compact(&mut self, limits: ListLimits) {
        let Body::Chunked(chunks) = &mut self.body else {
            return;
        };
        match chunks.nodes.len() {
            0 => self.body = Body::default(),
            1 if limits.fits_packed(chunks.len, chunks.nodes[0].encoded_len()) => {
                let node = chunks.nodes.pop_front().unwrap_or_default();
                self.body = Body::Packed(node);
            }
            _ => {}
        }
    }

    /// Turns a packed list into nodes first when `count` more elements of `bytes` more
    /// would not fit one.
    fn make_room(&mut self, count: usize, bytes: usize, limits: ListLimits) {
        if let Body::Packed(packed) = &mut self.body {
            let fits = limits.fits_packed(
                packed.len().saturating_add(count),
                packed.encoded_len().saturating_add(bytes),
            );
            if !fits {
                let node = std::mem::take(packed);
                let len = node.len();
                let nodes = if len == 0 {
                    VecDeque::new()
                } else {
                    VecDeque::from([node])
                };
                self.body = Body::Chunked(Box::new(Chunks { nodes, len }));
            }
        }
    }
}

impl Chunks {
    /// The node holding `position` and its offset there (walking from the nearer end).
    fn locate(&self, position: usize) -> (usize, usize) {
        if position < self.len / 2 {
            let mut left = position;
            for (i, node) in self.nodes.iter().enumerate() {
                if left < node.len() {
                    return (i, left);
                }
                left -= node.len();
            }
        } else {
            let mut from_end = self.len - 1 - position;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                if from_end < node.len() {
                    return (i, node.len() - 1 - from_end);
                }
                from_end -= node.len();
            }
        }
        (self.nodes.len(), 0)
    }

    fn get(&self, position: usize) -> Option<&[u8]> {
        if position >= self.len {
            return None;
        }
        let (node, offset) = self.locate(position);
        self.nodes.get(node)?.iter().nth(offset)
    }

    fn gather(&self, positions: Range<usize>) -> Vec<&[u8]> {
        if positions.is_empty() {
            return Vec::new();
        }
        let (node, offset) = self.locate(positions.start);
        self.nodes
            .range(node..)
            .flat_map(Listpack::iter)
            .skip(offset)
            .take(positions.len())
            .collect()
    }

    /// Appends `elements` in order: into the last node while they fit, then new nodes.
    fn push_back(&mut self, elements: &[&[u8]], limits: ListLimits) {
        self.len += elements.len();
        let mut rest = elements;
        if let Some(last) = self.nodes.back_mut() {
            let n = fitting(last, rest.iter(), limits);
            if n > 0 {
                let end = last.end();
                last.splice(end..end, 0, &rest[..n]);
                rest = &rest[n..];
            }
        }
        self.nodes.extend(pack_nodes(rest, limits));
    }

    /// Prepends `elements` in order (the last one ends next to the old head).
    fn push_front(&mut self, elements: &[&[u8]], limits: ListLimits) {
        self.len += elements.len();
        let mut rest = elements;
        if let Some(first) = self.nodes.front_mut() {
            let n = fitting(first, rest.iter().rev(), limits);
            if n > 0 {
                let at = packed_offset(first, 0);
                first.splice(at..at, 0, &rest[rest.len() - n..]);
                rest = &rest[..rest.len() - n];
            }
        }
        while !rest.is_empty() {
            let n = fitting(&Listpack::default(), rest.iter().rev(), limits).max(1);
            self.nodes.push_front(node_of(&rest[rest.len() - n..]));
            rest = &rest[..rest.len() - n];
        }
    }

    /// Removes `count` (at most `len`) elements from `end`.
    fn discard(&mut self, end: End, count: usize) {
        self.len -= count;
        let mut left = count;
        while left > 0 {
            let node = match end {
                End::Left => self.nodes.front_mut(),
                End::Right => self.nodes.back_mut(),
            };
            let Some(node) = node else {
                break;
            };
            let n = node.len();
            if n <= left {
                match end {
                    End::Left => self.nodes.pop_front(),
                    End::Right => self.nodes.pop_back(),
                };
                left -= n;
                continue;
            }
            let positions = match end {
                End::Left => 0..left,
                End::Right => n - left..n,
            };
            let (start, stop) = packed_range(node, positions);
            node.splice(start..stop, left, &[]);
            left = 0;
        }
    }

    fn set(&mut self, position: usize, element: &[u8], limits: ListLimits) {
        let (at, offset) = self.locate(position);
        let node = &mut self.nodes[at];
        let (start, stop) = packed_range(node, offset..offset + 1);
        node.splice(start..stop, 1, &[element]);
        self.split_if_full(at, limits);
    }

    fn insert(&mut self, position: usize, element: &[u8], limits: ListLimits) {
        if position == self.len {
            self.push_back(&[element], limits);
            return;
        }
        let (at, offset) = self.locate(position);
        let node = &mut self.nodes[at];
        let start = packed_offset(node, offset);
        node.splice(start..start, 0, &[element]);
        self.len += 1;
        self.split_if_full(at, limits);
    }

    /// Replaces the elements from `position` on (inside the list) with `elements`,
    /// rebuilding the nodes they fall in.
    fn overwrite(&mut self, position: usize, elements: &[&[u8]], limits: ListLimits) {
        if elements.is_empty() {
            return;
        }
        let end = position + elements.len();
        let (first, offset) = self.locate(position);
        let mut node_start = position - offset;
        let mut last = first;
        let mut rebuilt: Vec<&[u8]> = Vec::new();
        for (at, node) in self.nodes.iter().enumerate().skip(first) {
            for (i, element) in node.iter().enumerate() {
                let here = node_start + i;
                let replaced = (position..end).contains(&here);
                rebuilt.push(if replaced {
                    elements[here - position]
                } else {
                    element
                });
            }
            node_start += node.len();
            last = at;
            if node_start >= end {
                break;
            }
        }
        let fresh = pack_nodes(&rebuilt, limits);
        let tail = self.nodes.split_off(last + 1);
        self.nodes.truncate(first);
        self.nodes.extend(fresh);
        self.nodes.extend(tail);
    }

    /// Splits node `at` in two halves when it outgrew one node.
    fn split_if_full(&mut self, at: usize, limits: ListLimits) {
        let node = &self.nodes[at];
        if node.len() < 2 || limits.fits_packed(node.len(), node.encoded_len()) {
            return;
        }
        let elements: Vec<&[u8]> = node.iter().collect();
        let (front, back) = elements.split_at(elements.len() / 2);
        let (front, back) = (node_of(front), node_of(back));
        self.nodes[at] = front;
        self.nodes.insert(at + 1, back);
    }

    fn remove_positions(&mut self, positions: &[usize]) {
        self.len -= positions.len();
        let mut next = positions.iter().copied().peekable();
        let mut base = 0;
        for node in std::mem::take(&mut self.nodes) {
            let n = node.len();
            if next.peek().is_some_and(|&p| p < base + n) {
                let kept = without(&node, &positions_in(&mut next, base + n), base);
                if !kept.is_empty() {
                    self.nodes.push_back(kept);
                }
            } else {
                self.nodes.push_back(node);
            }
            base += n;
        }
    }
}

/// The positions `next` yields below `end`.
fn positions_in(
    next: &mut std::iter::Peekable<impl Iterator<Item = usize>>,
    end: usize,
) -> Vec<usize> {
    std::iter::from_fn(|| next.next_if(|&p| p < end)).collect()
}

/// A listpack of `packed`'s elements but those at `positions` (ascending; counted from
/// `base` for the first element of `packed`).
fn without(packed: &Listpack, positions: &[usize], base: usize) -> Listpack {
    let mut next = positions.iter().peekable();
    let kept: Vec<&[u8]> = packed
        .iter()
        .enumerate()
        .filter(|(i, _)| next.next_if_eq(&&(base + i)).is_none())
        .map(|(_, element)| element)
        .collect();
    node_of(&kept)
}

/// `elements` in nodes of one `list-max-listpack-size` each (an element too long for one
/// has a node of its own).
fn pack_nodes(elements: &[&[u8]], limits: ListLimits) -> Vec<Listpack> {
    let mut nodes = Vec::new();
    let mut rest = elements;
    while !rest.is_empty() {
        let n = fitting(&Listpack::default(), rest.iter(), limits).max(1);
        nodes.push(node_of(&rest[..n]));
        rest = &rest[n..];
    }
    nodes
}

/// A listpack of `elements`.
fn node_of(elements: &[&[u8]]) -> Listpack {
    let mut node = Listpack::default();
    let end = node.end();
    node.splice(end..end, 0, elements);
    node
}

/// How many of `elements` (taken in the iterator's order) fit into `node` as well.
fn fitting<'a>(
    node: &Listpack,
    elements: impl Iterator<Item = &'a &'a [u8]>,
    limits: ListLimits,
) -> usize {
    let (mut count, mut bytes) = (node.len(), node.encoded_len());
    let mut fit = 0;
    for element in elements {
        count += 1;
        bytes += listpack::encoded_len(element.len());
        if !limits.fits_packed(count, bytes) {
            break;
        }
        fit += 1;
    }
    fit
}

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
            assert_eq!(list.is_chunked(), limits.max_packed_size == 1);
        }
    }

    #[test]
    fn inserts_and_removals_renumber_the_shorter_side() {
        for mut list in
            both(|limits| List::from_elements(10, [&b"a"[..], b"b", b"c", b"d", b"e"], limits))
        {
            let limits = if list.is_chunked() {
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
        assert!(!list.is_chunked(), "8 × 1002 bytes fit 8 KB");
        list.push(End::Left, &[&long], limits);
        assert!(list.is_chunked());
        assert_eq!(list.len(), 9);
        let bytes = list.allocated_bytes();
        assert!((9 * 1002..9 * 1002 + 100).contains(&bytes), "{bytes} bytes");
        let mut counted = List::default();
        let five = ListLimits { max_packed_size: 5 };
        counted.push(End::Right, &[b"1", b"2", b"3", b"4", b"5"], five);
        assert!(!counted.is_chunked());
        counted.set(0, &vec![b'y'; SAFETY_LIMIT], five);
        assert!(counted.is_chunked(), "8 KB bounds a counted node too");
    }

    #[test]
    fn reframe_keeps_the_overlap_and_holds_placeholders_elsewhere() {
        let limits = ListLimits::default();
        let mut list = List::from_elements(0, [&b"a"[..], b"b", b"c"], limits);
        list.reframe(-1..2, limits);
        assert_eq!(elements(&list), ["", "a", "b"]);
        list.reframe(1..4, limits);
        assert_eq!(elements(&list), ["b", "", ""]);
        list.reframe(10..12, limits);
        assert_eq!(elements(&list), ["", ""]);
        assert_eq!(list.span(), 10..12);
        list.overwrite(11, &[b"z", b"outside"], limits);
        list.overwrite(9, &[b"outside", b"y"], limits);
        list.compact(limits);
        assert!(!list.is_chunked());
        assert_eq!(elements(&list), ["y", "z"]);
        let mut chunked = List::from_elements(0, (0..20).map(|_| &b""[..]), TINY);
        let filler: Vec<Vec<u8>> = (0..20).map(|i| vec![b'a' + i as u8; i]).collect();
        let filler: Vec<&[u8]> = filler.iter().map(Vec::as_slice).collect();
        chunked.overwrite(3, &filler[3..15], TINY);
        let early: Vec<&[u8]> = [&b"out"[..], b"out"]
            .into_iter()
            .chain(filler[..3].iter().copied())
            .collect();
        chunked.overwrite(-2, &early, TINY);
        chunked.overwrite(15, &filler[15..], TINY);
        assert!(chunked.iter().eq(filler.iter().copied()));
    }

    #[test]
    fn random_writes_on_small_nodes_agree_with_a_vecdeque() {
        let limits = ListLimits { max_packed_size: 3 };
        let mut list = List::default();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut below = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        for step in 0..4000usize {
            let value = step.to_string().into_bytes();
            let len = model.len();
            match below(8) {
                0 => {
                    list.push(End::Left, &[&value, b"x"], limits);
                    model.push_front(value);
                    model.push_front(b"x".to_vec());
                }
                1 | 2 => {
                    list.push(End::Right, &[&value], limits);
                    model.push_back(value);
                }
                3 => {
                    let count = below(4);
                    let popped = list.pop(End::Left, count);
                    let expected: Vec<Vec<u8>> = (0..count.min(len))
                        .filter_map(|_| model.pop_front())
                        .collect();
                    assert_eq!(popped, expected);
                }
                4 => {
                    let popped = list.pop(End::Right, 1);
                    assert_eq!(popped, model.pop_back().into_iter().collect::<Vec<_>>());
                }
                5 if len > 0 => {
                    let at = below(len);
                    list.set(at, &value, limits);
                    model[at] = value;
                }
                6 => {
                    let at = below(len + 1);
                    list.insert(at, &value, limits);
                    model.insert(at, value);
                }
                _ if len > 0 => {
                    let mut positions: Vec<usize> = (0..below(3) + 1).map(|_| below(len)).collect();
                    positions.sort_unstable();
                    positions.dedup();
                    list.remove_positions(&positions);
                    for at in positions.into_iter().rev() {
                        model.remove(at);
                    }
                }
                _ => {}
            }
            assert_eq!(list.len(), model.len(), "step {step}");
            if step % 50 == 0 {
                assert!(
                    list.iter().eq(model.iter().map(Vec::as_slice)),
                    "step {step}"
                );
                let at = below(model.len());
                assert_eq!(list.get(at), model.get(at).map(Vec::as_slice));
                let end = (at + 5).min(model.len());
                assert!(
                    list.range(at..end)
                        .eq(model.range(at..end).map(Vec::as_slice))
                );
            }
        }
        assert!(list.is_chunked());
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
