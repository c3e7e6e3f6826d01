//! A session packed into one allocation: a fixed header, the user, then the fields.
//!
//! ```text
//! offset  size  field
//!      0    16  id
//!     16     8  created_at          Unix ms
//!     24     8  last_access         Unix ms (the idle deadline counts from here)
//!     32     8  absolute_deadline   Unix ms, 0 = none
//!     40     8  version             bumped by every change of the fields
//!     48     4  idle_timeout        seconds, 0 = none
//!     52     4  timer               the wheel timer's id, u32::MAX = none
//!     56     1  state               0 = active, else the end reason (see EndReason)
//!    (57     8  ended_at            Unix ms       } only when ended
//!     65     8  recoverable_until   Unix ms)      }
//!      …   var  user                LEB128 length, bytes
//!      …   var  fields              (LEB128 length, name, LEB128 length, value) …
//! ```
//!
//! Integers are little-endian. Reads decode in place; a change that resizes the record (a
//! field set or removed, the session ended) builds a new one, as Redis's listpack does.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::id::SessionId;

const ID: usize = 0;
const CREATED_AT: usize = 16;
const LAST_ACCESS: usize = 24;
const ABSOLUTE_DEADLINE: usize = 32;
const VERSION: usize = 40;
const IDLE_TIMEOUT: usize = 48;
const TIMER: usize = 52;
const STATE: usize = 56;
const ENDED_AT: usize = 57;
const RECOVERABLE_UNTIL: usize = 65;
const ACTIVE_HEADER: usize = 57;
const ENDED_HEADER: usize = 73;
const NO_TIMER: u32 = u32::MAX;

/// Why a session stopped being active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// `SESSION.END` or `SESSION.ENDALL`.
    Ended = 1,
    /// Its idle or absolute deadline passed.
    Expired = 2,
    /// Its user went over the cap and it was the oldest.
    Evicted = 3,
    /// `SESSION.CLEANUP`.
    Cleanup = 4,
}

impl EndReason {
    /// The name used in `SESSION.INFO` and event channels.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Ended => "ended",
            EndReason::Expired => "expired",
            EndReason::Evicted => "evicted",
            EndReason::Cleanup => "cleanup",
        }
    }

    /// The number that stands for the reason in records and the AOF.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason `code` stands for, if any.
    pub fn from_code(code: u8) -> Option<EndReason> {
        Some(match code {
            1 => EndReason::Ended,
            2 => EndReason::Expired,
            3 => EndReason::Evicted,
            4 => EndReason::Cleanup,
            _ => return None,
        })
    }
}

/// When and why an ended session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending {
    /// Why it ended.
    pub reason: EndReason,
    /// Unix ms of the end.
    pub ended_at: u64,
    /// Unix ms until which `SESSION.RECOVER` may bring it back.
    pub recoverable_until: u64,
}

/// What a new session starts with.
pub struct NewSession<'a> {
    /// Its id.
    pub id: SessionId,
    /// Its user (`""` for anonymous).
    pub user: &'a [u8],
    /// Unix ms of creation.
    pub created_at: u64,
    /// Idle timeout in seconds, 0 = none.
    pub idle_timeout_s: u32,
    /// Unix ms of the absolute deadline, 0 = none.
    pub absolute_deadline: u64,
    /// The version it starts at.
    pub version: u64,
}

/// One session, packed. See the module docs for the layout.
#[derive(Clone)]
pub struct Record(Box<[u8]>);

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id())
            .field("version", &self.version())
            .field("ending", &self.ending())
            .finish()
    }
}

