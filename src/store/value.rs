//! What a key holds.

use bytes::Bytes;

use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::SortedSet;

/// The value stored under a key: one variant per data family (sets, lists and sorted sets
/// join as their commands land), so `TYPE` and `WRONGTYPE` checks stay in one place. Each
/// family's structure lives in its own module (`hash.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string (also holds integers and floats in text form, as Redis does),
    /// with how it was written.
    Str(Bytes, StringOrigin),
    /// A hash: fields and their values.
    Hash(Hash),
    /// A set of distinct members.
    Set(Set),
    /// A sorted set: members ordered by score.
    SortedSet(SortedSet),
    /// A list: elements in order, at logical indices.
    List(List),
}

/// A command met a key holding another type than the one it works on (`WRONGTYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

/// How a string was last written, which decides the encoding `OBJECT ENCODING` reports the
/// way Redis's does: SET and INCR try the integer form, INCRBYFLOAT never does, APPEND and
/// SETRANGE always leave a raw string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringOrigin {
    /// Written whole (SET, INCR, ...): `int`, `embstr` or `raw` by content.
    Whole,
    /// Written as a float (INCRBYFLOAT): `embstr` or `raw` by length.
    Float,
    /// Modified in place (APPEND, SETRANGE): always `raw`.
    Modified,
}

impl Value {
    /// A string value written whole.
    pub fn string(data: Bytes) -> Value {
        Value::Str(data, StringOrigin::Whole)
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(..) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::SortedSet(_) => "zset",
            Value::List(_) => "list",
        }
    }

    /// The string held, or `WrongType`.
    pub fn as_string(&self) -> Result<&Bytes, WrongType> {
        match self {
            Value::Str(data, _) => Ok(data),
            _ => Err(WrongType),
        }
    }

    /// The hash held, or `WrongType`.
    pub fn as_hash(&self) -> Result<&Hash, WrongType> {
        match self {
            Value::Hash(hash) => Ok(hash),
            _ => Err(WrongType),
        }
    }

    /// The set held, or `WrongType`.
    pub fn as_set(&self) -> Result<&Set, WrongType> {
        match self {
            Value::Set(set) => Ok(set),
            _ => Err(WrongType),
        }
    }

    /// Whether it is a collection without members, which a key never holds.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(..) => false,
            Value::Hash(hash) => hash.is_empty(),
            Value::Set(set) => set.is_empty(),
            Value::SortedSet(set) => set.is_empty(),
            Value::List(list) => list.is_empty(),
        }
    }

    /// The sorted set held, or `WrongType`.
    pub fn as_sorted_set(&self) -> Result<&SortedSet, WrongType> {
        match self {
            Value::SortedSet(set) => Ok(set),
            _ => Err(WrongType),
        }
    }

    /// The list held, or `WrongType`.
    pub fn as_list(&self) -> Result<&List, WrongType> {
        match self {
            Value::List(list) => Ok(list),
            _ => Err(WrongType),
        }
    }

    /// Roughly how many bytes the value occupies, with the entry around it: what evicting
    /// it frees (for `maxmemory`).
    pub fn approximate_size(&self) -> usize {
        const ENTRY_OVERHEAD: usize = 96;
        match self {
            Value::Str(data, _) => ENTRY_OVERHEAD + data.len(),
            Value::Hash(hash) => {
                const PER_FIELD: usize = 16;
                let data: usize = hash
                    .iter()
                    .map(|(field, value)| PER_FIELD + field.len() + value.len())
                    .sum();
                ENTRY_OVERHEAD + data
            }
            Value::Set(set) => {
                const PER_MEMBER: usize = 16;
                let data: usize = match set {
                    Set::Ints(ints) => 8 * ints.len(),
                    _ => set
                        .iter()
                        .map(|member| PER_MEMBER + member.with_bytes(<[u8]>::len))
                        .sum(),
                };
                ENTRY_OVERHEAD + data
            }
            Value::SortedSet(set) => {
                // A skiplist node, its links and its index slot; a packed member's score
                // and prefixes.
                let per_member = if set.is_skiplist() { 80 } else { 10 };
                let data: usize = set
                    .iter()
                    .map(|(member, _)| per_member + member.len())
                    .sum();
                ENTRY_OVERHEAD + data
            }
            Value::List(list) => ENTRY_OVERHEAD + list.allocated_bytes(),
        }
    }

    /// The name `OBJECT ENCODING` reports, mirroring Redis's choices for the same content.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(_, StringOrigin::Modified) => "raw",
            Value::Str(data, StringOrigin::Whole) if parse_canonical_int(data).is_some() => "int",
            Value::Str(data, _) if data.len() <= 44 => "embstr",
            Value::Str(..) => "raw",
            Value::Hash(hash) => hash.encoding_name(),
            Value::Set(set) => set.encoding_name(),
            Value::SortedSet(set) => set.encoding_name(),
            // Redis 7.0 reports every list so; 7.2 says `listpack` for small ones.
            Value::List(_) => "quicklist",
        }
    }
}

