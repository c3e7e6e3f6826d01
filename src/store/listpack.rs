//! A packed list of byte strings in one allocation: the compact encoding of small hashes
//! (and, as they arrive, of small sets and sorted sets), after Redis's listpack.
//!
//! ```text
//! var  count     LEB128: how many elements follow
//! var  element   LEB128 length, then the bytes   } count times, back to back
//! ```
//!
//! Lookups walk the elements from the start, which for the few dozen elements a listpack
//! holds is faster than hashing and costs no memory besides the lengths. Every change builds
//! the new bytes in place of the old (one reallocation), as Redis's listpack does.

use std::ops::Range;

/// Byte strings back to back behind one pointer; see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack(Box<[u8]>);

/// Where one element lies in the listpack's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Offset of its length prefix.
    pub start: usize,
    /// Offset of its first byte.
    pub data: usize,
    /// Offset just past it.
    pub end: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack(Box::new([0]))
    }
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|element| element.escape_ascii().to_string()),
            )
            .finish()
    }
}

impl Listpack {
    /// How many elements it holds.
    pub fn len(&self) -> usize {
        read_varint(&self.0, 0).0
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the encoding (what the allocation holds).
    pub fn encoded_len(&self) -> usize {
        self.0.len()
    }

    /// Offset just past the last element, where an append goes.
    pub fn end(&self) -> usize {
        self.0.len()
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans().map(|span| self.get(span))
    }

    /// Where each element lies, in order.
    pub fn spans(&self) -> Spans<'_> {
        let (count, at) = read_varint(&self.0, 0);
        Spans {
            bytes: &self.0,
            at,
            left: count,
        }
    }

    /// The bytes of the element at `span`.
    pub fn get(&self, span: Span) -> &[u8] {
        &self.0[span.data..span.end]
    }

    /// Replaces the bytes in `range` (whole elements, as [`Listpack::spans`] gives them, or
    /// an empty range at an element boundary) with `elements`, encoded, and adjusts the count:
    /// `removed` is how many elements `range` held.
    pub fn splice(&mut self, range: Range<usize>, removed: usize, elements: &[&[u8]]) {
        let count = self.len() - removed + elements.len();
        let (_, header) = read_varint(&self.0, 0);
        let added: usize = elements.iter().map(|e| encoded_len(e.len())).sum();
        let mut bytes = Vec::with_capacity(self.0.len() - range.len() + added + 1);
        push_varint(&mut bytes, count);
        bytes.extend_from_slice(&self.0[header..range.start]);
        for element in elements {
            push_varint(&mut bytes, element.len());
            bytes.extend_from_slice(element);
        }
        bytes.extend_from_slice(&self.0[range.end..]);
        self.0 = bytes.into_boxed_slice();
    }
}

/// The spans of a listpack's elements, in order.
pub struct Spans<'a> {
    bytes: &'a [u8],
    at: usize,
    left: usize,
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.at;
        let (len, data) = read_varint(self.bytes, start);
        self.at = data + len;
        Some(Span {
            start,
            data,
            end: self.at,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Bytes an element of `len` bytes takes, prefix included.
pub fn encoded_len(len: usize) -> usize {
    varint_len(len) + len
}

/// Bytes the LEB128 encoding of `n` takes.
pub(super) fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Appends the LEB128 encoding of `n`.
pub(super) fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The LEB128 number at `at` and the offset after it. Packed bytes are only built by the
/// store, so the encoding is trusted.
pub(super) fn read_varint(bytes: &[u8], mut at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let byte = bytes[at];
        at += 1;
        n |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (n, at);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(list: &Listpack) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn appends_replaces_and_removes_whole_elements() {
        let mut list = Listpack::default();
        assert!(list.is_empty());
        list.splice(list.end()..list.end(), 0, &[b"a", b"", b"ccc"]);
        assert_eq!(elements(&list), [&b"a"[..], b"", b"ccc"]);
        assert_eq!(list.encoded_len(), 1 + 2 + 1 + 4);
        let spans: Vec<Span> = list.spans().collect();
        list.splice(spans[1].start..spans[1].end, 1, &[b"bb"]);
        assert_eq!(elements(&list), [&b"a"[..], b"bb", b"ccc"]);
        let spans: Vec<Span> = list.spans().collect();
        list.splice(spans[0].start..spans[1].end, 2, &[]);
        assert_eq!(elements(&list), [b"ccc"]);
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn long_elements_and_counts_take_longer_prefixes() {
        let mut list = Listpack::default();
        let long = vec![7u8; 300];
        for _ in 0..130 {
            list.splice(list.end()..list.end(), 0, &[&long]);
        }
        assert_eq!(list.len(), 130);
        assert_eq!(list.encoded_len(), 2 + 130 * (2 + 300));
        assert!(list.iter().all(|element| element == long.as_slice()));
        let last = list.spans().last().expect("130 elements");
        assert_eq!(list.get(last), long.as_slice());
        list.splice(last.start..last.end, 1, &[]);
        assert_eq!(list.len(), 129);
        assert_eq!(list.encoded_len(), 2 + 129 * 302);
    }
}