impl Record {
    /// Packs a new active session with `fields` (a name given twice keeps its last value).
    pub fn new<'f>(
        session: &NewSession,
        fields: impl IntoIterator<Item = (&'f [u8], &'f [u8])>,
    ) -> Record {
        let pairs = merge(
            std::iter::empty(),
            fields.into_iter().map(|(n, v)| (n, Some(v))),
        );
        Record::pack(session, session.created_at, None, pairs.iter().copied())
    }

    /// A session exactly as it was (loading the AOF): `session` with its last use and,
    /// when it ended, its ending; `fields` hold each name once.
    pub fn restore<'f>(
        session: &NewSession,
        last_access: u64,
        ending: Option<Ending>,
        fields: impl Iterator<Item = (&'f [u8], &'f [u8])> + Clone,
    ) -> Record {
        Record::pack(session, last_access, ending, fields)
    }

    fn pack<'f>(
        session: &NewSession,
        last_access: u64,
        ending: Option<Ending>,
        fields: impl Iterator<Item = (&'f [u8], &'f [u8])> + Clone,
    ) -> Record {
        let header = if ending.is_some() {
            ENDED_HEADER
        } else {
            ACTIVE_HEADER
        };
        let body = item_len(session.user)
            + fields
                .clone()
                .map(|(name, value)| item_len(name) + item_len(value))
                .sum::<usize>();
        let mut bytes = Vec::with_capacity(header + body);
        bytes.extend_from_slice(session.id.bytes());
        bytes.extend_from_slice(&session.created_at.to_le_bytes());
        bytes.extend_from_slice(&last_access.to_le_bytes());
        bytes.extend_from_slice(&session.absolute_deadline.to_le_bytes());
        bytes.extend_from_slice(&session.version.to_le_bytes());
        bytes.extend_from_slice(&session.idle_timeout_s.to_le_bytes());
        bytes.extend_from_slice(&NO_TIMER.to_le_bytes());
        bytes.push(ending.map_or(0, |ending| ending.reason.code()));
        if let Some(ending) = ending {
            bytes.extend_from_slice(&ending.ended_at.to_le_bytes());
            bytes.extend_from_slice(&ending.recoverable_until.to_le_bytes());
        }
        push_bytes(&mut bytes, session.user);
        for (name, value) in fields {
            push_bytes(&mut bytes, name);
            push_bytes(&mut bytes, value);
        }
        Record(bytes.into_boxed_slice())
    }

    /// The record's bytes, as laid out in the module docs (the AOF base stores them as they
    /// are, as Redis's RDB stores listpacks).
    pub fn packed(&self) -> &[u8] {
        &self.0
    }

    /// A record from bytes [`Record::packed`] gave, without its timer; `None` unless they
    /// are a well-formed record (a header, a known state, then whole length-prefixed items
    /// in pairs after the user).
    pub fn from_packed(bytes: &[u8]) -> Option<Record> {
        let state = *bytes.get(STATE)?;
        let header = match state {
            0 => ACTIVE_HEADER,
            code => {
                EndReason::from_code(code)?;
                ENDED_HEADER
            }
        };
        let mut at = header;
        let mut items = 0usize;
        while at < bytes.len() {
            at = checked_item_end(bytes, at)?;
            items += 1;
        }
        if items == 0 || items.is_multiple_of(2) || at != bytes.len() {
            return None;
        }
        let mut record = Record(bytes.into());
        record.set_timer(None);
        Some(record)
    }

    /// The session's id.
    pub fn id(&self) -> SessionId {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.0[ID..ID + 16]);
        SessionId::from_bytes(id)
    }

    /// Gives the session a new id (ROTATE), keeping everything else.
    pub fn set_id(&mut self, id: SessionId) {
        self.0[ID..ID + 16].copy_from_slice(id.bytes());
    }

    /// Whether the record is the session `id` (without decoding it).
    pub fn has_id(&self, id: &SessionId) -> bool {
        self.0[ID..ID + 16] == id.bytes()[..]
    }

    /// Unix ms of creation.
    pub fn created_at(&self) -> u64 {
        self.u64_at(CREATED_AT)
    }

    /// Unix ms of the last GET, SET or TOUCH.
    pub fn last_access(&self) -> u64 {
        self.u64_at(LAST_ACCESS)
    }

    /// Records a use of the session, which moves its idle deadline.
    pub fn set_last_access(&mut self, now: u64) {
        self.0[LAST_ACCESS..LAST_ACCESS + 8].copy_from_slice(&now.to_le_bytes());
    }

    /// Unix ms of the absolute deadline, if any.
    pub fn absolute_deadline(&self) -> Option<u64> {
        Some(self.u64_at(ABSOLUTE_DEADLINE)).filter(|&t| t != 0)
    }

    /// The idle timeout in milliseconds, if any.
    pub fn idle_timeout_ms(&self) -> Option<u64> {
        let seconds = u32::from_le_bytes(self.array(IDLE_TIMEOUT));
        (seconds != 0).then(|| u64::from(seconds) * 1000)
    }

    /// When the active session expires: the nearer of its idle and absolute deadlines.
    pub fn deadline(&self) -> Option<u64> {
        let idle = self
            .idle_timeout_ms()
            .map(|ms| self.last_access().saturating_add(ms));
        match (idle, self.absolute_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The version, bumped by every change of the fields.
    pub fn version(&self) -> u64 {
        self.u64_at(VERSION)
    }

    /// The wheel timer armed for this session, if any.
    pub fn timer(&self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array(TIMER))).filter(|&t| t != NO_TIMER)
    }

    /// Records the wheel timer armed for this session.
    pub fn set_timer(&mut self, timer: Option<u32>) {
        let raw = timer.unwrap_or(NO_TIMER);
        self.0[TIMER..TIMER + 4].copy_from_slice(&raw.to_le_bytes());
    }

    /// `None` while active; when ended, how and when.
    pub fn ending(&self) -> Option<Ending> {
        let reason = EndReason::from_code(self.0[STATE])?;
        Some(Ending {
            reason,
            ended_at: self.u64_at(ENDED_AT),
            recoverable_until: self.u64_at(RECOVERABLE_UNTIL),
        })
    }

    /// Whether the session is active (not ended).
    pub fn is_active(&self) -> bool {
        self.0[STATE] == 0
    }

    /// The user, `""` for an anonymous session.
    pub fn user(&self) -> &[u8] {
        read_bytes(&self.0, self.body_start()).0
    }

    /// The fields in the order they were first set.
    pub fn fields(&self) -> Fields<'_> {
        let (_, rest) = read_bytes(&self.0, self.body_start());
        Fields {
            bytes: &self.0,
            at: rest,
        }
    }

    /// The fields as packed bytes, to copy out in one piece (see [`unpack_fields`]).
    pub fn packed_fields(&self) -> &[u8] {
        let (_, start) = read_bytes(&self.0, self.body_start());
        &self.0[start..]
    }

    /// The value of field `name`.
    pub fn field(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Total length of the field names and values: what `max-session-bytes` limits.
    pub fn data_bytes(&self) -> usize {
        self.fields().map(|(n, v)| n.len() + v.len()).sum()
    }

    /// The same session with fields set and removed and the version bumped. `changes`
    /// are applied in order: `Some(value)` sets, `None` removes.
    pub fn with_changes<'c>(
        &'c self,
        changes: impl IntoIterator<Item = (&'c [u8], Option<&'c [u8]>)>,
    ) -> Record {
        let pairs = merge(self.fields(), changes);
        let header = self.header_len();
        let user = self.user();
        let mut bytes = Vec::with_capacity(header + packed_len(user, &pairs));
        bytes.extend_from_slice(&self.0[..header]);
        push_bytes(&mut bytes, user);
        for (name, value) in pairs {
            push_bytes(&mut bytes, name);
            push_bytes(&mut bytes, value);
        }
        let mut record = Record(bytes.into_boxed_slice());
        record.put_u64(VERSION, self.version() + 1);
        record
    }

    /// The same session, ended: it keeps its data for `SESSION.INFO` and `SESSION.RECOVER`.
    pub fn ended(&self, ending: Ending) -> Record {
        let body = &self.0[self.body_start()..];
        let mut bytes = Vec::with_capacity(ENDED_HEADER + body.len());
        bytes.extend_from_slice(&self.0[..ACTIVE_HEADER]);
        bytes.extend_from_slice(&ending.ended_at.to_le_bytes());
        bytes.extend_from_slice(&ending.recoverable_until.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes[STATE] = ending.reason.code();
        let mut record = Record(bytes.into_boxed_slice());
        record.set_timer(None);
        record
    }

    fn header_len(&self) -> usize {
        if self.is_active() {
            ACTIVE_HEADER
        } else {
            ENDED_HEADER
        }
    }

    fn body_start(&self) -> usize {
        self.header_len()
    }

    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.0[at..at + N]);
        out
    }

    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.array(at))
    }

    fn put_u64(&mut self, at: usize, value: u64) {
        self.0[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
}

/// The fields of bytes copied from [`Record::packed_fields`].
pub fn unpack_fields(packed: &[u8]) -> Fields<'_> {
    Fields {
        bytes: packed,
        at: 0,
    }
}

