//! Set values: sorted integers while small and all integers, a listpack while small, a table
//! once grown.
//!
//! A set whose members are all integers (canonical `i64` text, as Redis's `string2ll` reads
//! it) is an [`IntSet`]: the integers sorted, in the narrowest of 16, 32 or 64 bits that
//! holds them all, found by binary search. It leaves that encoding for good when it gets more
//! members than `set-max-intset-entries` or a member that is not an integer. Then it is
//! packed ([`Listpack`], members in insertion order, found by a linear walk) while it has at
//! most `set-max-listpack-entries` members of at most `set-max-listpack-value` bytes, and a
//! [`Table`] after that, never going back, as in Redis 7.2.
//!
//! `OBJECT ENCODING` mirrors Redis 7.0, which has no listpack sets: a packed set reports
//! `hashtable`, like a table.
//!
//! A table holds each member in its own allocation, in a slab of places indexed by a hash
//! table of place numbers. Places never move while the set lives, so an SSCAN cursor (a
//! place number) returns every member present for the whole iteration exactly once.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::io::Write as _;

use bytes::Bytes;
use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::listpack::{Listpack, Span};
use super::random_pick::{self, Positions as _};
use super::shard::{MemberNotes, Shard};
use super::value::{Value, WrongType, parse_canonical_int};

/// The thresholds of the compact encodings (`set-max-intset-entries`,
/// `set-max-listpack-entries`, `set-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    /// Most members an integer set holds.
    pub max_intset_entries: usize,
    /// Most members a packed set holds.
    pub max_packed_entries: usize,
    /// Longest member a packed set holds.
    pub max_packed_value: usize,
}

impl Default for SetLimits {
    /// Redis 7.2's defaults.
    fn default() -> Self {
        SetLimits {
            max_intset_entries: 512,
            max_packed_entries: 128,
            max_packed_value: 64,
        }
    }
}

/// The largest listpack, as Redis's `lpSafeToAdd` allows.
const MAX_PACKED_BYTES: usize = 1 << 30;

/// One member as a set holds it: an integer of an [`IntSet`], or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    /// A member of an integer set, which stores no text.
    Int(i64),
    /// A member's bytes.
    Bytes(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes, owned (for a reply).
    pub fn to_bytes(self) -> Bytes {
        match self {
            Member::Int(n) => Bytes::from(n.to_string()),
            Member::Bytes(bytes) => Bytes::copy_from_slice(bytes),
        }
    }

    /// The member's bytes, borrowed where the set holds them.
    pub fn as_cow(self) -> Cow<'a, [u8]> {
        match self {
            Member::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            Member::Bytes(bytes) => Cow::Borrowed(bytes),
        }
    }

    /// Runs `f` on the member's bytes; an integer is written out on the stack.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => {
                let mut buf = [0u8; 20];
                let mut cursor = &mut buf[..];
                write!(cursor, "{n}").expect("an i64 takes at most 20 bytes");
                let written = 20 - cursor.len();
                f(&buf[..written])
            }
            Member::Bytes(bytes) => f(bytes),
        }
    }
}

/// A set value; see the module docs.
#[derive(Clone)]
pub enum Set {
    /// Sorted integers (`OBJECT ENCODING` says `intset`).
    Ints(IntSet),
    /// Members back to back (`OBJECT ENCODING` says `hashtable`, as Redis 7.0 would).
    Packed(Listpack),
    /// A table (`OBJECT ENCODING` says `hashtable`).
    Table(Box<Table>),
}

impl Default for Set {
    /// An empty set, integer-encoded until a member says otherwise.
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members = self.iter().map(|m| m.as_cow().escape_ascii().to_string());
        f.debug_set().entries(members).finish()
    }
}

impl PartialEq for Set {
    /// Equal when they hold the same members, whatever their encoding and order.
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|member| other.contains_member(member))
    }
}

impl Eq for Set {}

