//! Hash values: a listpack of fields and values while small, a table once they grow.
//!
//! A new hash is packed ([`Listpack`]: `field, value, field, value, ...` in one allocation,
//! found by a linear walk). It becomes a [`Table`] when it gets more fields than
//! `hash-max-listpack-entries` or a field or value longer than `hash-max-listpack-value`,
//! and never goes back, as in Redis. Both keep insertion order (a table reuses the places
//! of removed fields), which is the order HGETALL, HSCAN and HRANDFIELD show.
//!
//! A table holds each field with its value in one allocation, in a slab of places indexed
//! by a hash table of place numbers. Places never move while the hash lives, so an HSCAN
//! cursor (a place number) returns every field present for the whole iteration exactly
//! once, whatever is added and removed in between; the price is that the slab keeps the
//! length of the hash's peak size.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::listpack::{self, Listpack, Span};
use super::random_pick::{self, Positions as _};
use super::shard::{MemberNotes, Shard};
use super::value::{Value, WrongType};

/// The thresholds of the packed encoding (`hash-max-listpack-entries`,
/// `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    /// Most fields a packed hash holds.
    pub max_packed_entries: usize,
    /// Longest field or value a packed hash holds.
    pub max_packed_value: usize,
}

impl Default for HashLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        HashLimits {
            max_packed_entries: 512,
            max_packed_value: 64,
        }
    }
}

/// The largest listpack, as Redis's `lpSafeToAdd` allows: past it the hash becomes a table
/// whatever the limits say.
const MAX_PACKED_BYTES: usize = 1 << 30;

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// A hash value; see the module docs.
#[derive(Clone)]
pub enum Hash {
    /// Fields and values back to back (`OBJECT ENCODING` says `listpack`).
    Packed(Listpack),
    /// A table (`OBJECT ENCODING` says `hashtable`).
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Listpack::default())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs = self
            .iter()
            .map(|(field, value)| (field.escape_ascii(), value.escape_ascii()));
        f.debug_map().entries(pairs).finish()
    }
}

impl PartialEq for Hash {
    /// Equal when they hold the same fields with the same values, whatever their encoding
    /// and order.
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(field, value)| other.get(field) == Some(value))
    }
}

impl Eq for Hash {}

