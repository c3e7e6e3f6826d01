//! Sorted set values: a listpack of members and scores while small, a skiplist once grown.
//!
//! Members are ordered by score, then by their bytes, as in Redis. A new sorted set is packed
//! ([`Listpack`]: `member, score, member, score, ...` in that order, the score as the eight
//! bytes of an `f64`, found by a linear walk). It becomes a [`Skiplist`] when it gets more
//! members than `zset-max-listpack-entries` or a member longer than
//! `zset-max-listpack-value`, and never goes back while it lives, as in Redis.
//!
//! Every read is phrased in ranks (0-based positions in that order): a score or lex range is
//! the ranks between two counts of leading members ([`SortedSet::count_while`]), which the
//! skiplist answers in O(log n), so rank, score and lex ranges all cost O(log n + reply).

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::listpack::{Listpack, Span};
use super::shard::{MemberNotes, Shard};
use super::value::{Value, WrongType};

/// The thresholds of the packed encoding (`zset-max-listpack-entries`,
/// `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZsetLimits {
    /// Most members a packed sorted set holds.
    pub max_packed_entries: usize,
    /// Longest member a packed sorted set holds.
    pub max_packed_value: usize,
}

impl Default for ZsetLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        ZsetLimits {
            max_packed_entries: 128,
            max_packed_value: 64,
        }
    }
}

/// The largest listpack, as Redis's `lpSafeToAdd` allows.
const MAX_PACKED_BYTES: usize = 1 << 30;

/// A member and its score.
pub type Scored<'a> = (&'a [u8], f64);

/// Whether `(score, member)` comes before `(other_score, other)` in a sorted set.
fn before(score: f64, member: &[u8], other_score: f64, other: &[u8]) -> bool {
    score < other_score || (score == other_score && member < other)
}

/// A sorted set value; see the module docs.
#[derive(Clone)]
pub enum SortedSet {
    /// Members and scores in order (`OBJECT ENCODING` says `listpack`).
    Packed(Listpack),
    /// A skiplist with a member index (`OBJECT ENCODING` says `skiplist`).
    Skiplist(Box<Skiplist>),
}

impl Default for SortedSet {
    fn default() -> Self {
        SortedSet::Packed(Listpack::default())
    }
}

impl std::fmt::Debug for SortedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self
            .iter()
            .map(|(member, score)| (member.escape_ascii(), score));
        f.debug_map().entries(entries).finish()
    }
}

impl PartialEq for SortedSet {
    /// Equal when they hold the same members with the same scores, whatever their encoding.
    fn eq(&self, other: &SortedSet) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(member, score)| other.score(member) == Some(score))
    }
}

impl Eq for SortedSet {}