impl Set {
    /// A set holding `members`, in the encoding Redis would pick for them.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, limits: SetLimits) -> Set {
        let mut set = Set::default();
        for member in members {
            set.insert(member, limits);
        }
        set
    }

    /// How many members it holds.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(ints) => ints.len(),
            Set::Packed(list) => list.len(),
            Set::Table(table) => table.index.len(),
        }
    }

    /// Whether it holds no member (a key never holds an empty set).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports (Redis 7.0's: `intset` or `hashtable`).
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Packed(_) | Set::Table(_) => "hashtable",
        }
    }

    /// Whether it is a table (whose changes are journaled member by member).
    pub fn is_table(&self) -> bool {
        matches!(self, Set::Table(_))
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(ints) => parse_canonical_int(member).is_some_and(|n| ints.contains(n)),
            Set::Packed(list) => packed_find(list, member).is_some(),
            Set::Table(table) => table.find(member).is_some(),
        }
    }

    /// Whether `member` (perhaps of another set) is in this one.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (self, member) {
            (Set::Ints(ints), Member::Int(n)) => ints.contains(n),
            (_, member) => member.with_bytes(|bytes| self.contains(bytes)),
        }
    }

    /// The members, in the set's order (integers ascending, others as stored).
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> {
        let (ints, packed, table) = match self {
            Set::Ints(ints) => (Some(ints.iter().map(Member::Int)), None, None),
            Set::Packed(list) => (None, Some(list.iter().map(Member::Bytes)), None),
            Set::Table(table) => (None, None, Some(table.iter().map(Member::Bytes))),
        };
        ints.into_iter()
            .flatten()
            .chain(packed.into_iter().flatten())
            .chain(table.into_iter().flatten())
    }

    /// Adds `member`; whether it is new. Leaves the integer encoding for a member that is
    /// not an integer or one too many, the packed one for a member too long or too many.
    pub fn insert(&mut self, member: &[u8], limits: SetLimits) -> bool {
        if let Set::Ints(ints) = self {
            match parse_canonical_int(member) {
                Some(n) => {
                    let added = ints.insert(n);
                    if added && ints.len() > limits.max_intset_entries {
                        self.convert(0, 0, limits);
                    }
                    return added;
                }
                None => self.convert(1, member.len(), limits),
            }
        }
        if let Set::Packed(list) = self {
            if packed_find(list, member).is_some() {
                return false;
            }
            let fits = list.len() < limits.max_packed_entries
                && member.len() <= limits.max_packed_value
                && list.encoded_len() + member.len() <= MAX_PACKED_BYTES;
            if fits {
                let end = list.end();
                list.splice(end..end, 0, &[member]);
                return true;
            }
            self.convert(0, 0, limits);
        }
        match self {
            Set::Table(table) => table.insert(member),
            Set::Ints(_) | Set::Packed(_) => unreachable!("converted to a table above"),
        }
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(ints) => parse_canonical_int(member).is_some_and(|n| ints.remove(n)),
            Set::Packed(list) => match packed_find(list, member) {
                Some(span) => {
                    list.splice(span.start..span.end, 1, &[]);
                    true
                }
                None => false,
            },
            Set::Table(table) => table.remove(member),
        }
    }

    /// Leaves the integer encoding (for a set that is about to take `extra` more members,
    /// the longest `extra_len` bytes) or the packed one, for the next encoding that holds
    /// the members.
    fn convert(&mut self, extra: usize, extra_len: usize, limits: SetLimits) {
        let packs = match &*self {
            Set::Ints(ints) => {
                ints.len() + extra <= limits.max_packed_entries
                    && ints.longest_text().max(extra_len) <= limits.max_packed_value
            }
            Set::Packed(_) | Set::Table(_) => false,
        };
        let converted = if packs {
            let mut list = Listpack::default();
            for member in self.iter() {
                member.with_bytes(|bytes| {
                    let end = list.end();
                    list.splice(end..end, 0, &[bytes]);
                });
            }
            Set::Packed(list)
        } else {
            let mut table = Table::with_capacity(self.len() + extra);
            for member in self.iter() {
                member.with_bytes(|bytes| table.insert(bytes));
            }
            Set::Table(Box::new(table))
        };
        *self = converted;
    }

    /// One step of SSCAN from `cursor`: the next cursor (0 when done) and the members of
    /// this step. An integer or packed set answers whole in one step, as Redis's compact
    /// encodings do; a table visits places from `cursor` until `count` members are found or
    /// `10 × count` places looked at.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Member<'_>>) {
        match self {
            Set::Table(table) => table.scan(cursor, count),
            Set::Ints(_) | Set::Packed(_) => (0, self.iter().collect()),
        }
    }

    /// A member picked at random; `None` when empty. `below(n)` is a random number in
    /// `0..n`.
    pub fn random_member(&self, below: &mut impl FnMut(usize) -> usize) -> Option<Member<'_>> {
        self.random_members(1, below).pop()
    }

    /// `count` members picked at random, independently of each other (the same member may
    /// come several times). An empty set gives none.
    pub fn random_members(
        &self,
        count: usize,
        below: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Member<'_>> {
        if self.is_empty() {
            return Vec::new();
        }
        let picker = Picker::new(self);
        (0..count)
            .map(|_| picker.member(picker.pick(below)))
            .collect()
    }

    /// `count` different members picked at random, in the set's order; all of them when
    /// `count` is at least the size.
    pub fn random_distinct_members(
        &self,
        count: usize,
        below: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Member<'_>> {
        if count >= self.len() {
            return self.iter().collect();
        }
        let picker = Picker::new(self);
        random_pick::distinct(&picker, self.len(), count, below)
            .into_iter()
            .map(|position| picker.member(position))
            .collect()
    }
}

