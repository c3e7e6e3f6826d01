//! The `notify-keyspace-events` setting: which keyspace notifications the server publishes.
//!
//! The value is a string of class letters, as in Redis: `K` (publish on `__keyspace@DB__:key`),
//! `E` (publish on `__keyevent@DB__:event`), and the event classes `g` generic, `$` string, `l`
//! list, `s` set, `h` hash, `z` sorted set, `x` expired, `e` evicted, `t` stream, `m` key miss,
//! `d` module, `n` new key; `A` is short for `g$lshzxetd`. Nothing is published unless `K` or
//! `E` is given as well as at least one class. The parsed form is a `u32` bitset so the server
//! can keep it in an atomic and test it on every write without a lock.

use std::fmt;

/// A family of keyspace events, each switched on by one class letter of `notify-keyspace-events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventClass {
    /// `g`: type-independent commands (DEL, EXPIRE, RENAME, ...).
    Generic,
    /// `$`: string commands.
    String,
    /// `l`: list commands.
    List,
    /// `s`: set commands.
    Set,
    /// `h`: hash commands.
    Hash,
    /// `z`: sorted-set commands.
    Zset,
    /// `x`: a key expired.
    Expired,
    /// `e`: a key was evicted for `maxmemory`.
    Evicted,
    /// `t`: stream commands.
    Stream,
    /// `m`: a read found no key (not part of `A`).
    KeyMiss,
    /// `n`: a new key was created (not part of `A`).
    New,
}

const KEYSPACE: u32 = 1 << 0;
const KEYEVENT: u32 = 1 << 1;
const GENERIC: u32 = 1 << 2;
const STRING: u32 = 1 << 3;
const LIST: u32 = 1 << 4;
const SET: u32 = 1 << 5;
const HASH: u32 = 1 << 6;
const ZSET: u32 = 1 << 7;
const EXPIRED: u32 = 1 << 8;
const EVICTED: u32 = 1 << 9;
const STREAM: u32 = 1 << 10;
const KEY_MISS: u32 = 1 << 11;
const MODULE: u32 = 1 << 12;
const NEW: u32 = 1 << 13;

/// What `A` stands for: every class but key-miss and new-key events.
const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
/// Every bit that means something.
const VALID: u32 = ALL | KEYSPACE | KEYEVENT | KEY_MISS | NEW;

/// Class letters in the order Redis writes them when `A` does not cover them all.
const CLASS_LETTERS: [(char, u32); 11] = [
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
    ('n', NEW),
];

/// The parsed `notify-keyspace-events` value: a copyable bitset of the letters given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NotifyFlags(u32);

impl NotifyFlags {
    /// Parses a class string as Redis's `keyspaceEventsStringToFlags` does: letters in any order,
    /// repeats allowed, `""` means off; `None` when any character is not a class letter.
    pub fn parse(s: &str) -> Option<NotifyFlags> {
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                'A' => ALL,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                'm' => KEY_MISS,
                other => CLASS_LETTERS
                    .iter()
                    .find(|(letter, _)| *letter == other)
                    .map(|&(_, bit)| bit)?,
            };
        }
        Some(NotifyFlags(bits))
    }

    /// True when events go to `__keyspace@DB__:key` channels (`K`).
    pub fn keyspace(&self) -> bool {
        self.0 & KEYSPACE != 0
    }

    /// True when events go to `__keyevent@DB__:event` channels (`E`).
    pub fn keyevent(&self) -> bool {
        self.0 & KEYEVENT != 0
    }

    /// True when an event of `class` is to be published at all: its class is on and so is `K`
    /// or `E`. Callers test this first so a disabled event costs one load and one branch.
    pub fn wants(&self, class: EventClass) -> bool {
        self.0 & class_bit(class) != 0 && self.0 & (KEYSPACE | KEYEVENT) != 0
    }

    /// The raw bitset, for keeping the setting in an `AtomicU32`.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Rebuilds the flags from [`NotifyFlags::bits`]; unknown bits are dropped.
    pub fn from_bits(bits: u32) -> Self {
        NotifyFlags(bits & VALID)
    }
}

/// The bit that switches `class` on.
fn class_bit(class: EventClass) -> u32 {
    match class {
        EventClass::Generic => GENERIC,
        EventClass::String => STRING,
        EventClass::List => LIST,
        EventClass::Set => SET,
        EventClass::Hash => HASH,
        EventClass::Zset => ZSET,
        EventClass::Expired => EXPIRED,
        EventClass::Evicted => EVICTED,
        EventClass::Stream => STREAM,
        EventClass::KeyMiss => KEY_MISS,
        EventClass::New => NEW,
    }
}