impl SortedSet {
    /// A sorted set holding `entries` (later ones win over earlier ones of the same member),
    /// in the encoding Redis would pick for them.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = Scored<'a>>,
        limits: ZsetLimits,
    ) -> SortedSet {
        let mut set = SortedSet::default();
        for (member, score) in entries {
            set.insert(member, score, limits);
        }
        set
    }

    /// How many members it holds.
    pub fn len(&self) -> usize {
        match self {
            SortedSet::Packed(list) => list.len() / 2,
            SortedSet::Skiplist(list) => list.len,
        }
    }

    /// Whether it holds no member (a key never holds an empty sorted set).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            SortedSet::Packed(_) => "listpack",
            SortedSet::Skiplist(_) => "skiplist",
        }
    }

    /// Whether it is a skiplist (whose changes are journaled member by member).
    pub fn is_skiplist(&self) -> bool {
        matches!(self, SortedSet::Skiplist(_))
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            SortedSet::Packed(list) => packed_find(list, member).map(|(_, score)| score),
            SortedSet::Skiplist(list) => list.find(member).map(|node| list.node(node).score),
        }
    }

    /// Sets the score of `member`; its previous score, `None` when it is new. Converts to a
    /// skiplist first when the member is too long for the packed encoding, and after when
    /// there are too many members.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ZsetLimits) -> Option<f64> {
        if let SortedSet::Packed(list) = self {
            let too_long = member.len() > limits.max_packed_value
                || list.encoded_len() + member.len() + 16 > MAX_PACKED_BYTES;
            if too_long {
                self.convert();
            }
        }
        match self {
            SortedSet::Packed(list) => {
                let old = packed_remove(list, member);
                packed_insert(list, member, score);
                if list.len() / 2 > limits.max_packed_entries {
                    self.convert();
                }
                old
            }
            SortedSet::Skiplist(list) => list.insert(member, score),
        }
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SortedSet::Packed(list) => packed_remove(list, member).is_some(),
            SortedSet::Skiplist(list) => list.remove(member),
        }
    }

    /// The rank of `member` (its 0-based position, lowest score first).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_while(|s, m| before(s, m, score, member)))
    }

    /// How many members, from the lowest, satisfy `leading`; `leading` must hold for a
    /// prefix of the members and not after it (a bound of a score or lex range).
    pub fn count_while(&self, leading: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            SortedSet::Packed(list) => packed_entries(list)
                .take_while(|&(member, score)| leading(score, member))
                .count(),
            SortedSet::Skiplist(list) => list.count_while(leading),
        }
    }

    /// Every member with its score, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = Scored<'_>> {
        let (packed, skiplist) = match self {
            SortedSet::Packed(list) => (Some(packed_entries(list)), None),
            SortedSet::Skiplist(list) => (None, Some(list.iter_from(list.link(HEAD, 0).forward))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(skiplist.into_iter().flatten())
    }

    /// The members of ranks `start..end` (clamped to the set), lowest first.
    pub fn range(&self, start: usize, end: usize) -> Vec<Scored<'_>> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            SortedSet::Packed(list) => packed_entries(list).skip(start).take(end - start).collect(),
            SortedSet::Skiplist(list) => list.range(start, end),
        }
    }

    /// One step of ZSCAN from `cursor`: the next cursor (0 when done) and the members of
    /// this step. A packed set answers whole in one step, as Redis's listpacks do; a skiplist
    /// visits its nodes' places from `cursor` until `count` members are found or `10 ×
    /// count` places looked at. A node keeps its place while its member is in the set, so a
    /// member present for the whole scan is returned exactly once.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Scored<'_>>) {
        match self {
            SortedSet::Packed(list) => (0, packed_entries(list).collect()),
            SortedSet::Skiplist(list) => list.scan(cursor, count),
        }
    }

    /// Turns a packed set into a skiplist with the same members.
    fn convert(&mut self) {
        if let SortedSet::Packed(list) = self {
            let mut skiplist = Skiplist::new();
            for (member, score) in packed_entries(list) {
                skiplist.insert(member, score);
            }
            *self = SortedSet::Skiplist(Box::new(skiplist));
        }
    }
}

/// The members and scores of a packed set, in order.
fn packed_entries(list: &Listpack) -> impl Iterator<Item = Scored<'_>> {
    let mut spans = list.spans();
    std::iter::from_fn(move || {
        let member = spans.next()?;
        let score = spans.next()?;
        Some((list.get(member), decode_score(list.get(score))))
    })
}

fn decode_score(bytes: &[u8]) -> f64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(bytes);
    f64::from_le_bytes(raw)
}

/// Where `member` lies in a packed set (its span to the end of its score) and its score.
fn packed_find(list: &Listpack, member: &[u8]) -> Option<(Span, f64)> {
    let mut spans = list.spans();
    while let (Some(name), Some(score)) = (spans.next(), spans.next()) {
        if list.get(name) == member {
            let whole = Span {
                start: name.start,
                data: name.data,
                end: score.end,
            };
            return Some((whole, decode_score(list.get(score))));
        }
    }
    None
}

/// Removes `member` from a packed set; its score if it was there.
fn packed_remove(list: &mut Listpack, member: &[u8]) -> Option<f64> {
    let (span, score) = packed_find(list, member)?;
    list.splice(span.start..span.end, 2, &[]);
    Some(score)
}

