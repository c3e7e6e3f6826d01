//! From live state to effects: what the journal records after a change, and what a rewrite
//! writes as the base. The only place that maps store and session types to [`Effect`]s.
//! Effects borrow names, keys and values from the live state: encoding one copies nothing.

use std::borrow::Cow;

use super::effect::{Blob, Effect, StoredEnding, StoredSession, StoredValue};
use crate::session::shard::SessionShard;
use crate::session::{Record, SessionId};
use crate::store::Value;
use crate::store::hash::Hash;
use crate::store::list::{self, List};
use crate::store::set::Set;
use crate::store::shard::{Change, MemberList, Shard};
use crate::store::zset::SortedSet;

/// The effect of a change to `key` in `shard` (locked): its state now, as absolute state.
/// A change of some fields of a hash that is a table is logged as those fields
/// ([`Effect::HashFields`]), of some members of a large set or of a skiplist sorted set as
/// those members ([`Effect::SetMembers`], [`Effect::ZsetMembers`]), and of some elements
/// of a list as its span and those elements ([`Effect::ListElements`]), so a write to a
/// large collection costs what it wrote, not the collection's size; any other change, as
/// the key's whole value.
pub fn key_change<'a>(
    namespace: &'a str,
    db: usize,
    shard: &'a Shard,
    key: &'a [u8],
    change: Change,
    members: MemberList<'a>,
) -> Effect<'a> {
    match (shard.current(key), change) {
        (None, _) => Effect::Del {
            namespace: namespace.into(),
            db: db as u32,
            keys: vec![key.into()],
        },
        (Some(entry), Change::Deadline) => Effect::Expire {
            namespace: namespace.into(),
            db: db as u32,
            key: key.into(),
            expire_at: entry.expires_at().unwrap_or(0),
        },
        (Some(entry), Change::Members) => match &entry.value {
            Value::Hash(hash) if hash.is_table() => {
                let mut fields: Vec<&[u8]> = members.iter().collect();
                fields.sort_unstable();
                fields.dedup();
                hash_fields(namespace, db, key, hash, fields, entry.expires_at())
            }
            Value::Set(set) if logs_members(set) => {
                let mut changed: Vec<&[u8]> = members.iter().collect();
                changed.sort_unstable();
                changed.dedup();
                set_members(namespace, db, key, set, changed, entry.expires_at())
            }
            Value::SortedSet(set) if set.is_skiplist() => {
                let mut members: Vec<&[u8]> = members.iter().collect();
                members.sort_unstable();
                members.dedup();
                zset_members(namespace, db, key, set, members, entry.expires_at())
            }
            Value::List(elements) => {
                let notes = members.iter().filter_map(list::decode_note);
                let changed = list::changed_indices(notes, elements.span());
                list_elements(namespace, db, key, elements, changed, entry.expires_at())
            }
            value => key_state(namespace, db, key, value, entry.expires_at()),
        },
        (Some(entry), Change::Value) => {
            key_state(namespace, db, key, &entry.value, entry.expires_at())
        }
    }
}

/// The effect that sets `fields` of the hash at `key` to what they are in `hash` (absent
/// ones deleted), expiring at `expires_at`.
pub fn hash_fields<'a>(
    namespace: &'a str,
    db: usize,
    key: &'a [u8],
    hash: &'a Hash,
    fields: impl IntoIterator<Item = &'a [u8]>,
    expires_at: Option<u64>,
) -> Effect<'a> {
    let mut set = Vec::new();
    let mut del = Vec::new();
    for field in fields {
        match hash.get(field) {
            Some(value) => set.push((field.into(), value.into())),
            None => del.push(field.into()),
        }
    }
    Effect::HashFields {
        namespace: namespace.into(),
        db: db as u32,
        key: key.into(),
        set,
        del,
        expire_at: expires_at.unwrap_or(0),
    }
}

/// Most members of a set that is logged whole after a change of some of them (a few KB);
/// a larger set, or a table (whose members may be long), is logged by the members changed.
pub const WHOLE_SET_MEMBERS: usize = 128;

/// Whether a change of some members of `set` is logged as those members.
fn logs_members(set: &Set) -> bool {
    set.is_table() || set.len() > WHOLE_SET_MEMBERS
}

