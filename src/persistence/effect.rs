//! What the append-only file records: the *effect* of each write as absolute state.
//!
//! An [`Effect`] never describes the command that caused it. `INCR` is logged as the
//! [`Effect::Set`] of the resulting value, `EXPIRE key 10` as an [`Effect::Expire`] with an
//! absolute Unix time, `SESSION.CREATE` as an [`Effect::SessionPut`] carrying the id the
//! server generated. Replaying an effect twice leaves the same state as replaying it once, so
//! a rewritten base followed by every newer record converges to the right state even when the
//! base already contains some of those records.
//!
//! This enum *is* the file format (through [`super::codec`]): variants are encoded by their
//! position and fields in declaration order. Add new variants and value kinds at the end
//! only; never reorder, remove or retype one without bumping [`super::file::FORMAT_VERSION`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// One write's effect on the state, as absolute and idempotent state.
///
/// Times are Unix milliseconds. `namespace` is the namespace's name (ids are not stable
/// across restarts); `db` is the database index inside it. Names, keys and values are
/// borrowed from the live state while a record is encoded (no copies on the write path) and
/// owned when one is decoded (`Effect<'static>`); both encode the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Effect<'a> {
    /// The namespace `name` exists with exactly these policy `options` (`option value` pairs
    /// as `SESSION.NAMESPACE CREATE|CONFIG` takes them). Replaces the options of an existing one.
    NamespaceCreate {
        /// The namespace's name.
        name: Cow<'a, str>,
        /// Its policy options, in the order they are applied.
        options: Vec<(String, String)>,
    },
    /// The namespace `name` and everything in it no longer exist.
    NamespaceDrop {
        /// The namespace's name.
        name: Cow<'a, str>,
    },
    /// `key` holds exactly `value`, expiring at `expire_at` (0 = never), whatever it held before.
    Set {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        key: Cow<'a, [u8]>,
        /// The whole value.
        value: StoredValue<'a>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// None of `keys` exists (also how expiry and eviction are logged).
    Del {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The keys that no longer exist.
        keys: Vec<Cow<'a, [u8]>>,
    },
    /// `key`, if it exists, expires at `expire_at`; 0 = it has no expiry (`PERSIST`).
    Expire {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        key: Cow<'a, [u8]>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// Database `db` of the namespace is empty.
    FlushDb {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
    },
    /// Every database of the namespace is empty (its sessions are untouched).
    FlushAll {
        /// The namespace's name.
        namespace: Cow<'a, str>,
    },
    /// Databases `a` and `b` of the namespace have exchanged their contents.
    ///
    /// The one effect that is not idempotent on its own: replaying it twice swaps back. It is
    /// safe because a record is replayed exactly once on top of the state the records before
    /// it produced, and a rewrite folds it into the base.
    SwapDb {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// One database index.
        a: u32,
        /// The other database index.
        b: u32,
    },
    /// The session `session.id` exists with exactly this state (created, changed, ended,
    /// rotated to a new id or recovered: the full record every time).
    SessionPut {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The session's whole state.
        session: StoredSession<'a>,
    },
    /// The session `id`, if it exists, was last used at `last_access` (which moves its idle
    /// deadline). Logged instead of a full [`Effect::SessionPut`] for reads that only refresh.
    SessionTouch {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The session id.
        id: [u8; 16],
        /// Unix ms of the last use.
        last_access: u64,
    },
    /// The session `id` no longer exists, not even as a recoverable ended session.
    SessionDel {
        /// The namespace's name.
        namespace: Cow<'a, str>,
        /// The session id.
        id: [u8; 16],
    },
    /// Several effects of one command (RENAME, MOVE, MSET, an expiry sweep of a shard, a
    /// transaction) in one record, so a crash keeps all of them or none.
    Batch(Vec<Effect<'a>>),
}

/// A name and a value (hash fields, session fields).
pub type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// A key's whole value, one variant per Redis type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StoredValue<'a> {
    /// A string: its bytes.
    String(Cow<'a, [u8]>),
    /// A hash: its fields and values.
    Hash(Vec<Pair<'a>>),
    /// A set: its members.
    Set(Vec<Cow<'a, [u8]>>),
    /// A sorted set: its members and scores.
    SortedSet(Vec<(Cow<'a, [u8]>, f64)>),
    /// A list: its elements, head first.
    List(Vec<Cow<'a, [u8]>>),
}

/// A session's whole state, as `SESSION.INFO` and `SESSION.GET` would show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession<'a> {
    /// The id's 16 bytes (a UUID v4).
    pub id: [u8; 16],
    /// The owner; empty for an anonymous session.
    pub user: Cow<'a, [u8]>,
    /// Unix ms of creation.
    pub created_at: u64,
    /// Unix ms of the last use (the idle deadline counts from here).
    pub last_access: u64,
    /// Idle timeout in seconds; 0 = none.
    pub idle_timeout_s: u32,
    /// Unix ms of the absolute deadline; 0 = none.
    pub absolute_deadline: u64,
    /// The version, bumped by every change of the fields.
    pub version: u64,
    /// When and why it ended; `None` while active.
    pub ending: Option<StoredEnding>,
    /// Its fields and their values.
    pub fields: Vec<Pair<'a>>,
}

/// When and why an ended session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEnding {
    /// The end reason's code, as [`crate::session::EndReason`] numbers them
    /// (1 ended, 2 expired, 3 evicted, 4 cleanup).
    pub reason: u8,
    /// Unix ms of the end.
    pub ended_at: u64,
    /// Unix ms until which `SESSION.RECOVER` may bring it back.
    pub recoverable_until: u64,
}

/// An owned copy of borrowed bytes.
fn owned(bytes: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(bytes.into_owned())
}

impl Effect<'_> {
    /// The same effect owning all its data, to keep after what it borrowed from is gone
    /// (an effect of one shard logged with those of a later one).
    pub fn into_owned(self) -> Effect<'static> {
        let name = |name: Cow<'_, str>| Cow::Owned(name.into_owned());
        match self {
            Effect::NamespaceCreate { name: n, options } => Effect::NamespaceCreate {
                name: name(n),
                options,
            },
            Effect::NamespaceDrop { name: n } => Effect::NamespaceDrop { name: name(n) },
            Effect::Set {
                namespace,
                db,
                key,
                value,
                expire_at,
            } => Effect::Set {
                namespace: name(namespace),
                db,
                key: owned(key),
                value: value.into_owned(),
                expire_at,
            },
            Effect::Del {
                namespace,
                db,
                keys,
            } => Effect::Del {
                namespace: name(namespace),
                db,
                keys: keys.into_iter().map(owned).collect(),
            },
            Effect::Expire {
                namespace,
                db,
                key,
                expire_at,
            } => Effect::Expire {
                namespace: name(namespace),
                db,
                key: owned(key),
                expire_at,
            },
            Effect::FlushDb { namespace, db } => Effect::FlushDb {
                namespace: name(namespace),
                db,
            },
            Effect::FlushAll { namespace } => Effect::FlushAll {
                namespace: name(namespace),
            },
            Effect::SwapDb { namespace, a, b } => Effect::SwapDb {
                namespace: name(namespace),
                a,
                b,
            },
            Effect::SessionPut { namespace, session } => Effect::SessionPut {
                namespace: name(namespace),
                session: session.into_owned(),
            },
            Effect::SessionTouch {
                namespace,
                id,
                last_access,
            } => Effect::SessionTouch {
                namespace: name(namespace),
                id,
                last_access,
            },
            Effect::SessionDel { namespace, id } => Effect::SessionDel {
                namespace: name(namespace),
                id,
            },
            Effect::Batch(effects) => {
                Effect::Batch(effects.into_iter().map(Effect::into_owned).collect())
            }
        }
    }
}

impl StoredValue<'_> {
    /// The same value owning its data.
    pub fn into_owned(self) -> StoredValue<'static> {
        let pairs = |pairs: Vec<Pair<'_>>| {
            pairs
                .into_iter()
                .map(|(a, b)| (owned(a), owned(b)))
                .collect()
        };
        match self {
            StoredValue::String(data) => StoredValue::String(owned(data)),
            StoredValue::Hash(fields) => StoredValue::Hash(pairs(fields)),
            StoredValue::Set(members) => StoredValue::Set(members.into_iter().map(owned).collect()),
            StoredValue::SortedSet(members) => {
                StoredValue::SortedSet(members.into_iter().map(|(m, s)| (owned(m), s)).collect())
            }
            StoredValue::List(items) => StoredValue::List(items.into_iter().map(owned).collect()),
        }
    }
}

impl StoredSession<'_> {
    /// The same session owning its data.
    pub fn into_owned(self) -> StoredSession<'static> {
        StoredSession {
            user: owned(self.user),
            fields: self
                .fields
                .into_iter()
                .map(|(name, value)| (owned(name), owned(value)))
                .collect(),
            id: self.id,
            created_at: self.created_at,
            last_access: self.last_access,
            idle_timeout_s: self.idle_timeout_s,
            absolute_deadline: self.absolute_deadline,
            version: self.version,
            ending: self.ending,
        }
    }
}