/// Inserts a member known to be absent at its place in order. A packed set keeps no
/// negative zero, as Redis's listpack (which stores `-0` as the integer 0) does not.
fn packed_insert(list: &mut Listpack, member: &[u8], score: f64) {
    let score = if score == 0.0 { 0.0 } else { score };
    let mut spans = list.spans();
    let mut at = list.end();
    while let (Some(name), Some(held)) = (spans.next(), spans.next()) {
        if before(score, member, decode_score(list.get(held)), list.get(name)) {
            at = name.start;
            break;
        }
    }
    list.splice(at..at, 0, &[member, &score.to_le_bytes()]);
}

/// The most levels a skiplist node has (as Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_LEVEL: usize = 32;

/// No node.
const NIL: u32 = u32::MAX;

/// The header's place in [`Skiplist::nodes`]; members are at 1 and above.
const HEAD: u32 = 0;

/// One link of a node: the next node on this level and how many ranks it skips.
#[derive(Clone, Copy, Debug)]
struct Level {
    forward: u32,
    span: u32,
}

#[derive(Clone, Debug)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    /// The previous node on the lowest level ([`NIL`] for the first).
    backward: u32,
    levels: Box<[Level]>,
}

/// A sorted set that outgrew the packed encoding: William Pugh's skiplist with spans, as
/// Redis's `zskiplist` (O(log n) insert, remove, rank and find by rank), with its nodes in a
/// slab of places and a hash table from member to place.
#[derive(Clone)]
pub struct Skiplist {
    /// The header at [`HEAD`], then each member's node, or a free place.
    nodes: Vec<Option<Node>>,
    /// Free places, reused before the slab grows.
    free: Vec<u32>,
    tail: u32,
    /// Levels in use (at least 1).
    level: usize,
    len: usize,
    /// Places by the hash of their member.
    index: HashTable<u32>,
    hasher: RandomState,
    /// State of the level picker (xorshift64).
    random: u64,
}

impl Skiplist {
    fn new() -> Skiplist {
        let header = Node {
            member: Box::default(),
            score: 0.0,
            backward: NIL,
            levels: vec![
                Level {
                    forward: NIL,
                    span: 0
                };
                MAX_LEVEL
            ]
            .into_boxed_slice(),
        };
        let hasher = RandomState::default();
        Skiplist {
            nodes: vec![Some(header)],
            free: Vec::new(),
            tail: NIL,
            level: 1,
            len: 0,
            index: HashTable::new(),
            random: hasher.hash_one(0u64) | 1,
            hasher,
        }
    }

    fn node(&self, place: u32) -> &Node {
        self.nodes[place as usize]
            .as_ref()
            .expect("linked places hold a node")
    }

    fn node_mut(&mut self, place: u32) -> &mut Node {
        self.nodes[place as usize]
            .as_mut()
            .expect("linked places hold a node")
    }

    fn link(&self, place: u32, level: usize) -> Level {
        self.node(place).levels[level]
    }

    fn link_mut(&mut self, place: u32, level: usize) -> &mut Level {
        &mut self.node_mut(place).levels[level]
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(self.hasher.hash_one(member), |&place| {
                nodes[place as usize]
                    .as_ref()
                    .is_some_and(|node| *node.member == *member)
            })
            .copied()
    }

