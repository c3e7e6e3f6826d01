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
        #[serde(borrow)]
        name: Cow<'a, str>,
        /// Its policy options, in the order they are applied.
        options: Vec<(String, String)>,
    },
    /// The namespace `name` and everything in it no longer exist.
    NamespaceDrop {
        /// The namespace's name.
        #[serde(borrow)]
        name: Cow<'a, str>,
    },
    /// `key` holds exactly `value`, expiring at `expire_at` (0 = never), whatever it held before.
    Set {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        #[serde(borrow)]
        key: Blob<'a>,
        /// The whole value.
        #[serde(borrow)]
        value: StoredValue<'a>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// None of `keys` exists (also how expiry and eviction are logged).
    Del {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The keys that no longer exist.
        #[serde(borrow)]
        keys: Vec<Blob<'a>>,
    },
    /// `key`, if it exists, expires at `expire_at`; 0 = it has no expiry (`PERSIST`).
    Expire {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        #[serde(borrow)]
        key: Blob<'a>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// Database `db` of the namespace is empty.
    FlushDb {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
    },
    /// Every database of the namespace is empty (its sessions are untouched).
    FlushAll {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
    },
    /// Databases `a` and `b` of the namespace have exchanged their contents.
    ///
    /// The one effect that is not idempotent on its own: replaying it twice swaps back. It is
    /// safe because a record is replayed exactly once on top of the state the records before
    /// it produced, and a rewrite folds it into the base.
    SwapDb {
        /// The namespace's name.
        #[serde(borrow)]
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
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The session's whole state.
        #[serde(borrow)]
        session: StoredSession<'a>,
    },
    /// The session `id`, if it exists, was last used at `last_access` (which moves its idle
    /// deadline). Logged instead of a full [`Effect::SessionPut`] for reads that only refresh.
    SessionTouch {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The session id.
        id: [u8; 16],
        /// Unix ms of the last use.
        last_access: u64,
    },
    /// The session `id` no longer exists, not even as a recoverable ended session.
    SessionDel {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The session id.
        id: [u8; 16],
    },
    /// Several effects of one command (RENAME, MOVE, MSET, an expiry sweep of a shard, a
    /// transaction) in one record, so a crash keeps all of them or none.
    ///
    /// Never one inside another: the journal batches the effects of one change, none of
    /// which is a batch, so a nested batch is corruption, refused by the encoder and the
    /// decoder alike ([`flat_batch`]). That keeps decoding from recursing as deep as a
    /// record nests.
    Batch(
        #[serde(
            borrow,
            serialize_with = "flat_batch::serialize",
            deserialize_with = "flat_batch::deserialize"
        )]
        Vec<Effect<'a>>,
    ),
    /// The session in `record` exists exactly so: what [`Effect::SessionPut`] says, as the
    /// packed bytes sessiond keeps in memory (layout in `src/session/record.rs`; the timer
    /// bytes are ignored). A rewrite's base stores sessions this way, so that loading one is
    /// a copy, not a parse of every field.
    SessionRecord {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The packed record.
        #[serde(borrow)]
        record: Blob<'a>,
    },
    /// `key` holds a hash in which every field of `set` has its value and no field of `del`
    /// exists, its other fields as they were (none if `key` held no hash), expiring at
    /// `expire_at` (0 = never); a hash left without fields does not exist. Logged for a
    /// change to some fields of a large hash instead of its whole value, and by a rewrite
    /// for a large hash in parts (the parts of one hash may be replayed in any order).
    HashFields {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        #[serde(borrow)]
        key: Blob<'a>,
        /// Fields and the values they hold.
        #[serde(borrow)]
        set: Vec<Pair<'a>>,
        /// Fields that do not exist.
        #[serde(borrow)]
        del: Vec<Blob<'a>>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// `key` holds a set in which every member of `add` is and no member of `del` is, its
    /// other members as they were (none if `key` held no set), expiring at `expire_at`
    /// (0 = never); a set left without members does not exist. Logged for a change to some
    /// members of a large set instead of its whole value (SPOP's removed members among
    /// them), and by a rewrite for a large set in parts (which may be replayed in any order).
    SetMembers {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        #[serde(borrow)]
        key: Blob<'a>,
        /// Members that are in the set.
        #[serde(borrow)]
        add: Vec<Blob<'a>>,
        /// Members that are not.
        #[serde(borrow)]
        del: Vec<Blob<'a>>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// `key` holds a sorted set in which every member of `set` has its score and no member
    /// of `del` exists, its other members as they were (none if `key` held no sorted set),
    /// expiring at `expire_at` (0 = never); a sorted set left without members does not
    /// exist. Logged for a change to some members of a large sorted set instead of its whole
    /// value, and by a rewrite for a large sorted set in parts (replayed in any order).
    ZsetMembers {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        #[serde(borrow)]
        key: Blob<'a>,
        /// Members and the scores they have.
        #[serde(borrow)]
        set: Vec<(Blob<'a>, f64)>,
        /// Members that do not exist.
        #[serde(borrow)]
        del: Vec<Blob<'a>>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
    /// `key` holds a list whose elements have the logical indices `head .. head + len`
    /// (see `src/store/list.rs`), where each run of `runs` puts its elements at the logical
    /// indices from its first number on; the other elements inside the span are the ones
    /// the list held at those indices, and it holds none outside it. Expires at `expire_at`
    /// (0 = never); `len` 0 means the key does not exist.
    ///
    /// Invariant: a write logs the new span and the elements at every index whose element
    /// it changed (a push: the pushed ones; a pop or a trim: none; an insertion or removal
    /// in the middle: every element of the side it renumbered), so a push or pop on a long
    /// list costs what it pushed. Replaying a record on a later state (a rewrite's base
    /// that already holds it) may leave placeholders inside the span for a moment, but
    /// every index of the final span was last written by a record that is replayed after
    /// it, or is in the base: the records that follow converge to the right list. A
    /// rewrite writes a large list as parts with the same span (replayed in any order).
    ListElements {
        /// The namespace's name.
        #[serde(borrow)]
        namespace: Cow<'a, str>,
        /// The database index.
        db: u32,
        /// The key.
        #[serde(borrow)]
        key: Blob<'a>,
        /// The logical index of the head.
        head: i64,
        /// How many elements the list holds.
        len: u64,
        /// Runs of elements: the logical index of the first, and the elements in order.
        #[serde(borrow)]
        runs: Vec<(i64, Vec<Blob<'a>>)>,
        /// Unix ms when the key expires; 0 = no expiry.
        expire_at: u64,
    },
}

/// The encoding of a batch's effects, which refuses a batch among them.
mod flat_batch {
    use std::cell::Cell;

    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Effect;

    /// What the encoder and decoder say of a batch inside a batch.
    const NESTED: &str = "a batch inside a batch";

    thread_local! {
        /// Whether this thread is decoding a batch's effects. The derived decoder of
        /// [`Effect`] cannot pass a depth down, so the batch being decoded says so here.
        static IN_BATCH: Cell<bool> = const { Cell::new(false) };
    }

    /// Clears [`IN_BATCH`] when a batch's decoding ends, by error or unwinding too.
    struct LeaveBatch;

    impl Drop for LeaveBatch {
        fn drop(&mut self) {
            IN_BATCH.set(false);
        }
    }

    pub(super) fn serialize<S: Serializer>(
        effects: &[Effect<'_>],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if effects
            .iter()
            .any(|effect| matches!(effect, Effect::Batch(_)))
        {
            return Err(S::Error::custom(NESTED));
        }
        effects.serialize(serializer)
    }

    pub(super) fn deserialize<'de: 'a, 'a, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Effect<'a>>, D::Error> {
        if IN_BATCH.replace(true) {
            return Err(D::Error::custom(NESTED));
        }
        let _leave = LeaveBatch;
        Vec::deserialize(deserializer)
    }
}

/// A name and a value (hash fields, session fields).
pub type Pair<'a> = (Blob<'a>, Blob<'a>);

/// A key's whole value, one variant per Redis type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StoredValue<'a> {
    /// A string: its bytes.
    String(#[serde(borrow)] Blob<'a>),
    /// A hash: its fields and values.
    Hash(#[serde(borrow)] Vec<Pair<'a>>),
    /// A set: its members.
    Set(#[serde(borrow)] Vec<Blob<'a>>),
    /// A sorted set: its members and scores.
    SortedSet(#[serde(borrow)] Vec<(Blob<'a>, f64)>),
    /// A list: its elements, head first.
    List(#[serde(borrow)] Vec<Blob<'a>>),
}

/// A session's whole state, as `SESSION.INFO` and `SESSION.GET` would show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession<'a> {
    /// The id's 16 bytes (a UUID v4).
    pub id: [u8; 16],
    /// The owner; empty for an anonymous session.
    #[serde(borrow)]
    pub user: Blob<'a>,
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
    #[serde(borrow)]
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
fn owned(bytes: Blob<'_>) -> Blob<'static> {
    bytes.into_owned()
}

/// Bytes in a record: borrowed from the live state while a record is encoded, or from the
/// file's buffer while one is decoded; owned when they must outlive either. Encoded as a
/// byte string (varint length, then the bytes), which is how bincode encodes a `Vec<u8>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob<'a>(pub Cow<'a, [u8]>);

impl Blob<'_> {
    /// The same bytes, owned.
    pub fn into_owned(self) -> Blob<'static> {
        Blob(Cow::Owned(self.0.into_owned()))
    }

    /// The bytes as a vector (copied only when borrowed).
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into_owned()
    }
}

impl std::ops::Deref for Blob<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Blob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl<'a> From<&'a [u8]> for Blob<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Blob(Cow::Borrowed(bytes))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Blob<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        Blob(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for Blob<'static> {
    fn from(bytes: Vec<u8>) -> Self {
        Blob(Cow::Owned(bytes))
    }
}

impl Serialize for Blob<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Blob<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(BlobVisitor)
    }
}

/// Takes a byte string, borrowed from the input when the decoder can lend it.
struct BlobVisitor;

impl<'de> serde::de::Visitor<'de> for BlobVisitor {
    type Value = Blob<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_borrowed_bytes<E>(self, bytes: &'de [u8]) -> Result<Blob<'de>, E> {
        Ok(Blob(Cow::Borrowed(bytes)))
    }

    fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Blob<'de>, E> {
        Ok(Blob(Cow::Owned(bytes.to_vec())))
    }

    fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Blob<'de>, E> {
        Ok(Blob(Cow::Owned(bytes)))
    }
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
            Effect::SessionRecord { namespace, record } => Effect::SessionRecord {
                namespace: name(namespace),
                record: owned(record),
            },
            Effect::HashFields {
                namespace,
                db,
                key,
                set,
                del,
                expire_at,
            } => Effect::HashFields {
                namespace: name(namespace),
                db,
                key: owned(key),
                set: owned_pairs(set),
                del: del.into_iter().map(owned).collect(),
                expire_at,
            },
            Effect::SetMembers {
                namespace,
                db,
                key,
                add,
                del,
                expire_at,
            } => Effect::SetMembers {
                namespace: name(namespace),
                db,
                key: owned(key),
                add: add.into_iter().map(owned).collect(),
                del: del.into_iter().map(owned).collect(),
                expire_at,
            },
            Effect::ZsetMembers {
                namespace,
                db,
                key,
                set,
                del,
                expire_at,
            } => Effect::ZsetMembers {
                namespace: name(namespace),
                db,
                key: owned(key),
                set: set.into_iter().map(|(m, s)| (owned(m), s)).collect(),
                del: del.into_iter().map(owned).collect(),
                expire_at,
            },
            Effect::ListElements {
                namespace,
                db,
                key,
                head,
                len,
                runs,
                expire_at,
            } => Effect::ListElements {
                namespace: name(namespace),
                db,
                key: owned(key),
                head,
                len,
                runs: runs
                    .into_iter()
                    .map(|(start, elements)| (start, elements.into_iter().map(owned).collect()))
                    .collect(),
                expire_at,
            },
        }
    }
}

/// Pairs owning their data.
fn owned_pairs(pairs: Vec<Pair<'_>>) -> Vec<Pair<'static>> {
    pairs
        .into_iter()
        .map(|(a, b)| (owned(a), owned(b)))
        .collect()
}

impl StoredValue<'_> {
    /// The same value owning its data.
    pub fn into_owned(self) -> StoredValue<'static> {
        match self {
            StoredValue::String(data) => StoredValue::String(owned(data)),
            StoredValue::Hash(fields) => StoredValue::Hash(owned_pairs(fields)),
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
