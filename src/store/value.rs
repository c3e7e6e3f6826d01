//! What a key holds.

use bytes::Bytes;

use super::hash::Hash;
use super::list::List;

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
