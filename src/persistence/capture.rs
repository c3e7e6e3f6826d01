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
use crate::store::shard::{Change, MemberList, Shard};

/// The effect of a change to `key` in `shard` (locked): its state now, as absolute state.
/// A change of some fields of a hash that is a table is logged as those fields
/// ([`Effect::HashFields`]), so a write to a large hash costs what it wrote, not the hash's
/// size; a change of some elements of a list as its span and those elements
/// ([`Effect::ListElements`]); any other change, as the key's whole value.
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
/// one [`Effect::Set`], or for a hash of more than [`BASE_PAIRS`] fields, its fields in
/// parts ([`Effect::HashFields`], which replay in any order, as a base's records may); a
/// list likewise in parts of [`BASE_PAIRS`] elements ([`Effect::ListElements`]).
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