/// The fields of a record as `(name, value)` pairs.
pub struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let (name, rest) = read_bytes(self.bytes, self.at);
        let (value, rest) = read_bytes(self.bytes, rest);
        self.at = rest;
        Some((name, value))
    }
}

impl Clone for Fields<'_> {
    fn clone(&self) -> Self {
        Fields {
            bytes: self.bytes,
            at: self.at,
        }
    }
}

/// Up to this many fields, names are found by a linear scan; past it, through a hash map.
const LINEAR_FIELDS: usize = 16;

/// Applies `changes` in order to `base`: a set replaces a field in place or appends it, a
/// removal drops it. Small sessions are scanned; large ones cost one hash lookup per change.
fn merge<'a>(
    base: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    changes: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
) -> Vec<(&'a [u8], &'a [u8])> {
    let mut pairs: Vec<Option<(&[u8], &[u8])>> = base.map(Some).collect();
    let mut positions: Option<HashMap<&[u8], usize, RandomState>> = None;
    for (name, value) in changes {
        if positions.is_none() && pairs.len() > LINEAR_FIELDS {
            positions = Some(
                pairs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, pair)| pair.map(|(name, _)| (name, i)))
                    .collect(),
            );
        }
        let found = match &positions {
            Some(positions) => positions.get(name).copied(),
            None => pairs
                .iter()
                .position(|pair| pair.is_some_and(|(n, _)| n == name)),
        };
        match (found, value) {
            (Some(i), Some(value)) => pairs[i] = Some((name, value)),
            (None, Some(value)) => {
                if let Some(positions) = positions.as_mut() {
                    positions.insert(name, pairs.len());
                }
                pairs.push(Some((name, value)));
            }
            (Some(i), None) => {
                pairs[i] = None;
                if let Some(positions) = positions.as_mut() {
                    positions.remove(name);
                }
            }
            (None, None) => {}
        }
    }
    pairs.into_iter().flatten().collect()
}

