//! From live state to effects: what the journal records after a change, and what a rewrite
//! writes as the base. The only place that maps store and session types to [`Effect`]s.

use super::effect::{Effect, StoredEnding, StoredSession, StoredValue};
use crate::session::Record;
use crate::session::shard::{SessionChange, SessionShard};
use crate::store::Value;
use crate::store::shard::{Change, Shard};

/// Appends the effects of the changes `shard` recorded since it was locked (and forgets
/// them): each changed key's state now, as absolute state.
pub fn shard_changes(namespace: &str, db: usize, shard: &mut Shard, out: &mut Vec<Effect>) {
    for (key, change) in shard.take_changes() {
        let effect = match (shard.current(&key), change) {
            (None, _) => Effect::Del {
                namespace: namespace.to_string(),
                db: db as u32,
                keys: vec![key.to_vec()],
            },
            (Some(entry), Change::Deadline) => Effect::Expire {
                namespace: namespace.to_string(),
                db: db as u32,
                key: key.to_vec(),
                expire_at: entry.expires_at().unwrap_or(0),
            },
            (Some(entry), Change::Value) => {
                key_state(namespace, db, &key, &entry.value, entry.expires_at())
            }
        };
        out.push(effect);
    }
}

/// The effect that recreates `key` holding `value` until `expires_at`.
pub fn key_state(
    namespace: &str,
    db: usize,
    key: &[u8],
    value: &Value,
    expires_at: Option<u64>,
) -> Effect {
    Effect::Set {
        namespace: namespace.to_string(),
        db: db as u32,
        key: key.to_vec(),
        value: stored_value(value),
        expire_at: expires_at.unwrap_or(0),
    }
}

/// A value as the AOF stores it.
pub fn stored_value(value: &Value) -> StoredValue {
    match value {
        Value::Str(data, _) => StoredValue::String(data.to_vec()),
    }
}

/// The effect that recreates the session `record` as it is.
pub fn session_state(namespace: &str, record: &Record) -> Effect {
    Effect::SessionPut {
        namespace: namespace.to_string(),
        session: stored_session(record),
    }
}

/// A session as the AOF stores it.
pub fn stored_session(record: &Record) -> StoredSession {
    StoredSession {
        id: *record.id().bytes(),
        user: record.user().to_vec(),
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
            .map(|(name, value)| (name.to_vec(), value.to_vec()))
            .collect(),
    }
}

/// Appends the effects of the changes the session `shard` recorded since it was locked (and
/// forgets them): states to `states`, mere touches to `touches` (which no reply waits for).
pub fn session_changes(
    namespace: &str,
    shard: &mut SessionShard,
    states: &mut Vec<Effect>,
    touches: &mut Vec<Effect>,
) {
    for (id, change) in shard.take_changes() {
        match (shard.current(&id), change) {
            (None, SessionChange::State) => states.push(Effect::SessionDel {
                namespace: namespace.to_string(),
                id: *id.bytes(),
            }),
            (None, SessionChange::Touch) => {}
            (Some(record), SessionChange::State) => states.push(session_state(namespace, record)),
            (Some(record), SessionChange::Touch) => touches.push(Effect::SessionTouch {
                namespace: namespace.to_string(),
                id: *id.bytes(),
                last_access: record.last_access(),
            }),
        }
    }
}
