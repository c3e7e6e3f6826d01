//! Redis-style glob matching, as used by `KEYS`, `SCAN ... MATCH`, `PSUBSCRIBE` and `CONFIG GET`.
//!
//! The pattern language is Redis's `stringmatchlen`: `*` matches any run of bytes, `?` any one
//! byte, `[abc]` / `[^abc]` / `[a-z]` a byte from (or not from) a class, and `\x` the byte `x`
//! literally. Redis's quirks are kept on purpose, because clients and test suites see them:
//!
//! - a class that is never closed (`a[bc`) runs to the end of the pattern; an empty class (`[]`)
//!   matches nothing, and an empty negated class (`[^]`) matches any byte;
//! - inside a class, `\x` means `x` and is compared case-sensitively even in `nocase` mode, and a
//!   range may be written backwards (`[z-a]` is `[a-z]`);
//! - a `\` at the very end of a pattern (or a class) stands for itself;
//! - an empty text matches only an empty pattern, so `*` does not match `""`. Redis's `KEYS *` and
//!   `SCAN` treat a lone `*` as "everything" *before* matching, and callers here must do the same.
//!
//! Unlike Redis's recursive implementation, which needs a nesting limit and a "skip longer
//! matches" flag to stay out of exponential time, this matcher is iterative and remembers only
//! the most recent `*`: every other pattern element consumes exactly one byte, so a later star can
//! always absorb whatever an earlier one would have, and matching is `O(pattern × text)` at worst.

/// One element of a pattern, each consuming exactly one byte of text except [`Token::Star`].
enum Token {
    /// `*`: any run of bytes, possibly empty.
    Star,
    /// `?`: any single byte.
    Any,
    /// A literal byte (possibly written escaped).
    Byte(u8),
    /// `[...]`: the class body starts at this pattern offset.
    Class { body: usize, negated: bool },
}

/// Returns true when `text` matches the glob `pattern`; `nocase` folds ASCII case, as Redis does
/// for `CONFIG GET`. Semantics are Redis's `stringmatchlen` (see the module docs), without its
/// exponential worst case.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    if text.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut t) = (0, 0);
    // Pattern offset just after the last `*` seen, and the text offset it currently starts at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if t == text.len() {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            return p == pattern.len();
        }
        let step = if p < pattern.len() {
            let (token, next) = token_at(pattern, p);
            match token {
                Token::Star => {
                    let mut after = next;
                    while pattern.get(after) == Some(&b'*') {
                        after += 1;
                    }
                    if after == pattern.len() {
                        return true;
                    }
                    star = Some((after, t));
                    p = after;
                    continue;
                }
                Token::Any => Some(next),
                Token::Byte(b) => bytes_equal(b, text[t], nocase).then_some(next),
                Token::Class { body, negated } => {
                    (class_contains(pattern, body, text[t], nocase) != negated).then_some(next)
                }
            }
        } else {
            None
        };
        match step {
            Some(next) => {
                p = next;
                t += 1;
            }
            None => match star {
                // Let the last star swallow one more byte and retry; a star never needs to
                // swallow the final byte, since what follows it must match at least one.
                Some((after, start)) if start + 1 < text.len() => {
                    star = Some((after, start + 1));
                    p = after;
                    t = start + 1;
                }
                _ => return false,
            },
        }
    }
}

/// Decodes the pattern element at offset `p` (which must be in bounds) and returns it with the
/// offset of the element after it.
fn token_at(pattern: &[u8], p: usize) -> (Token, usize) {
    match pattern[p] {
        b'*' => (Token::Star, p + 1),
        b'?' => (Token::Any, p + 1),
        b'\\' if p + 1 < pattern.len() => (Token::Byte(pattern[p + 1]), p + 2),
        b'[' => {
            let negated = pattern.get(p + 1) == Some(&b'^');
            let body = if negated { p + 2 } else { p + 1 };
            (Token::Class { body, negated }, class_end(pattern, body))
        }
        b => (Token::Byte(b), p + 1),
    }
}

/// One item of a class body.
enum ClassItem {
    /// A single byte, and whether it was escaped (escaped bytes ignore `nocase`).
    Byte { byte: u8, escaped: bool },
    /// An inclusive range, in either order.
    Range(u8, u8),
}

/// Decodes the class item at `i`; `None` at the closing `]` or the end of the pattern. Also
/// returns the offset after the item.
fn class_item(pattern: &[u8], i: usize) -> Option<(ClassItem, usize)> {
    let &b = pattern.get(i)?;
    let rest = pattern.len() - i;
    if b == b'\\' && rest >= 2 {
        let byte = pattern[i + 1];
        Some((
            ClassItem::Byte {
                byte,
                escaped: true,
            },
            i + 2,
        ))
    } else if b == b']' {
        None
    } else if rest >= 3 && pattern[i + 1] == b'-' {
        Some((ClassItem::Range(b, pattern[i + 2]), i + 3))
    } else {
        Some((
            ClassItem::Byte {
                byte: b,
                escaped: false,
            },
            i + 1,
        ))
    }
}