/// Bytes of one length-prefixed item.
fn item_len(bytes: &[u8]) -> usize {
    varint_len(bytes.len()) + bytes.len()
}

fn packed_len(user: &[u8], pairs: &[(&[u8], &[u8])]) -> usize {
    item_len(user)
        + pairs
            .iter()
            .map(|(n, v)| item_len(n) + item_len(v))
            .sum::<usize>()
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut n = bytes.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
}

/// Reads a length-prefixed byte string at `at`; returns it and the offset after it. Records
/// are only ever built by this module, so the encoding is trusted.
/// Where the length-prefixed item at `at` ends, if it lies whole inside `bytes`.
fn checked_item_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(at)?;
        at += 1;
        len |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 35 {
            return None;
        }
    }
    let end = at.checked_add(len)?;
    (end <= bytes.len()).then_some(end)
}

fn read_bytes(bytes: &[u8], mut at: usize) -> (&[u8], usize) {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = bytes[at];
        at += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&bytes[at..at + len], at + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(fields: &[(&[u8], &[u8])]) -> Record {
        let session = NewSession {
            id: SessionId::generate(),
            user: b"alice",
            created_at: 1_000,
            idle_timeout_s: 30,
            absolute_deadline: 100_000,
            version: 1,
        };
        Record::new(&session, fields.iter().copied())
    }

    #[test]
    fn packed_bytes_round_trip_and_malformed_ones_are_refused() {
        let mut active = sample(&[(b"a", b"1"), (b"b", &[7; 300])]);
        active.set_timer(Some(3));
        let ended = active.ended(Ending {
            reason: EndReason::Evicted,
            ended_at: 2_000,
            recoverable_until: 5_000,
        });
        for record in [&active, &ended] {
            let copy = Record::from_packed(record.packed()).expect("well formed");
            assert_eq!(copy.timer(), None, "the timer belongs to the old wheel");
            assert_eq!(copy.id(), record.id());
            assert_eq!(copy.ending(), record.ending());
            assert_eq!(
                copy.fields().collect::<Vec<_>>(),
                record.fields().collect::<Vec<_>>()
            );
        }
        let bytes = active.packed();
        // Header, user "alice", then the pairs a=1 and b=<300 bytes>: only a cut between
        // pairs leaves a whole record.
        let whole = [ACTIVE_HEADER + 6, ACTIVE_HEADER + 10];
        for cut in 0..bytes.len() {
            let copy = Record::from_packed(&bytes[..cut]);
            assert_eq!(copy.is_some(), whole.contains(&cut), "cut at {cut}");
        }
        let mut bad_state = bytes.to_vec();
        bad_state[STATE] = 9;
        assert!(Record::from_packed(&bad_state).is_none());
        let mut odd = bytes.to_vec();
        odd.push(0);
        assert!(
            Record::from_packed(&odd).is_none(),
            "a name without a value"
        );
    }

    #[test]
    fn header_fields_read_back() {
        let mut record = sample(&[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]);
        assert_eq!(record.user(), b"alice");
        assert_eq!(record.created_at(), 1_000);
        assert_eq!(record.last_access(), 1_000);
        assert_eq!(record.idle_timeout_ms(), Some(30_000));
        assert_eq!(record.absolute_deadline(), Some(100_000));
        assert_eq!(record.deadline(), Some(31_000));
        assert_eq!(record.version(), 1);
        assert_eq!(record.timer(), None);
        record.set_timer(Some(7));
        record.set_last_access(90_000);
        assert_eq!(record.timer(), Some(7));
        assert_eq!(record.deadline(), Some(100_000), "absolute is nearer now");
        let fields: Vec<_> = record.fields().collect();
        assert_eq!(fields, vec![(&b"a"[..], &b"3"[..]), (&b"b"[..], &b"2"[..])]);
        assert_eq!(record.data_bytes(), 4);
        assert!(record.is_active());
    }

    #[test]
    fn changes_keep_order_and_bump_version() {
        let record = sample(&[(b"a", b"1"), (b"b", b"2")]);
        let changes: Vec<(&[u8], Option<&[u8]>)> = vec![
            (b"b", Some(b"long value")),
            (b"c", Some(b"3")),
            (b"a", None),
            (b"zz", None),
        ];
        let changed = record.with_changes(changes);
        assert_eq!(changed.version(), 2);
        assert_eq!(changed.data_bytes(), 1 + 10 + 1 + 1);
        let fields: Vec<_> = changed.fields().collect();
        assert_eq!(
            fields,
            vec![(&b"b"[..], &b"long value"[..]), (&b"c"[..], &b"3"[..])]
        );
        assert_eq!(changed.user(), b"alice");
        assert_eq!(changed.id(), record.id());
    }

    #[test]
    fn many_fields_merge_like_few() {
        let names: Vec<Vec<u8>> = (0..100).map(|i| format!("f{i}").into_bytes()).collect();
        let fields: Vec<(&[u8], &[u8])> = names
            .iter()
            .map(|n| (n.as_slice(), &b"v"[..]))
            .chain([(&b"f3"[..], &b"last"[..])])
            .collect();
        let record = sample(&fields);
        assert_eq!(record.fields().count(), 100);
        assert_eq!(record.field(b"f3"), Some(&b"last"[..]));
        let changed = record.with_changes([
            (&b"f99"[..], None),
            (&b"new"[..], Some(&b"x"[..])),
            (&b"f0"[..], Some(&b"y"[..])),
        ]);
        assert_eq!(changed.fields().count(), 100);
        assert_eq!(changed.fields().next(), Some((&b"f0"[..], &b"y"[..])));
        assert_eq!(changed.fields().last(), Some((&b"new"[..], &b"x"[..])));
        assert_eq!(changed.field(b"f99"), None);
    }

    #[test]
    fn ending_keeps_data_and_long_values_round_trip() {
        let long = vec![b'x'; 70_000];
        let record = sample(&[(b"big", &long), (b"k", b"v")]);
        let ending = Ending {
            reason: EndReason::Expired,
            ended_at: 5_000,
            recoverable_until: 9_000,
        };
        let ended = record.ended(ending);
        assert!(!ended.is_active());
        assert_eq!(ended.ending(), Some(ending));
        assert_eq!(ended.field(b"big").map(<[u8]>::len), Some(70_000));
        assert_eq!(ended.field(b"k"), Some(&b"v"[..]));
        assert_eq!(ended.user(), b"alice");
        assert_eq!(ended.version(), record.version());
        let reborn = Record::new(
            &NewSession {
                id: SessionId::generate(),
                user: ended.user(),
                created_at: 6_000,
                idle_timeout_s: 0,
                absolute_deadline: 0,
                version: ended.version(),
            },
            ended.fields(),
        );
        assert!(reborn.is_active());
        assert_eq!(reborn.version(), ended.version());
        assert_eq!(reborn.deadline(), None);
        assert_eq!(reborn.field(b"k"), Some(&b"v"[..]));
    }
}