impl Hash {
    /// A hash holding `pairs` (later pairs win over earlier ones of the same field), in the
    /// encoding Redis would pick for them.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = Pair<'a>>, limits: HashLimits) -> Hash {
        let mut hash = Hash::default();
        for (field, value) in pairs {
            hash.insert(field, value, limits);
        }
        hash
    }

    /// How many fields it holds.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(list) => list.len() / 2,
            Hash::Table(table) => table.index.len(),
        }
    }

    /// Whether it holds no field (a key never holds an empty hash).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Whether it is a table (whose changes are journaled field by field).
    pub fn is_table(&self) -> bool {
        matches!(self, Hash::Table(_))
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(list) => packed_find(list, field).map(|(_, value)| list.get(value)),
            Hash::Table(table) => table.find(field).map(|place| table.pair(place).1),
        }
    }

    /// Fields and values, in the hash's order.
    pub fn iter(&self) -> impl Iterator<Item = Pair<'_>> {
        let (packed, table) = match self {
            Hash::Packed(list) => (Some(packed_pairs(list)), None),
            Hash::Table(table) => (None, Some(table.iter())),
        };
        packed
            .into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// Sets `field` to `value`; whether the field is new. Converts to a table first when the
    /// pair is too long for the packed encoding, and after when there are too many fields.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let Hash::Packed(list) = self {
            let too_long = field.len() > limits.max_packed_value
                || value.len() > limits.max_packed_value
                || list.encoded_len() + field.len() + value.len() > MAX_PACKED_BYTES;
            if too_long {
                self.convert();
            }
        }
        match self {
            Hash::Packed(list) => {
                let new = packed_insert(list, field, value);
                if list.len() / 2 > limits.max_packed_entries {
                    self.convert();
                }
                new
            }
            Hash::Table(table) => table.insert(field, value),
        }
    }

    /// Removes `field`; whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(list) => match packed_find(list, field) {
                Some((name, value)) => {
                    list.splice(name.start..value.end, 2, &[]);
                    true
                }
                None => false,
            },
            Hash::Table(table) => table.remove(field),
        }
    }

    /// One step of HSCAN from `cursor`: the next cursor (0 when done) and the pairs of this
    /// step. A packed hash answers whole in one step, as Redis's listpacks do; a table visits
    /// places from `cursor` until `count` pairs are found or `10 × count` places looked at.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Pair<'_>>) {
        match self {
            Hash::Packed(list) => (0, packed_pairs(list).collect()),
            Hash::Table(table) => table.scan(cursor, count),
        }
    }

    /// `count` pairs picked at random, independently of each other (the same pair may come
    /// several times). `below(n)` is a random number in `0..n`. An empty hash gives none.
    pub fn random_pairs(
        &self,
        count: usize,
        below: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Pair<'_>> {
        if self.is_empty() {
            return Vec::new();
        }
        let picker = Picker::new(self);
        (0..count)
            .map(|_| picker.pair(picker.pick(below)))
            .collect()
    }

    /// `count` different pairs picked at random, in the hash's order; all of them when
    /// `count` is at least the size.
    pub fn random_distinct_pairs(
        &self,
        count: usize,
        below: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Pair<'_>> {
        if count >= self.len() {
            return self.iter().collect();
        }
        let picker = Picker::new(self);
        random_pick::distinct(&picker, self.len(), count, below)
            .into_iter()
            .map(|position| picker.pair(position))
            .collect()
    }

    /// Turns a packed hash into a table with the same pairs in the same order.
    fn convert(&mut self) {
        if let Hash::Packed(list) = self {
            let mut table = Table::with_capacity(list.len() / 2);
            for (field, value) in packed_pairs(list) {
                table.insert(field, value);
            }
            *self = Hash::Table(Box::new(table));
        }
    }
}

/// The pairs of a packed hash.
fn packed_pairs(list: &Listpack) -> impl Iterator<Item = Pair<'_>> {
    let mut spans = list.spans();
    std::iter::from_fn(move || {
        let field = spans.next()?;
        let value = spans.next()?;
        Some((list.get(field), list.get(value)))
    })
}

/// Where `field` and its value lie in a packed hash.
fn packed_find(list: &Listpack, field: &[u8]) -> Option<(Span, Span)> {
    let mut spans = list.spans();
    while let (Some(name), Some(value)) = (spans.next(), spans.next()) {
        if list.get(name) == field {
            return Some((name, value));
        }
    }
    None
}

/// Sets `field` in a packed hash; whether it is new.
fn packed_insert(list: &mut Listpack, field: &[u8], value: &[u8]) -> bool {
    match packed_find(list, field) {
        Some((_, old)) => {
            list.splice(old.start..old.end, 1, &[value]);
            false
        }
        None => {
            let end = list.end();
            list.splice(end..end, 0, &[field, value]);
            true
        }
    }
}

/// A hash that outgrew the packed encoding; see the module docs.
#[derive(Clone)]
pub struct Table {
    /// Each field with its value (`LEB128 field length, field, value`), or a free place.
    places: Vec<Option<Box<[u8]>>>,
    /// Free places, reused before the slab grows. Entries may be stale (a place taken
    /// again since); [`Table::take_free`] skips those.
    free: Vec<u32>,
    /// Place numbers, by the hash of their field.
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