/// The effect that says, of each of `members`, whether it is in the set at `key` (as it is
/// in `set`), expiring at `expires_at`.
pub fn set_members<'a>(
    namespace: &'a str,
    db: usize,
    key: &'a [u8],
    set: &Set,
    members: impl IntoIterator<Item = &'a [u8]>,
    expires_at: Option<u64>,
) -> Effect<'a> {
    let (add, del): (Vec<&[u8]>, Vec<&[u8]>) =
        members.into_iter().partition(|member| set.contains(member));
    Effect::SetMembers {
        namespace: namespace.into(),
        db: db as u32,
        key: key.into(),
        add: add.into_iter().map(Blob::from).collect(),
        del: del.into_iter().map(Blob::from).collect(),
        expire_at: expires_at.unwrap_or(0),
    }
}

/// The effect that sets `members` of the sorted set at `key` to their scores in `set`
/// (absent ones deleted), expiring at `expires_at`.
pub fn zset_members<'a>(
    namespace: &'a str,
    db: usize,
    key: &'a [u8],
    set: &'a SortedSet,
    members: impl IntoIterator<Item = &'a [u8]>,
    expires_at: Option<u64>,
) -> Effect<'a> {
    let mut scored = Vec::new();
    let mut del = Vec::new();
    for member in members {
        match set.score(member) {
            Some(score) => scored.push((member.into(), score)),
            None => del.push(member.into()),
        }
    }
    Effect::ZsetMembers {
        namespace: namespace.into(),
        db: db as u32,
        key: key.into(),
        set: scored,
        del,
        expire_at: expires_at.unwrap_or(0),
    }
}

/// The effect that gives the list at `key` the span of `list` and the elements `list` holds
/// at the logical indices `changed`, expiring at `expires_at`.
pub fn list_elements<'a>(
    namespace: &'a str,
    db: usize,
    key: &'a [u8],
    list: &'a List,
    changed: Vec<std::ops::Range<i64>>,
    expires_at: Option<u64>,
) -> Effect<'a> {
    let head = list.head();
    let runs = changed
        .into_iter()
        .map(|indices| {
            let positions = (indices.start - head) as usize..(indices.end - head) as usize;
            (
                indices.start,
                list.range(positions).map(Blob::from).collect(),
            )
        })
        .collect();
    Effect::ListElements {
        namespace: namespace.into(),
        db: db as u32,
        key: key.into(),
        head,
        len: list.len() as u64,
        runs,
        expire_at: expires_at.unwrap_or(0),
    }
}

/// Most pairs of a hash in one record of a rewrite's base; a larger hash is written in
/// parts, so no record grows with the size of a hash.
pub const BASE_PAIRS: usize = 1024;

/// The effects that recreate `key` holding `value` until `expires_at` in a rewrite's base:
/// one [`Effect::Set`], or for a hash, set or sorted set of more than [`BASE_PAIRS`]
/// members, its members in parts ([`Effect::HashFields`], [`Effect::SetMembers`],
/// [`Effect::ZsetMembers`]: they replay in any order, as a base's records may); a list
/// likewise in parts of [`BASE_PAIRS`] elements ([`Effect::ListElements`]).
pub fn key_base<'a>(
    namespace: &'a str,
    db: usize,
    key: &'a [u8],
    value: &'a Value,
    expires_at: Option<u64>,
) -> Vec<Effect<'a>> {
    match value {
        Value::Hash(hash) if hash.len() > BASE_PAIRS => {
            let fields: Vec<&[u8]> = hash.iter().map(|(field, _)| field).collect();
            fields
                .chunks(BASE_PAIRS)
                .map(|part| hash_fields(namespace, db, key, hash, part.iter().copied(), expires_at))
                .collect()
        }
        Value::Set(set) if set.len() > BASE_PAIRS => {
            let part = |add: Vec<Blob<'a>>| Effect::SetMembers {
                namespace: namespace.into(),
                db: db as u32,
                key: key.into(),
                add,
                del: Vec::new(),
                expire_at: expires_at.unwrap_or(0),
            };
            let mut parts = Vec::new();
            let mut add = Vec::with_capacity(BASE_PAIRS);
            for member in set.iter() {
                add.push(Blob(member.as_cow()));
                if add.len() == BASE_PAIRS {
                    parts.push(part(std::mem::take(&mut add)));
                }
            }
            if !add.is_empty() {
                parts.push(part(add));
            }
            parts
        }
        Value::SortedSet(set) if set.len() > BASE_PAIRS => {
            let members: Vec<&[u8]> = set.iter().map(|(member, _)| member).collect();
            members
                .chunks(BASE_PAIRS)
                .map(|part| zset_members(namespace, db, key, set, part.iter().copied(), expires_at))
                .collect()
        }
        Value::List(list) if list.len() > BASE_PAIRS => {
            let span = list.span();
            (span.start..span.end)
                .step_by(BASE_PAIRS)
                .map(|start| {
                    let part = start..(start + BASE_PAIRS as i64).min(span.end);
                    list_elements(namespace, db, key, list, vec![part], expires_at)
                })
                .collect()
        }
        _ => vec![key_state(namespace, db, key, value, expires_at)],
    }
}