/// The canonical string, as Redis's `CONFIG GET notify-keyspace-events` prints it: `A` when all
/// of its classes are on (else the class letters in `g$lshzxetdn` order), then `K`, `E`, `m`.
/// One deliberate difference: Redis drops `n` when it prints `A` (so `An` reads back as `A`);
/// this writes `An`, so the string always parses back to the same flags.
impl fmt::Display for NotifyFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.0;
        let mut out = String::with_capacity(16);
        if bits & ALL == ALL {
            out.push('A');
            if bits & NEW != 0 {
                out.push('n');
            }
        } else {
            out.extend(
                CLASS_LETTERS
                    .iter()
                    .filter(|&&(_, bit)| bits & bit != 0)
                    .map(|&(letter, _)| letter),
            );
        }
        for (letter, bit) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
            if bits & bit != 0 {
                out.push(letter);
            }
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::{EventClass, NotifyFlags};

    fn parsed(s: &str) -> NotifyFlags {
        NotifyFlags::parse(s).unwrap_or_else(|| panic!("{s:?} should parse"))
    }

    fn canonical(s: &str) -> String {
        parsed(s).to_string()
    }

    /// Recorded with `CONFIG SET notify-keyspace-events` + `CONFIG GET` on redis-server 7.0.15.
    #[test]
    fn display_matches_redis_config_get() {
        let cases = [
            ("KEA", "AKE"),
            ("Am", "Am"),
            ("gK", "gK"),
            ("E", "E"),
            ("g$lshzxetd", "A"),
            ("g$lshzxet", "g$lshzxet"),
            ("AA", "A"),
            ("", ""),
            ("x", "x"),
            ("d", "d"),
            ("n", "n"),
            ("Kn", "nK"),
            ("KEn", "nKE"),
            ("mn", "nm"),
            ("Kd", "dK"),
            ("Kg$", "g$K"),
            ("Ezl", "lzE"),
            ("gn", "gn"),
            ("dnt", "tdn"),
            ("mEgn", "gnEm"),
        ];
        for (set, get) in cases {
            assert_eq!(canonical(set), get, "after setting {set:?}");
        }
    }

    #[test]
    fn all_with_new_keeps_new_unlike_redis() {
        assert_eq!(canonical("nmEKdtexzhsl$g"), "AnKEm");
        assert_eq!(canonical("An"), "An");
    }

    #[test]
    fn unknown_characters_are_rejected() {
        for bad in ["Q", "KEAq", "a", "k", " ", "K E", "é"] {
            assert_eq!(NotifyFlags::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_string_round_trips_through_display_and_bits() {
        let letters: Vec<char> = "Ag$lshzxeKEtmdn".chars().collect();
        // Every subset of the letters: the canonical form parses back to the same flags.
        for mask in 0u32..(1 << letters.len()) {
            let s: String = letters
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect();
            let flags = NotifyFlags::parse(&s);
            let reparsed = flags.and_then(|f| NotifyFlags::parse(&f.to_string()));
            assert_eq!(reparsed, flags, "{s:?}");
            let via_bits = flags.map(|f| NotifyFlags::from_bits(f.bits()));
            assert_eq!(via_bits, flags, "{s:?}");
        }
        assert_eq!(NotifyFlags::from_bits(u32::MAX), parsed("AKEmn"));
    }

    #[test]
    fn wants_needs_a_class_and_a_channel_kind() {
        let only_classes = parsed("A");
        assert!(!only_classes.wants(EventClass::Generic));
        let ke = parsed("Kx");
        assert!(ke.keyspace() && !ke.keyevent());
        assert!(ke.wants(EventClass::Expired));
        assert!(!ke.wants(EventClass::Generic));
        let all = parsed("EA");
        assert!(all.keyevent() && !all.keyspace());
        for class in [
            EventClass::Generic,
            EventClass::String,
            EventClass::List,
            EventClass::Set,
            EventClass::Hash,
            EventClass::Zset,
            EventClass::Expired,
            EventClass::Evicted,
            EventClass::Stream,
        ] {
            assert!(all.wants(class), "{class:?}");
        }
        assert!(!all.wants(EventClass::KeyMiss));
        assert!(!all.wants(EventClass::New));
        let extra = parsed("Emn");
        assert!(extra.wants(EventClass::KeyMiss) && extra.wants(EventClass::New));
        assert!(!NotifyFlags::default().keyspace());
    }
}