/// Offset just past the class whose body starts at `body`: after its `]`, or the pattern's end
/// for a class that is never closed.
fn class_end(pattern: &[u8], body: usize) -> usize {
    let mut i = body;
    while let Some((_, next)) = class_item(pattern, i) {
        i = next;
    }
    (i + 1).min(pattern.len())
}

/// Whether byte `c` belongs to the class whose body starts at `body` (negation not applied).
fn class_contains(pattern: &[u8], body: usize, c: u8, nocase: bool) -> bool {
    let mut i = body;
    let mut found = false;
    while let Some((item, next)) = class_item(pattern, i) {
        found |= match item {
            ClassItem::Byte {
                byte,
                escaped: true,
            } => byte == c,
            ClassItem::Byte {
                byte,
                escaped: false,
            } => bytes_equal(byte, c, nocase),
            ClassItem::Range(a, b) => {
                let (lo, hi) = (a.min(b), a.max(b));
                if nocase {
                    let c = c.to_ascii_lowercase();
                    (lo.to_ascii_lowercase()..=hi.to_ascii_lowercase()).contains(&c)
                } else {
                    (lo..=hi).contains(&c)
                }
            }
        };
        i = next;
    }
    found
}

/// Byte equality, ASCII case folded when `nocase`.
fn bytes_equal(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;
    use std::time::{Duration, Instant};

    /// Keys stored in a real `redis-server` 7.0.15 to record the table below.
    #[rustfmt::skip]
    const KEYS: &[&str] = &[
        "", "a", "b", "ab", "abc", "aXc", "axc", "a*c", "a?c", "a[c", "a]c", "a\\c", "a-c", "a^c",
        "hello", "hallo", "hxllo", "hllo", "heeeello", "Hello", "HELLO", "^", "]", "-", "[", "\\",
        "aaaaaaaaab", "aaaaaaaaaa", "foo:bar:baz", "x", "zb", "[a", "abcx",
    ];

    /// `KEYS pattern` as answered by a real `redis-server` 7.0.15 over [`KEYS`]. For `*` the
    /// empty key is left out: Redis answers it through its match-all shortcut, not by matching.
    #[rustfmt::skip]
    const REDIS_KEYS: &[(&str, &[&str])] = &[
        (r"*", &["-", "HELLO", "Hello", "[", "[a", "\\", "]", "^", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc", "b", "foo:bar:baz", "hallo", "heeeello", "hello", "hllo", "hxllo", "x", "zb"]),
        (r"**", &["-", "HELLO", "Hello", "[", "[a", "\\", "]", "^", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc", "b", "foo:bar:baz", "hallo", "heeeello", "hello", "hllo", "hxllo", "x", "zb"]),
        (r"?", &["-", "[", "\\", "]", "^", "a", "b", "x"]),
        (r"??", &["[a", "ab", "zb"]),
        (r"a*", &["a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc"]),
        (r"*c", &["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "abc", "axc"]),
        (r"a?c", &["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "abc", "axc"]),
        (r"a[bX]c", &["aXc", "abc"]),
        (r"a[^b]c", &["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "axc"]),
        (r"a[a-c]c", &["abc"]),
        (r"a[c-a]c", &["abc"]),
        (r"h[ae]llo", &["hallo", "hello"]),
        (r"h[^e]llo", &["hallo", "hxllo"]),
        (r"h*llo", &["hallo", "heeeello", "hello", "hllo", "hxllo"]),
        (r"h?llo", &["hallo", "hello", "hxllo"]),
        (r"a\*c", &["a*c"]),
        (r"a\?c", &["a?c"]),
        (r"a\[c", &["a[c"]),
        (r"a[\]]c", &["a]c"]),
        (r"a[]]c", &[]),
        (r"a[c", &[]),
        (r"a[", &[]),
        (r"[", &[]),
        (r"[^", &["-", "[", "\\", "]", "^", "a", "b", "x"]),
        (r"a[-]c", &["a-c"]),
        (r"a[a-]c", &[]),
        (r"a[!b]c", &["abc"]),
        (r"\", &["\\"]),
        (r"a\", &[]),
        (r"a\\c", &["a\\c"]),
        (r"*a*a*a*a*a*a*a*b", &["aaaaaaaaab"]),
        (r"foo:*:baz", &["foo:bar:baz"]),
        (r"*:*", &["foo:bar:baz"]),
        (r"[a-z]", &["a", "b", "x"]),
        (r"[A-Z]*", &["HELLO", "Hello"]),
        (r"a[*]c", &["a*c"]),
        (r"a[?]c", &["a?c"]),
        (r"h[a-e]llo", &["hallo", "hello"]),
        (r"*[", &[]),
        (r"]", &["]"]),
        (r"^", &["^"]),
        (r"-", &["-"]),
        (r"[]]", &[]),
        (r"[]", &[]),
        (r"[]a]", &[]),
        (r"[^]]", &[]),
        (r"*\", &["\\"]),
        (r"[\", &["\\"]),
        (r"[a-", &["-", "a"]),
        (r"a[x", &[]),
        (r"[^a", &["-", "[", "\\", "]", "^", "b", "x"]),
        (r"a[^", &["ab"]),
        (r"*?", &["-", "HELLO", "Hello", "[", "[a", "\\", "]", "^", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc", "b", "foo:bar:baz", "hallo", "heeeello", "hello", "hllo", "hxllo", "x", "zb"]),
        (r"?*", &["-", "HELLO", "Hello", "[", "[a", "\\", "]", "^", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc", "b", "foo:bar:baz", "hallo", "heeeello", "hello", "hllo", "hxllo", "x", "zb"]),
        (r"a*?", &["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc"]),
        (r"*a*", &["[a", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "aaaaaaaaaa", "aaaaaaaaab", "ab", "abc", "abcx", "axc", "foo:bar:baz", "hallo"]),
        (r"[\a]", &["a"]),
        (r"a[X-]", &[]),
        (r"a[-X]c", &["a-c", "aXc"]),
        (r"a[\-]c", &["a-c"]),
        (r"*b", &["aaaaaaaaab", "ab", "b", "zb"]),
        (r"a**b", &["aaaaaaaaab", "ab"]),
        (r"h*l*o", &["hallo", "heeeello", "hello", "hllo", "hxllo"]),
        (r"HELLO", &["HELLO"]),
        (r"hel*", &["hello"]),
        (r"a[^]c", &["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "a^c", "abc", "axc"]),
        (r"a[^\]]c", &["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a^c", "abc", "axc"]),
        (r"a[\\-^]c", &["a-c", "a\\c", "a^c"]),
    ];

    #[test]
    fn matches_what_redis_keys_returns() {
        for &(pattern, expected) in REDIS_KEYS {
            for &key in KEYS {
                let want = expected.contains(&key);
                let got = glob_match(pattern.as_bytes(), key.as_bytes(), false);
                assert_eq!(got, want, "pattern {pattern:?} against key {key:?}");
            }
        }
    }

    #[test]
    fn empty_text_matches_only_empty_pattern() {
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"*", b"", false));
        assert!(!glob_match(b"", b"a", false));
    }

    /// Recorded with `CONFIG GET pattern` on a real `redis-server` 7.0.15 (case-insensitive).
    #[test]
    fn nocase_matches_what_redis_config_get_returns() {
        let cases: &[(&str, &str, bool)] = &[
            ("H?", "hz", true),
            ("[H]z", "hz", true),
            ("h[^Z]", "hz", false),
            ("[G-I]z", "hz", true),
            ("[g-i]Z", "hz", true),
            (r"h[\Z]", "hz", false),
            (r"h[\z]", "hz", true),
            ("[^a-z]z", "hz", false),
            ("*MAX*MEMORY", "maxmemory", true),
            ("*MAX*MEMORY", "replica-ignore-maxmemory", true),
            ("*MAX*MEMORY", "maxmemory-policy", false),
            ("P[O]RT", "port", true),
            ("*-MAX-ZIPLIST-*", "hash-max-ziplist-entries", true),
            ("*-MAX-ZIPLIST-*", "hash-max-listpack-entries", false),
        ];
        for &(pattern, name, want) in cases {
            let got = glob_match(pattern.as_bytes(), name.as_bytes(), true);
            assert_eq!(got, want, "pattern {pattern:?} against {name:?}");
        }
    }

    #[test]
    fn binary_bytes_match() {
        assert!(glob_match(b"\xff*\x00", b"\xff\x01\x02\x00", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
        assert!(!glob_match(b"[\x80-\xff]", b"\x7f", false));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let text = vec![b'a'; 20_000];
        let started = Instant::now();
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*b", &text, false));
        let stars = "*a".repeat(2_000) + "*b";
        assert!(!glob_match(stars.as_bytes(), &text[..5_000], false));
        let many = "*".repeat(100_000) + "a";
        assert!(glob_match(many.as_bytes(), &text, false));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