/// Where `member` lies in a packed set.
fn packed_find(list: &Listpack, member: &[u8]) -> Option<Span> {
    list.spans().find(|&span| list.get(span) == member)
}

/// Sorted distinct integers, each in the narrowest width that holds every one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntSet {
    /// Every member fits in 16 bits.
    I16(Vec<i16>),
    /// Every member fits in 32 bits, some need more than 16.
    I32(Vec<i32>),
    /// Some member needs 64 bits.
    I64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::I16(Vec::new())
    }
}

/// Where `n` is (`Ok`) or would go (`Err`) among sorted `values` of a narrower type.
fn search<T: Copy + Ord + TryFrom<i64>>(values: &[T], n: i64) -> Result<usize, usize> {
    match T::try_from(n) {
        Ok(n) => values.binary_search(&n),
        Err(_) if n < 0 => Err(0),
        Err(_) => Err(values.len()),
    }
}

fn insert_sorted<T: Copy + Ord + TryFrom<i64>>(values: &mut Vec<T>, n: i64) -> bool {
    match (search(values, n), T::try_from(n)) {
        (Err(at), Ok(n)) => {
            values.insert(at, n);
            true
        }
        _ => false,
    }
}

fn remove_sorted<T: Copy + Ord + TryFrom<i64>>(values: &mut Vec<T>, n: i64) -> bool {
    match search(values, n) {
        Ok(at) => {
            values.remove(at);
            true
        }
        Err(_) => false,
    }
}

impl IntSet {
    /// How many integers it holds.
    pub fn len(&self) -> usize {
        match self {
            IntSet::I16(v) => v.len(),
            IntSet::I32(v) => v.len(),
            IntSet::I64(v) => v.len(),
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer at `index` in ascending order.
    fn get(&self, index: usize) -> i64 {
        match self {
            IntSet::I16(v) => i64::from(v[index]),
            IntSet::I32(v) => i64::from(v[index]),
            IntSet::I64(v) => v[index],
        }
    }

    /// Whether `n` is in it.
    pub fn contains(&self, n: i64) -> bool {
        match self {
            IntSet::I16(v) => search(v, n).is_ok(),
            IntSet::I32(v) => search(v, n).is_ok(),
            IntSet::I64(v) => search(v, n).is_ok(),
        }
    }

    /// The integers, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|index| self.get(index))
    }

    /// Adds `n`, widening every integer first if `n` needs more bits; whether it is new.
    pub fn insert(&mut self, n: i64) -> bool {
        let needs_32 = i16::try_from(n).is_err();
        let needs_64 = i32::try_from(n).is_err();
        match self {
            IntSet::I16(v) if needs_64 => {
                *self = IntSet::I64(v.iter().map(|&x| x.into()).collect())
            }
            IntSet::I16(v) if needs_32 => {
                *self = IntSet::I32(v.iter().map(|&x| x.into()).collect())
            }
            IntSet::I32(v) if needs_64 => {
                *self = IntSet::I64(v.iter().map(|&x| x.into()).collect())
            }
            _ => {}
        }
        match self {
            IntSet::I16(v) => insert_sorted(v, n),
            IntSet::I32(v) => insert_sorted(v, n),
            IntSet::I64(v) => insert_sorted(v, n),
        }
    }

    /// Removes `n`; whether it was there. The width stays, as in Redis.
    pub fn remove(&mut self, n: i64) -> bool {
        match self {
            IntSet::I16(v) => remove_sorted(v, n),
            IntSet::I32(v) => remove_sorted(v, n),
            IntSet::I64(v) => remove_sorted(v, n),
        }
    }

    /// Bytes of the longest member's text (the smallest or the largest integer).
    fn longest_text(&self) -> usize {
        let text_len = |n: i64| Member::Int(n).with_bytes(<[u8]>::len);
        match self.len() {
            0 => 0,
            len => text_len(self.get(0)).max(text_len(self.get(len - 1))),
        }
    }
}

/// A set that outgrew the compact encodings; see the module docs.
#[derive(Clone)]
pub struct Table {
    /// Each member, or a free place.
    places: Vec<Option<Box<[u8]>>>,
    /// Free places, reused before the slab grows. Entries may be stale (a place taken
    /// again since); [`Table::take_free`] skips those.
    free: Vec<u32>,
    /// Place numbers, by the hash of their member.
    index: HashTable<u32>,
    hasher: RandomState,
}

impl Table {
    fn with_capacity(capacity: usize) -> Table {
        Table {
            places: Vec::with_capacity(capacity),
            free: Vec::new(),
            index: HashTable::with_capacity(capacity),
            hasher: RandomState::default(),
        }
    }