/// The effect that recreates `key` holding `value` until `expires_at`: a list with its
/// logical indices ([`Effect::ListElements`]), which the records after it refer to.
pub fn key_state<'a>(
    namespace: &'a str,
    db: usize,
    key: &'a [u8],
    value: &'a Value,
    expires_at: Option<u64>,
) -> Effect<'a> {
    let value = match value {
        Value::Str(data, _) => StoredValue::String(Blob(Cow::Borrowed(data))),
        Value::Hash(hash) => StoredValue::Hash(
            hash.iter()
                .map(|(field, value)| (field.into(), value.into()))
                .collect(),
        ),
        Value::Set(set) => StoredValue::Set(set.iter().map(|m| Blob(m.as_cow())).collect()),
        Value::SortedSet(set) => StoredValue::SortedSet(
            set.iter()
                .map(|(member, score)| (member.into(), score))
                .collect(),
        ),
        Value::List(list) => {
            let whole = vec![list.span()];
            return list_elements(namespace, db, key, list, whole, expires_at);
        }
    };
    Effect::Set {
        namespace: namespace.into(),
        db: db as u32,
        key: key.into(),
        value,
        expire_at: expires_at.unwrap_or(0),
    }
}

/// The effect of a change to the session `id` in `shard` (locked): its whole state now
/// (`SessionChange::State`), or just its last use (a touch).
pub fn session_change<'a>(
    namespace: &'a str,
    shard: &'a SessionShard,
    id: &SessionId,
    touch_only: bool,
) -> Option<Effect<'a>> {
    match (shard.current(id), touch_only) {
        (None, false) => Some(Effect::SessionDel {
            namespace: namespace.into(),
            id: *id.bytes(),
        }),
        (None, true) => None,
        (Some(record), false) => Some(session_state(namespace, record)),
        (Some(record), true) => Some(Effect::SessionTouch {
            namespace: namespace.into(),
            id: *id.bytes(),
            last_access: record.last_access(),
        }),
    }
}

/// The effect that recreates the session `record` as it is.
pub fn session_state<'a>(namespace: &'a str, record: &'a Record) -> Effect<'a> {
    Effect::SessionPut {
        namespace: namespace.into(),
        session: stored_session(record),
    }
}

/// The effect that recreates the session `record` as it is, as its packed bytes (for the
/// base of a rewrite).
pub fn session_record<'a>(namespace: &'a str, record: &'a Record) -> Effect<'a> {
    Effect::SessionRecord {
        namespace: namespace.into(),
        record: record.packed().into(),
    }
}

/// A session as the AOF stores it.
pub fn stored_session(record: &Record) -> StoredSession<'_> {
    StoredSession {
        id: *record.id().bytes(),
        user: record.user().into(),
        created_at: record.created_at(),
        last_access: record.last_access(),
        idle_timeout_s: (record.idle_timeout_ms().unwrap_or(0) / 1000) as u32,
        absolute_deadline: record.absolute_deadline().unwrap_or(0),
        version: record.version(),
        ending: record.ending().map(|ending| StoredEnding {
            reason: ending.reason.code(),
            ended_at: ending.ended_at,
            recoverable_until: ending.recoverable_until,
        }),
        fields: record
            .fields()
            .map(|(name, value)| (name.into(), value.into()))
            .collect(),
    }
}