    /// The field and value at an occupied place.
    fn pair(&self, place: usize) -> Pair<'_> {
        split_pair(
            self.places[place]
                .as_deref()
                .expect("indexed places hold a pair"),
        )
    }

    fn find(&self, field: &[u8]) -> Option<usize> {
        let places = &self.places;
        self.index
            .find(self.hasher.hash_one(field), |&place| {
                places[place as usize]
                    .as_deref()
                    .is_some_and(|pair| split_pair(pair).0 == field)
            })
            .map(|&place| place as usize)
    }

    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Some(place) = self.find(field) {
            self.places[place] = Some(encode_pair(field, value));
            return false;
        }
        let place = self.take_free().unwrap_or_else(|| {
            self.places.push(None);
            (self.places.len() - 1) as u32
        });
        self.places[place as usize] = Some(encode_pair(field, value));
        let Table {
            places,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(hasher.hash_one(field), place, |&place| {
            let pair = places[place as usize]
                .as_deref()
                .expect("indexed places hold a pair");
            hasher.hash_one(split_pair(pair).0)
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

    fn remove(&mut self, field: &[u8]) -> bool {
        let places = &self.places;
        let found = self
            .index
            .find_entry(self.hasher.hash_one(field), |&place| {
                places[place as usize]
                    .as_deref()
                    .is_some_and(|pair| split_pair(pair).0 == field)
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

    fn iter(&self) -> impl Iterator<Item = Pair<'_>> {
        self.places.iter().flatten().map(|pair| split_pair(pair))
    }

    fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Pair<'_>>) {
        let mut place = usize::try_from(cursor).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let mut budget = count.saturating_mul(10);
        while place < self.places.len() && found.len() < count && budget > 0 {
            if let Some(pair) = &self.places[place] {
                found.push(split_pair(pair));
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

fn encode_pair(field: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut pair = Vec::with_capacity(listpack::encoded_len(field.len()) + value.len());
    listpack::push_varint(&mut pair, field.len());
    pair.extend_from_slice(field);
    pair.extend_from_slice(value);
    pair.into_boxed_slice()
}

fn split_pair(pair: &[u8]) -> Pair<'_> {
    let (len, at) = listpack::read_varint(pair, 0);
    pair[at..].split_at(len)
}

/// Random positions of a hash's pairs: places of a table that is at least half full
/// (a random place is a pair at least every other try), or else a list of every pair.
enum Picker<'a> {
    Places(&'a Table),
    Listed(Vec<Pair<'a>>),
}

impl<'a> Picker<'a> {
    fn new(hash: &'a Hash) -> Self {
        match hash {
            Hash::Table(table) if table.index.len() * 2 >= table.places.len() => {
                Picker::Places(table)
            }
            _ => Picker::Listed(hash.iter().collect()),
        }
    }

    fn pair(&self, position: usize) -> Pair<'a> {
        match self {
            Picker::Places(table) => table.pair(position),
            Picker::Listed(pairs) => pairs[position],
        }
    }
}

impl random_pick::Positions for Picker<'_> {
    fn pick(&self, below: &mut impl FnMut(usize) -> usize) -> usize {
        match self {
            Picker::Places(table) => loop {
                let place = below(table.places.len());
                if table.places[place].is_some() {
                    return place;
                }
            },
            Picker::Listed(pairs) => below(pairs.len()),
        }
    }

    fn live_positions(&self) -> Vec<usize> {
        match self {
            Picker::Places(table) => (0..table.places.len())
                .filter(|&place| table.places[place].is_some())
                .collect(),
            Picker::Listed(pairs) => (0..pairs.len()).collect(),
        }
    }
}

/// A hash being changed by a command: every change goes through it, so that the journal
/// hears of each field changed.
pub struct HashEdit<'a> {
    hash: &'a mut Hash,
    notes: MemberNotes<'a>,
    limits: HashLimits,
}

impl<'a> HashEdit<'a> {
    /// Changes to a hash not stored yet: storing it (whole) is what the journal records.
    pub fn detached(hash: &'a mut Hash, limits: HashLimits) -> Self {
        HashEdit {
            hash,
            notes: MemberNotes::unlogged(),
            limits,
        }
    }

    /// The hash as it is now.
    pub fn hash(&self) -> &Hash {
        self.hash
    }

    /// Sets `field` to `value`; whether the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.notes.note(field);
        self.hash.insert(field, value, self.limits)
    }

    /// Removes `field`; whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let removed = self.hash.remove(field);
        if removed {
            self.notes.note(field);
        }
        removed
    }
}

/// The live hash at `key`, to change it; `None` when there is no key, `WrongType` when it
/// holds something else.
pub fn edit<'a>(
    shard: &'a mut Shard,
    key: &'a [u8],
    now: u64,
    limits: HashLimits,
) -> Result<Option<HashEdit<'a>>, WrongType> {
    let Some((value, notes)) = shard.edit(key, now) else {
        return Ok(None);
    };
    match value {
        Value::Hash(hash) => Ok(Some(HashEdit {
            hash,
            notes,
            limits,
        })),
        _ => Err(WrongType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: HashLimits = HashLimits {
        max_packed_entries: 4,
        max_packed_value: 8,
    };

    fn pairs(hash: &Hash) -> Vec<(String, String)> {
        hash.iter()
            .map(|(f, v)| {
                (
                    String::from_utf8_lossy(f).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(f, v)| (f.to_string(), v.to_string()))
            .collect()
    }

    /// A counter-based stand-in for a random source: deterministic, covers every value.
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
    fn packed_keeps_insertion_order_and_updates_in_place() {
        let mut hash = Hash::default();
        assert!(hash.insert(b"a", b"1", SMALL));
        assert!(hash.insert(b"b", b"2", SMALL));
        assert!(!hash.insert(b"a", b"one", SMALL));
        assert_eq!(hash.encoding_name(), "listpack");
        assert_eq!(pairs(&hash), owned(&[("a", "one"), ("b", "2")]));
        assert_eq!(hash.get(b"b"), Some(&b"2"[..]));
        assert_eq!(hash.get(b"c"), None);
        assert!(hash.remove(b"a"));
        assert!(!hash.remove(b"a"));
        assert_eq!(pairs(&hash), owned(&[("b", "2")]));
        assert!(hash.insert(b"a", b"", SMALL));
        assert_eq!(pairs(&hash), owned(&[("b", "2"), ("a", "")]));
        assert_eq!(hash.len(), 2);
    }

    #[test]
    fn converts_past_either_limit_and_never_back() {
        let mut hash = Hash::from_pairs([(&b"a"[..], &b"1"[..]), (b"b", b"2")], SMALL);
        for field in [&b"c"[..], b"d"] {
            hash.insert(field, b"x", SMALL);
        }
        assert_eq!(hash.encoding_name(), "listpack", "4 fields is the limit");
        hash.insert(b"e", b"x", SMALL);
        assert_eq!(hash.encoding_name(), "hashtable");
        assert_eq!(
            pairs(&hash),
            owned(&[("a", "1"), ("b", "2"), ("c", "x"), ("d", "x"), ("e", "x")]),
            "conversion keeps the order"
        );
        for field in [&b"b"[..], b"c", b"d", b"e"] {
            assert!(hash.remove(field));
        }
        assert_eq!(hash.encoding_name(), "hashtable");

        let mut long = Hash::default();
        long.insert(b"f", b"12345678", SMALL);
        assert_eq!(long.encoding_name(), "listpack", "8 bytes is the limit");
        long.insert(b"g", b"123456789", SMALL);
        assert_eq!(long.encoding_name(), "hashtable");
        let mut long_field = Hash::default();
        long_field.insert(b"123456789", b"v", SMALL);
        assert_eq!(long_field.encoding_name(), "hashtable");
    }

    #[test]
    fn a_table_reuses_places_and_keeps_them_put() {
        let mut hash = Hash::from_pairs([(&b"x"[..], &b"123456789"[..])], SMALL);
        for i in 0..100u32 {
            hash.insert(i.to_string().as_bytes(), b"v", SMALL);
        }
        let Hash::Table(table) = &hash else {
            panic!("a long value makes a table")
        };
        assert_eq!(table.places.len(), 101);
        for i in (0..100u32).step_by(2) {
            assert!(hash.remove(i.to_string().as_bytes()));
        }
        for i in 100..150u32 {
            assert!(hash.insert(i.to_string().as_bytes(), b"w", SMALL));
        }
        let Hash::Table(table) = &hash else {
            panic!("still a table")
        };
        assert_eq!(table.places.len(), 101, "freed places are taken again");
        assert_eq!(hash.len(), 101);
        assert_eq!(hash.get(b"1"), Some(&b"v"[..]));
        assert_eq!(hash.get(b"2"), None);
        assert_eq!(hash.get(b"149"), Some(&b"w"[..]));
        assert_eq!(hash.iter().count(), 101);
    }

    #[test]
    fn scanning_a_table_returns_every_field_present_throughout_once() {
        let mut hash = Hash::from_pairs([(&b"x"[..], &b"123456789"[..])], SMALL);
        for i in 0..1000u32 {
            hash.insert(format!("keep{i}").as_bytes(), b"v", SMALL);
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            let (next, found) = hash.scan(cursor, 7);
            seen.extend(found.iter().map(|(f, _)| f.to_vec()));
            // Churn between steps: remove one field, add two.
            step += 1;
            hash.remove(format!("new{}", step - 1).as_bytes());
            hash.insert(format!("new{step}").as_bytes(), b"v", SMALL);
            hash.insert(format!("more{step}").as_bytes(), b"v", SMALL);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let kept: Vec<Vec<u8>> = seen
            .into_iter()
            .filter(|f| f.starts_with(b"keep"))
            .collect();
        assert_eq!(kept.len(), 1000, "each field present throughout, once");
        let mut unique = kept.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 1000);
    }

    #[test]
    fn a_packed_hash_scans_whole_in_one_step() {
        let hash = Hash::from_pairs([(&b"a"[..], &b"1"[..]), (b"b", b"2")], SMALL);
        let (next, found) = hash.scan(5, 1);
        assert_eq!(next, 0);
        assert_eq!(found, [(&b"a"[..], &b"1"[..]), (b"b", b"2")]);
    }

    #[test]
    fn random_picks_stay_inside_the_hash() {
        let mut below = sequence();
        let limits = HashLimits::default();
        let packed = Hash::from_pairs([(&b"a"[..], &b"1"[..]), (b"b", b"2"), (b"c", b"3")], limits);
        let picks = packed.random_pairs(50, &mut below);
        assert_eq!(picks.len(), 50);
        assert!(picks.iter().all(|(f, v)| packed.get(f) == Some(v)));
        assert!(picks.iter().any(|(f, _)| *f == b"a") && picks.iter().any(|(f, _)| *f == b"c"));
        assert!(Hash::default().random_pairs(3, &mut below).is_empty());

        let mut table = Hash::from_pairs([(&b"x"[..], &b"123456789"[..])], SMALL);
        for i in 0..40u32 {
            table.insert(i.to_string().as_bytes(), i.to_string().as_bytes(), SMALL);
        }
        for i in 0..30u32 {
            table.remove(i.to_string().as_bytes());
        }
        for count in [1, 3, 5, 10, 11, 50] {
            let distinct = table.random_distinct_pairs(count, &mut below);
            assert_eq!(distinct.len(), count.min(11), "count {count}");
            let mut fields: Vec<&[u8]> = distinct.iter().map(|(f, _)| *f).collect();
            assert!(distinct.iter().all(|(f, v)| table.get(f) == Some(v)));
            fields.dedup();
            assert_eq!(fields.len(), distinct.len(), "no repeats, in order");
        }
        assert_eq!(table.random_pairs(20, &mut below).len(), 20);
    }

    #[test]
    fn equality_ignores_encoding_and_order() {
        let packed = Hash::from_pairs([(&b"a"[..], &b"1"[..]), (b"b", b"2")], SMALL);
        let mut table = Hash::from_pairs([(&b"b"[..], &b"123456789"[..])], SMALL);
        table.insert(b"a", b"1", SMALL);
        assert_ne!(packed, table);
        table.insert(b"b", b"2", SMALL);
        assert_eq!(packed, table);
    }
}