    /// The member at an occupied place.
    fn member(&self, place: usize) -> &[u8] {
        self.places[place]
            .as_deref()
            .expect("indexed places hold a member")
    }

    fn find(&self, member: &[u8]) -> Option<usize> {
        let places = &self.places;
        self.index
            .find(self.hasher.hash_one(member), |&place| {
                places[place as usize].as_deref() == Some(member)
            })
            .map(|&place| place as usize)
    }

    fn insert(&mut self, member: &[u8]) -> bool {
        if self.find(member).is_some() {
            return false;
        }
        let place = self.take_free().unwrap_or_else(|| {
            self.places.push(None);
            (self.places.len() - 1) as u32
        });
        self.places[place as usize] = Some(Box::from(member));
        let Table {
            places,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(hasher.hash_one(member), place, |&place| {
            let member = places[place as usize]
                .as_deref()
                .expect("indexed places hold a member");
            hasher.hash_one(member)
        });
        true
    }

    /// A free place, if there is one.
    fn take_free(&mut self) -> Option<u32> {
        while let Some(place) = self.free.pop() {
            if self.places.get(place as usize).is_some_and(Option::is_none) {
                return Some(place);
            }
        }
        None
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let places = &self.places;
        let found = self
            .index
            .find_entry(self.hasher.hash_one(member), |&place| {
                places[place as usize].as_deref() == Some(member)
            })
            .ok();
        let Some(entry) = found else {
            return false;
        };
        let (place, _) = entry.remove();
        self.places[place as usize] = None;
        self.free.push(place);
        true
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.places.iter().flatten().map(|member| &**member)
    }

    fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Member<'_>>) {
        let mut place = usize::try_from(cursor).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let mut budget = count.saturating_mul(10);
        while place < self.places.len() && found.len() < count && budget > 0 {
            if let Some(member) = &self.places[place] {
                found.push(Member::Bytes(member));
            }
            place += 1;
            budget -= 1;
        }
        let next = if place >= self.places.len() {
            0
        } else {
            place as u64
        };
        (next, found)
    }
}

/// Random positions of a set's members: indexes of an integer set, places of a table that
/// is at least half full (a random place is a member at least every other try), or else a
/// list of every member.
enum Picker<'a> {
    Ints(&'a IntSet),
    Places(&'a Table),
    Listed(Vec<Member<'a>>),
}

impl<'a> Picker<'a> {
    fn new(set: &'a Set) -> Self {
        match set {
            Set::Ints(ints) => Picker::Ints(ints),
            Set::Table(table) if table.index.len() * 2 >= table.places.len() => {
                Picker::Places(table)
            }
            _ => Picker::Listed(set.iter().collect()),
        }
    }

    fn member(&self, position: usize) -> Member<'a> {
        match self {
            Picker::Ints(ints) => Member::Int(ints.get(position)),
            Picker::Places(table) => Member::Bytes(table.member(position)),
            Picker::Listed(members) => members[position],
        }
    }
}

impl random_pick::Positions for Picker<'_> {
    fn pick(&self, below: &mut impl FnMut(usize) -> usize) -> usize {
        match self {
            Picker::Ints(ints) => below(ints.len()),
            Picker::Places(table) => loop {
                let place = below(table.places.len());
                if table.places[place].is_some() {
                    return place;
                }
            },
            Picker::Listed(members) => below(members.len()),
        }
    }

    fn live_positions(&self) -> Vec<usize> {
        match self {
            Picker::Ints(ints) => (0..ints.len()).collect(),
            Picker::Places(table) => (0..table.places.len())
                .filter(|&place| table.places[place].is_some())
                .collect(),
            Picker::Listed(members) => (0..members.len()).collect(),
        }
    }
}

/// A set being changed by a command: every change goes through it, so that the journal
/// and WATCH hear of each member added or removed (and of nothing when nothing changed).
pub struct SetEdit<'a> {
    set: &'a mut Set,
    notes: MemberNotes<'a>,
    limits: SetLimits,
}