/// Parses a string that is exactly the canonical decimal form of an i64 (no `+`, no leading
/// zeros, no spaces), which is what Redis accepts as an integer value.
pub fn parse_canonical_int(data: &[u8]) -> Option<i64> {
    if data.is_empty() || data.len() > 20 {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let value: i64 = text.parse().ok()?;
    let canonical = match data {
        [b'0'] => true,
        [b'-', b'0', ..] | [b'0', ..] | [b'+', ..] => false,
        _ => true,
    };
    canonical.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers_only() {
        assert_eq!(parse_canonical_int(b"42"), Some(42));
        assert_eq!(parse_canonical_int(b"-7"), Some(-7));
        assert_eq!(parse_canonical_int(b"0"), Some(0));
        assert_eq!(parse_canonical_int(b"007"), None);
        assert_eq!(parse_canonical_int(b"+1"), None);
        assert_eq!(parse_canonical_int(b"-0"), None);
        assert_eq!(parse_canonical_int(b" 1"), None);
        assert_eq!(parse_canonical_int(b"9223372036854775808"), None);
    }

    #[test]
    fn a_sorted_set_reports_its_type_encoding_and_size() {
        use crate::store::zset::{SortedSet, ZsetLimits};
        let limits = ZsetLimits::default();
        let small = SortedSet::from_entries([(&b"a"[..], 1.0), (b"b", 2.0)], limits);
        let value = Value::SortedSet(small);
        assert_eq!(value.type_name(), "zset");
        assert_eq!(value.encoding_name(), "listpack");
        assert!(value.as_hash().is_err() && value.as_string().is_err());
        let members: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_string().into_bytes()).collect();
        let large = SortedSet::from_entries(members.iter().map(|m| (&m[..], 0.0)), limits);
        let large = Value::SortedSet(large);
        assert_eq!(large.encoding_name(), "skiplist");
        assert!(
            large.approximate_size() > 200 * 80,
            "{}",
            large.approximate_size()
        );
        assert!(value.approximate_size() < large.approximate_size());
    }

    #[test]
    fn encodings_follow_redis() {
        let int = Bytes::from_static(b"123");
        assert_eq!(Value::string(int.clone()).encoding_name(), "int");
        assert_eq!(
            Value::Str(int.clone(), StringOrigin::Float).encoding_name(),
            "embstr"
        );
        assert_eq!(
            Value::Str(int, StringOrigin::Modified).encoding_name(),
            "raw"
        );
        assert_eq!(
            Value::string(Bytes::from_static(b"abc")).encoding_name(),
            "embstr"
        );
        assert_eq!(
            Value::string(Bytes::from(vec![b'x'; 45])).encoding_name(),
            "raw"
        );
    }
}
