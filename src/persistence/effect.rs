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

use serde::{Deserialize, Serialize};

/// One write's effect on the state, as absolute and idempotent state.
///
/// Times are Unix milliseconds. `namespace` is the namespace's name (ids are not stable
/// across restarts); `db` is the database index inside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// The namespace `name` exists with exactly these policy `options` (`option value` pairs
    /// as `SESSION.NAMESPACE CREATE|CONFIG` takes them). Replaces the options of an existing one.
    NamespaceCreate {
        /// The namespace's name.
        name: String,
        /// Its policy options, in the order they are applied.
        options: Vec<(String, String)>,
    },
    /// The namespace `name` and everything in it no longer exist.
    NamespaceDrop {
        /// The namespace's name.
        name: String,
    },
    /// `key` holds exactly `value`, expiring at `expire_at` (0 = never), whatever it held before.
    Set {
        /// The namespace's name.
        namespace: String,
        /// The database index.
        db: u32,
        /// The key.
        key: Vec<u8>,
        /// The whole value.
        value: StoredValue,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// None of `keys` exists (also how expiry and eviction are logged).
    Del {
        /// The namespace's name.
        namespace: String,
        /// The database index.
        db: u32,
        /// The keys that no longer exist.
        keys: Vec<Vec<u8>>,
    },
    /// `key`, if it exists, expires at `expire_at`; 0 = it has no expiry (`PERSIST`).
    Expire {
        /// The namespace's name.
        namespace: String,
        /// The database index.
        db: u32,
        /// The key.
        key: Vec<u8>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// Database `db` of the namespace is empty.
    FlushDb {
        /// The namespace's name.
        namespace: String,
        /// The database index.
        db: u32,
    },
    /// Every database of the namespace is empty (its sessions are untouched).
    FlushAll {
        /// The namespace's name.
        namespace: String,
    },
    /// Databases `a` and `b` of the namespace have exchanged their contents.
    ///
    /// The one effect that is not idempotent on its own: replaying it twice swaps back. It is
    /// safe because a record is replayed exactly once on top of the state the records before
    /// it produced, and a rewrite folds it into the base.
    SwapDb {
        /// The namespace's name.
        namespace: String,
        /// One database index.
        a: u32,
        /// The other database index.
        b: u32,
    },
    /// The session `session.id` exists with exactly this state (created, changed, ended,
    /// rotated to a new id or recovered: the full record every time).
    SessionPut {
        /// The namespace's name.
        namespace: String,
        /// The session's whole state.
        session: StoredSession,
    },
    /// The session `id`, if it exists, was last used at `last_access` (which moves its idle
    /// deadline). Logged instead of a full [`Effect::SessionPut`] for reads that only refresh.
    SessionTouch {
        /// The namespace's name.
        namespace: String,
        /// The session id.
        id: [u8; 16],
        /// Unix ms of the last use.
        last_access: u64,
    },
    /// The session `id` no longer exists, not even as a recoverable ended session.
    SessionDel {
        /// The namespace's name.
        namespace: String,
        /// The session id.
        id: [u8; 16],
    },
    /// Several effects of one command (RENAME, MOVE, MSET, an expiry sweep of a shard, a
    /// transaction) in one record, so a crash keeps all of them or none.
    Batch(Vec<Effect>),
}

/// A key's whole value, one variant per Redis type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StoredValue {
    /// A string: its bytes.
    String(Vec<u8>),
    /// A hash: its fields and values.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A set: its members.
    Set(Vec<Vec<u8>>),
    /// A sorted set: its members and scores.
    SortedSet(Vec<(Vec<u8>, f64)>),
    /// A list: its elements, head first.
    List(Vec<Vec<u8>>),
}

/// A session's whole state, as `SESSION.INFO` and `SESSION.GET` would show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The id's 16 bytes (a UUID v4).
    pub id: [u8; 16],
    /// The owner; empty for an anonymous session.
    pub user: Vec<u8>,
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
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
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