impl<'a> SetEdit<'a> {
    /// Changes to a set not stored yet: storing it (whole) is what the journal records.
    pub fn detached(set: &'a mut Set, limits: SetLimits) -> Self {
        SetEdit {
            set,
            notes: MemberNotes::unlogged(),
            limits,
        }
    }

    /// The set as it is now.
    pub fn set(&self) -> &Set {
        self.set
    }

    /// Adds `member`; whether it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        let added = self.set.insert(member, self.limits);
        if added {
            self.notes.note(member);
        }
        added
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

/// The live set at `key`, to change it; `None` when there is no key, `WrongType` when it
/// holds something else.
pub fn edit<'a>(
    shard: &'a mut Shard,
    key: &'a [u8],
    now: u64,
    limits: SetLimits,
) -> Result<Option<SetEdit<'a>>, WrongType> {
    let Some((value, notes)) = shard.edit(key, now) else {
        return Ok(None);
    };
    match value {
        Value::Set(set) => Ok(Some(SetEdit { set, notes, limits })),
        _ => Err(WrongType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: SetLimits = SetLimits {
        max_intset_entries: 4,
        max_packed_entries: 6,
        max_packed_value: 8,
    };

    fn members(set: &Set) -> Vec<String> {
        set.iter()
            .map(|m| String::from_utf8_lossy(&m.as_cow()).into_owned())
            .collect()
    }

    fn from(list: &[&str], limits: SetLimits) -> Set {
        Set::from_members(list.iter().map(|m| m.as_bytes()), limits)
    }

    /// A deterministic stand-in for a random source that covers every value.
    fn sequence() -> impl FnMut(usize) -> usize {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        }
    }

    #[test]
    fn integers_stay_sorted_and_widen_as_needed() {
        let mut set = from(&["5", "-3", "300"], SetLimits::default());
        assert_eq!(set.encoding_name(), "intset");
        assert!(matches!(&set, Set::Ints(IntSet::I16(_))));
        assert!(!set.insert(b"5", SetLimits::default()));
        assert!(set.insert(b"70000", SetLimits::default()));
        assert!(matches!(&set, Set::Ints(IntSet::I32(_))));
        assert!(set.insert(b"-9223372036854775808", SetLimits::default()));
        assert!(matches!(&set, Set::Ints(IntSet::I64(_))));
        assert_eq!(
            members(&set),
            ["-9223372036854775808", "-3", "5", "300", "70000"]
        );
        assert!(set.contains(b"300") && !set.contains(b"0300") && !set.contains(b"x"));
        assert!(set.remove(b"-3") && !set.remove(b"-3") && !set.remove(b"nope"));
        assert!(set.contains_member(Member::Int(70000)));
        assert!(!set.contains_member(Member::Bytes(b"+5")));
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn non_canonical_integers_are_text() {
        for text in ["007", "-0", "+1", " 1", "9223372036854775808", "1.0"] {
            let set = from(&[text], SetLimits::default());
            assert_eq!(set.encoding_name(), "hashtable", "{text}");
            assert!(set.contains(text.as_bytes()));
        }
    }

    #[test]
    fn encodings_follow_the_limits_and_never_go_back() {
        let mut set = from(&["1", "2", "3", "4"], SMALL);
        assert!(matches!(set, Set::Ints(_)), "4 integers is the limit");
        set.insert(b"5", SMALL);
        assert!(matches!(set, Set::Packed(_)), "one too many: packed");
        assert_eq!(set.encoding_name(), "hashtable", "as Redis 7.0 says");
        set.insert(b"6", SMALL);
        set.insert(b"7", SMALL);
        assert!(
            matches!(set, Set::Table(_)),
            "7 members is past the packed limit"
        );
        for member in ["1", "2", "3", "4", "5", "6"] {
            set.remove(member.as_bytes());
        }
        assert!(matches!(set, Set::Table(_)));
        assert_eq!(members(&set), ["7"]);

        let mut text = from(&["1", "2"], SMALL);
        text.insert(b"a", SMALL);
        assert!(matches!(text, Set::Packed(_)));
        assert_eq!(members(&text), ["1", "2", "a"]);
        text.insert(b"123456789", SMALL);
        assert!(matches!(text, Set::Table(_)), "a member past 8 bytes");

        let long_ints = from(&["123456789", "1"], SMALL);
        let mut converted = long_ints.clone();
        converted.insert(b"x", SMALL);
        assert!(
            matches!(converted, Set::Table(_)),
            "an integer too long to pack"
        );
        assert_eq!(
            converted,
            from(&["x", "1", "123456789"], SetLimits::default())
        );
    }

    #[test]
    fn no_intset_entries_means_no_intset() {
        let limits = SetLimits {
            max_intset_entries: 0,
            ..SetLimits::default()
        };
        assert_eq!(from(&["1"], limits).encoding_name(), "hashtable");
    }

    #[test]
    fn a_table_reuses_places_and_scans_from_them() {
        let mut set = from(&["long member"], SMALL);
        for i in 0..100u32 {
            set.insert(i.to_string().as_bytes(), SMALL);
        }
        for i in (0..100u32).step_by(2) {
            assert!(set.remove(i.to_string().as_bytes()));
        }
        for i in 100..150u32 {
            assert!(set.insert(i.to_string().as_bytes(), SMALL));
        }
        let Set::Table(table) = &set else {
            panic!("a long member makes a table")
        };
        assert_eq!(table.places.len(), 101, "freed places are taken again");
        assert_eq!(set.len(), 101);
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let (next, found) = set.scan(cursor, 7);
            seen.extend(found.iter().map(|m| m.as_cow().into_owned()));
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 101);
        let compact = from(&["1", "2"], SMALL);
        let (next, all) = compact.scan(9, 1);
        assert_eq!((next, all.len()), (0, 2), "a compact set scans whole");
    }

    #[test]
    fn random_picks_stay_inside_the_set() {
        let mut below = sequence();
        for set in [
            from(&["1", "2", "3"], SMALL),
            from(&["a", "b", "c"], SMALL),
            from(&["a", "b", "c", "d", "e", "f", "g", "h"], SMALL),
        ] {
            let picks = set.random_members(60, &mut below);
            assert_eq!(picks.len(), 60);
            assert!(picks.iter().all(|&m| set.contains_member(m)));
            let reached: std::collections::BTreeSet<_> =
                picks.iter().map(|m| m.as_cow().into_owned()).collect();
            assert_eq!(reached.len(), set.len(), "60 picks reach every member");
            for count in [1, 2, set.len() - 1, set.len(), 50] {
                let distinct = set.random_distinct_members(count, &mut below);
                assert_eq!(distinct.len(), count.min(set.len()));
                let mut texts: Vec<_> = distinct.iter().map(|m| m.as_cow()).collect();
                texts.sort();
                texts.dedup();
                assert_eq!(texts.len(), distinct.len(), "no repeats");
            }
            assert!(set.random_member(&mut below).is_some());
        }
        assert!(Set::default().random_member(&mut below).is_none());
    }

    #[test]
    fn members_write_integers_as_text() {
        assert_eq!(
            Member::Int(i64::MIN).with_bytes(<[u8]>::to_vec),
            b"-9223372036854775808"
        );
        assert_eq!(Member::Int(0).to_bytes(), Bytes::from_static(b"0"));
        assert_eq!(Member::Bytes(b"x").as_cow(), Cow::Borrowed(&b"x"[..]));
    }
}