    /// A level for a new node: each level above the first with probability 1/4.
    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            if level >= MAX_LEVEL || self.random & 0xffff >= 0x4000 {
                return level;
            }
            level += 1;
        }
    }

    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Some(place) = self.find(member) {
            let old = self.node(place).score;
            if old.to_bits() != score.to_bits() {
                self.unlink(place);
                self.node_mut(place).score = score;
                self.relink(place);
            }
            return Some(old);
        }
        let levels = vec![
            Level {
                forward: NIL,
                span: 0
            };
            self.random_level()
        ];
        let node = Node {
            member: member.into(),
            score,
            backward: NIL,
            levels: levels.into_boxed_slice(),
        };
        let place = match self.free.pop() {
            Some(place) => {
                self.nodes[place as usize] = Some(node);
                place
            }
            None => {
                self.nodes.push(Some(node));
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 members")
            }
        };
        let Skiplist {
            nodes,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(hasher.hash_one(member), place, |&other| {
            let node = nodes[other as usize]
                .as_ref()
                .expect("indexed places hold a node");
            hasher.hash_one(&*node.member)
        });
        self.relink(place);
        None
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let Some(place) = self.find(member) else {
            return false;
        };
        self.unlink(place);
        let hash = self.hasher.hash_one(member);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == place) {
            entry.remove();
        }
        self.nodes[place as usize] = None;
        self.free.push(place);
        true
    }

    /// For each level in use, the last node before the node at `target` and its rank.
    fn predecessors(&self, target: u32) -> ([u32; MAX_LEVEL], [usize; MAX_LEVEL]) {
        let Node { score, member, .. } = self.node(target);
        let (score, member) = (*score, &**member);
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let link = self.link(x, i);
                if link.forward == NIL {
                    break;
                }
                let next = self.node(link.forward);
                if !before(next.score, &next.member, score, member) {
                    break;
                }
                rank[i] += link.span as usize;
                x = link.forward;
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Links the node at `place` (unlinked, its levels cleared) at its place in order.
    fn relink(&mut self, place: u32) {
        let height = self.node(place).levels.len();
        let (mut update, mut rank) = self.predecessors(place);
        if height > self.level {
            for i in self.level..height {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = height;
        }
        for i in 0..height {
            let before = self.link(update[i], i);
            let skipped = (rank[0] - rank[i]) as u32;
            *self.link_mut(place, i) = Level {
                forward: before.forward,
                span: before.span - skipped,
            };
            *self.link_mut(update[i], i) = Level {
                forward: place,
                span: skipped + 1,
            };
        }
        for (i, &x) in update.iter().enumerate().take(self.level).skip(height) {
            self.link_mut(x, i).span += 1;
        }
        let backward = if update[0] == HEAD { NIL } else { update[0] };
        self.node_mut(place).backward = backward;
        match self.link(place, 0).forward {
            NIL => self.tail = place,
            next => self.node_mut(next).backward = place,
        }
        self.len += 1;
    }

    /// Takes the node at `place` out of the order, leaving it in its place.
    fn unlink(&mut self, place: u32) {
        let (update, _) = self.predecessors(place);
        for (i, &x) in update.iter().enumerate().take(self.level) {
            let link = self.link(x, i);
            if link.forward == place {
                let removed = self.link(place, i);
                *self.link_mut(x, i) = Level {
                    forward: removed.forward,
                    span: link.span + removed.span - 1,
                };
            } else {
                self.link_mut(x, i).span -= 1;
            }
        }
        let backward = self.node(place).backward;
        match self.link(place, 0).forward {
            NIL => self.tail = backward,
            next => self.node_mut(next).backward = backward,
        }
        for level in self.node_mut(place).levels.iter_mut() {
            *level = Level {
                forward: NIL,
                span: 0,
            };
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    fn count_while(&self, leading: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let link = self.link(x, i);
                if link.forward == NIL {
                    break;
                }
                let next = self.node(link.forward);
                if !leading(next.score, &next.member) {
                    break;
                }
                rank += link.span as usize;
                x = link.forward;
            }
        }
        rank
    }

    /// The node of 1-based rank `rank` (which must be in the set).
    fn by_rank(&self, rank: usize) -> u32 {
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let link = self.link(x, i);
                if link.forward == NIL || traversed + link.span as usize > rank {
                    break;
                }
                traversed += link.span as usize;
                x = link.forward;
            }
            if traversed == rank {
                return x;
            }
        }
        x
    }

    fn range(&self, start: usize, end: usize) -> Vec<Scored<'_>> {
        self.iter_from(self.by_rank(start + 1))
            .take(end - start)
            .collect()
    }

    /// The members from the node at `place` on, in order.
    fn iter_from(&self, mut place: u32) -> impl Iterator<Item = Scored<'_>> {
        std::iter::from_fn(move || {
            if place == NIL {
                return None;
            }
            let node = self.node(place);
            place = node.levels[0].forward;
            Some((&*node.member, node.score))
        })
    }

    fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Scored<'_>>) {
        let mut place = usize::try_from(cursor).unwrap_or(usize::MAX).max(1);
        let mut found = Vec::new();
        let mut budget = count.saturating_mul(10);
        while place < self.nodes.len() && found.len() < count && budget > 0 {
            if let Some(node) = &self.nodes[place] {
                found.push((&*node.member, node.score));
            }
            place += 1;
            budget -= 1;
        }
        let next = if place >= self.nodes.len() {
            0
        } else {
            place as u64
        };
        (next, found)
    }
}

/// A sorted set being changed by a command: every change goes through it, so that the
/// journal hears of each member changed.
pub struct ZsetEdit<'a> {
    set: &'a mut SortedSet,
    notes: MemberNotes<'a>,
    limits: ZsetLimits,
}

impl<'a> ZsetEdit<'a> {
    /// Changes to a sorted set not stored yet: storing it (whole) is what the journal records.
    pub fn detached(set: &'a mut SortedSet, limits: ZsetLimits) -> Self {
        ZsetEdit {
            set,
            notes: MemberNotes::unlogged(),
            limits,
        }
    }

    /// The sorted set as it is now.
    pub fn set(&self) -> &SortedSet {
        self.set
    }

    /// Sets the score of `member`; its previous score, `None` when it is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        self.notes.note(member);
        self.set.insert(member, score, self.limits)
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let removed = self.set.remove(member);
        if removed {
            self.notes.note(member);
        }
        removed
    }
}

/// The live sorted set at `key`, to change it; `None` when there is no key, `WrongType` when
/// it holds something else.
pub fn edit<'a>(
    shard: &'a mut Shard,
    key: &'a [u8],
    now: u64,
    limits: ZsetLimits,
) -> Result<Option<ZsetEdit<'a>>, WrongType> {
    let Some((value, notes)) = shard.edit(key, now) else {
        return Ok(None);
    };
    match value {
        Value::SortedSet(set) => Ok(Some(ZsetEdit { set, notes, limits })),
        _ => Err(WrongType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: ZsetLimits = ZsetLimits {
        max_packed_entries: 4,
        max_packed_value: 8,
    };

    fn entries(set: &SortedSet) -> Vec<(String, f64)> {
        set.range(0, set.len())
            .into_iter()
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect()
    }

    #[test]
    fn packed_orders_by_score_then_member() {
        let mut set = SortedSet::default();
        assert_eq!(set.insert(b"b", 2.0, SMALL), None);
        assert_eq!(set.insert(b"a", 2.0, SMALL), None);
        assert_eq!(set.insert(b"c", 1.0, SMALL), None);
        assert_eq!(set.insert(b"c", 3.0, SMALL), Some(1.0));
        assert_eq!(set.encoding_name(), "listpack");
        assert_eq!(
            entries(&set),
            [("a".into(), 2.0), ("b".into(), 2.0), ("c".into(), 3.0)]
        );
        assert_eq!(set.rank(b"c"), Some(2));
        assert_eq!(set.rank(b"z"), None);
        assert!(set.remove(b"a"));
        assert!(!set.remove(b"a"));
        assert_eq!(set.len(), 2);
        assert_eq!(set.count_while(|s, _| s < 3.0), 1);
    }

    #[test]
    fn converts_past_either_limit_and_never_back() {
        let mut set = SortedSet::default();
        for (i, m) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            set.insert(*m, i as f64, SMALL);
        }
        assert_eq!(set.encoding_name(), "listpack", "4 members is the limit");
        set.insert(b"e", 9.0, SMALL);
        assert_eq!(set.encoding_name(), "skiplist");
        assert_eq!(entries(&set)[4], ("e".into(), 9.0));
        for m in [b"b", b"c", b"d", b"e"] {
            assert!(set.remove(m));
        }
        assert_eq!(set.encoding_name(), "skiplist");
        let mut long = SortedSet::default();
        long.insert(b"12345678", 1.0, SMALL);
        assert_eq!(long.encoding_name(), "listpack");
        long.insert(b"123456789", 1.0, SMALL);
        assert_eq!(long.encoding_name(), "skiplist");
    }

    /// A deterministic stand-in for random numbers.
    fn sequence() -> impl FnMut() -> u64 {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn a_skiplist_agrees_with_a_sorted_model_through_churn() {
        let mut next = sequence();
        let mut set = SortedSet::from_entries([(&b"x"[..], 0.0)], SMALL);
        set.insert(b"longer than eight", 0.0, SMALL);
        let mut model: std::collections::BTreeMap<Vec<u8>, f64> =
            [(b"x".to_vec(), 0.0), (b"longer than eight".to_vec(), 0.0)].into();
        for step in 0..5000 {
            let member = format!("m{}", next() % 700).into_bytes();
            match next() % 3 {
                0 => {
                    assert_eq!(set.remove(&member), model.remove(&member).is_some());
                }
                _ => {
                    let score = (next() % 50) as f64 / 2.0;
                    assert_eq!(
                        set.insert(&member, score, SMALL),
                        model.insert(member, score)
                    );
                }
            }
            if step % 500 == 0 || step == 4999 {
                let mut sorted: Vec<(&[u8], f64)> =
                    model.iter().map(|(m, &s)| (m.as_slice(), s)).collect();
                sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
                assert_eq!(set.len(), sorted.len());
                assert_eq!(set.range(0, set.len()), sorted);
                assert_eq!(set.iter().collect::<Vec<_>>(), sorted);
                for (rank, (member, _)) in sorted.iter().enumerate() {
                    assert_eq!(set.rank(member), Some(rank));
                }
                let mid = sorted.len() / 3;
                let end = (mid + 7).min(sorted.len());
                assert_eq!(set.range(mid, mid + 7), sorted[mid..end]);
                let below = sorted.iter().filter(|(_, s)| *s < 10.0).count();
                assert_eq!(set.count_while(|s, _| s < 10.0), below);
            }
        }
        let SortedSet::Skiplist(list) = &set else {
            panic!("a long member makes a skiplist");
        };
        let mut back = Vec::new();
        let mut x = list.tail;
        while x != NIL {
            back.push(&*list.node(x).member);
            x = list.node(x).backward;
        }
        back.reverse();
        let forward: Vec<&[u8]> = set.iter().map(|e| e.0).collect();
        assert_eq!(back, forward, "backward links mirror the forward ones");
    }

    #[test]
    fn a_skiplist_scan_returns_every_member_present_throughout_once() {
        let mut set = SortedSet::from_entries([(&b"long member name"[..], 1.0)], SMALL);
        for i in 0..1000u32 {
            set.insert(format!("keep{i}").as_bytes(), f64::from(i), SMALL);
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            let (next, found) = set.scan(cursor, 7);
            seen.extend(found.iter().map(|(m, _)| m.to_vec()));
            step += 1;
            set.remove(format!("new{}", step - 1).as_bytes());
            set.insert(format!("new{step}").as_bytes(), 5.0, SMALL);
            set.insert(format!("keep{step}").as_bytes(), -f64::from(step), SMALL);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let mut kept: Vec<Vec<u8>> = seen
            .into_iter()
            .filter(|m| m.starts_with(b"keep"))
            .collect();
        assert_eq!(kept.len(), 1000, "each member present throughout, once");
        kept.sort();
        kept.dedup();
        assert_eq!(kept.len(), 1000);
    }

    #[test]
    fn a_packed_set_keeps_no_negative_zero() {
        let mut set = SortedSet::default();
        set.insert(b"a", -0.0, SMALL);
        assert!(set.score(b"a").unwrap().is_sign_positive());
    }
}
