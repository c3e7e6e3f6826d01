//! The keyspace: namespaces → databases → shards, and the expiry machinery.
//!
//! ```text
//! Store ── Namespace "default" ── Database 0 ── ShardSlot 0: Mutex<Shard{map, wheel}>
//!       │                      │             └─ ShardSlot 1 ...
//!       │                      └─ Database 1 ...
//!       └─ Namespace "tenant-b" ...                 ▲
//!                                                   │ advance(now) when next_due ≤ now
//!                                 expiry driver thread (expiry.rs)
//! ```

pub mod database;
pub mod eviction;
pub mod expiry;
pub mod gate;
pub mod hash;
pub mod list;
pub mod listpack;
pub mod random_pick;
pub mod set;
pub mod shard;
pub mod value;
pub mod watch;
pub mod wheel;
pub mod zset;

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use foldhash::fast::RandomState;
use parking_lot::RwLock;

pub use database::{Database, DatabaseLinks, MultiGuard, ShardGuard};
pub use expiry::ExpiryClock;
pub use gate::TransactionGate;
pub use hash::{Hash, HashLimits};
pub use list::{List, ListLimits};
pub use set::{Set, SetLimits};
pub use shard::{Entry, Key, Shard};
pub use value::Value;
pub use zset::{SortedSet, ZsetLimits};

use crate::persistence::{Effect, Journal};
use crate::pubsub::Hub;
use crate::session::{Policy, Sessions, SharedPolicy};

/// The current time in Unix milliseconds, the clock every deadline is measured on.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An isolated world: its own databases, sessions and session policy.
#[derive(Debug)]
pub struct Namespace {
    id: u32,
    name: String,
    policy: SharedPolicy,
    sessions: Sessions,
    /// Created on first use: `databases` may be large and most apps use database 0.
    databases: Box<[OnceLock<Database>]>,
    shards: usize,
    /// Shared by every database, so a key has the same shard index in each (SWAPDB).
    hasher: RandomState,
    links: DatabaseLinks,
}

impl Namespace {
    /// The namespace's name, as used in `SESSION.NAMESPACE` and event channels.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A small number that identifies the namespace inside the pub/sub hub.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The session policy in force.
    pub fn policy(&self) -> Policy {
        self.policy.load()
    }

    /// Changes the session policy; `change` may refuse by returning an error. The new
    /// policy is journaled.
    pub fn update_policy<E>(
        &self,
        change: impl FnOnce(&mut Policy) -> Result<(), E>,
    ) -> Result<(), E> {
        self.policy.update_then(change, |policy| {
            journal_namespace(&self.links.journal, &self.name, policy);
        })
    }

    /// The namespace's sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The databases in use so far (the others are empty), by index.
    pub fn databases(&self) -> impl Iterator<Item = &Database> {
        self.databases.iter().filter_map(OnceLock::get)
    }

    /// Empties every database (FLUSHALL; sessions stay), logged as one record of a
    /// `FlushDb` for each database it emptied (not `FlushAll`: a database first used after
    /// the flush began keeps its keys, on replay too). All their shards are locked first,
    /// lower database first, so the flush is one step for everyone.
    pub fn flush_all(&self, now: u64) {
        let databases: Vec<&Database> = self.databases().collect();
        let mut locked: Vec<Vec<ShardGuard<'_>>> =
            databases.iter().map(|db| db.lock_all()).collect();
        let flushes = databases.iter().map(|db| Effect::FlushDb {
            namespace: self.name.as_str().into(),
            db: db.index() as u32,
        });
        self.links.journal.append(flushes, true);
        for shards in &mut locked {
            database::clear_shards(shards, now);
        }
    }

    /// Database `index`, created empty on first use; `None` past `databases`.
    pub fn database(&self, index: usize) -> Option<&Database> {
        let slot = self.databases.get(index)?;
        Some(slot.get_or_init(|| {
            Database::new(
                index,
                self.shards,
                self.hasher.clone(),
                self.links.clone(),
                now_ms(),
            )
        }))
    }
}

/// Logs that namespace `name` exists with `policy`.
fn journal_namespace(journal: &Journal, name: &str, policy: &Policy) {
    journal.append_one(&namespace_effect(name, policy), true);
}

/// The effect that recreates namespace `name` with `policy`.
pub fn namespace_effect<'a>(name: &'a str, policy: &Policy) -> Effect<'a> {
    Effect::NamespaceCreate {
        name: name.into(),
        options: policy
            .options()
            .into_iter()
            .map(|(option, value)| (option.to_string(), value))
            .collect(),
    }
}

/// How the store is laid out, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct StoreLayout {
    /// Databases per namespace (`databases`).
    pub databases: usize,
    /// Shards per database (`shards`).
    pub shards: usize,
}

/// Every namespace, plus what the expiry driver needs.
#[derive(Debug)]
pub struct Store {
    layout: StoreLayout,
    namespaces: RwLock<Vec<Arc<Namespace>>>,
    /// Namespace ids are never reused: a dropped namespace's subscriptions may outlive it
    /// briefly (until its connections close) and must not hear a newer namespace.
    next_namespace_id: AtomicU32,
    hub: Arc<Hub>,
    journal: Arc<Journal>,
    clock: Arc<ExpiryClock>,
    expired_keys: Arc<AtomicU64>,
    /// Keys removed for `maxmemory` (INFO `evicted_keys`).
    evicted_keys: AtomicU64,
    gate: TransactionGate,
    hash_limits: EncodingLimits,
    zset_limits: EncodingLimits,
    /// `list-max-listpack-size`.
    list_max_packed_size: AtomicI32,
    set_limits: SetEncodingLimits,
}

/// A compact encoding's two thresholds, changed at run time by `CONFIG SET`.
#[derive(Debug)]
struct EncodingLimits {
    entries: AtomicUsize,
    value: AtomicUsize,
}

/// The set encodings' thresholds, changed at run time by `CONFIG SET`.
#[derive(Debug)]
struct SetEncodingLimits {
    intset_entries: AtomicUsize,
    packed: EncodingLimits,
}

/// The namespace every connection starts in.
pub const DEFAULT_NAMESPACE: &str = "default";

impl Store {
    /// A store holding the `default` namespace, whose changes are logged to `journal`.
    pub fn new(layout: StoreLayout, hub: Arc<Hub>, journal: Arc<Journal>) -> Self {
        let store = Store {
            layout,
            namespaces: RwLock::new(Vec::new()),
            next_namespace_id: AtomicU32::new(0),
            hub,
            journal,
            clock: Arc::new(ExpiryClock::default()),
            expired_keys: Arc::new(AtomicU64::new(0)),
            evicted_keys: AtomicU64::new(0),
            gate: TransactionGate::default(),
            hash_limits: EncodingLimits {
                entries: AtomicUsize::new(HashLimits::default().max_packed_entries),
                value: AtomicUsize::new(HashLimits::default().max_packed_value),
            },
            zset_limits: EncodingLimits {
                entries: AtomicUsize::new(ZsetLimits::default().max_packed_entries),
                value: AtomicUsize::new(ZsetLimits::default().max_packed_value),
            },
            list_max_packed_size: AtomicI32::new(ListLimits::default().max_packed_size),
            set_limits: SetEncodingLimits {
                intset_entries: AtomicUsize::new(SetLimits::default().max_intset_entries),
                packed: EncodingLimits {
                    entries: AtomicUsize::new(SetLimits::default().max_packed_entries),
                    value: AtomicUsize::new(SetLimits::default().max_packed_value),
                },
            },
        };
        store.create_namespace(DEFAULT_NAMESPACE, Policy::default());
        store
    }

    /// Creates a namespace with `policy`; returns the existing one of that name unchanged.
    pub fn create_namespace(&self, name: &str, policy: Policy) -> Arc<Namespace> {
        let mut namespaces = self.namespaces.write();
        if let Some(existing) = namespaces.iter().find(|ns| ns.name == name) {
            return existing.clone();
        }
        let id = self.next_namespace_id.fetch_add(1, Ordering::Relaxed);
        let namespace = Arc::new(Namespace {
            id,
            name: name.to_string(),
            policy: SharedPolicy::new(policy),
            sessions: Sessions::new(
                self.layout.shards,
                self.hub.clone(),
                self.journal.clone(),
                id,
                name,
                self.clock.clone(),
                now_ms(),
            ),
            databases: (0..self.layout.databases)
                .map(|_| OnceLock::new())
                .collect(),
            shards: self.layout.shards,
            hasher: RandomState::default(),
            links: DatabaseLinks {
                hub: self.hub.clone(),
                namespace: id,
                namespace_name: Arc::from(name),
                journal: self.journal.clone(),
                clock: self.clock.clone(),
                expired_keys: self.expired_keys.clone(),
            },
        });
        journal_namespace(&self.journal, name, &policy);
        namespaces.push(namespace.clone());
        namespace
    }

    /// The namespace called `name`.
    pub fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        self.namespaces
            .read()
            .iter()
            .find(|ns| ns.name == name)
            .cloned()
    }

    /// Removes the namespace called `name` and returns it; its data is freed when the last
    /// connection inside lets go of it. `None` when there is none, and always for `default`,
    /// which every connection may return to.
    pub fn drop_namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        if name == DEFAULT_NAMESPACE {
            return None;
        }
        let mut namespaces = self.namespaces.write();
        let index = namespaces.iter().position(|ns| ns.name == name)?;
        let effect = Effect::NamespaceDrop { name: name.into() };
        self.journal.append_one(&effect, true);
        Some(namespaces.remove(index))
    }

    /// A snapshot of all namespaces.
    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        self.namespaces.read().clone()
    }

    /// Keys evicted for `maxmemory` since start.
    pub fn evicted_keys(&self) -> u64 {
        self.evicted_keys.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What EXEC holds exclusively and everything else shared.
    pub fn gate(&self) -> &TransactionGate {
        &self.gate
    }

    /// Where changes are logged.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// The clock the expiry driver sleeps on.
    pub fn clock(&self) -> &Arc<ExpiryClock> {
        &self.clock
    }

    /// Keys removed because their deadline passed, since start.
    pub fn expired_keys(&self) -> u64 {
        self.expired_keys.load(Ordering::Relaxed)
    }

    /// When a hash leaves the packed encoding (`hash-max-listpack-*`).
    pub fn hash_limits(&self) -> HashLimits {
        HashLimits {
            max_packed_entries: self.hash_limits.entries.load(Ordering::Relaxed),
            max_packed_value: self.hash_limits.value.load(Ordering::Relaxed),
        }
    }

    /// Changes when hashes leave the packed encoding, from now on (hashes already tables
    /// stay tables).
    pub fn set_hash_limits(&self, limits: HashLimits) {
        let stored = &self.hash_limits;
        stored
            .entries
            .store(limits.max_packed_entries, Ordering::Relaxed);
        stored
            .value
            .store(limits.max_packed_value, Ordering::Relaxed);
    }

    /// When a set leaves the integer and packed encodings (`set-max-intset-entries`,
    /// `set-max-listpack-*`).
    pub fn set_limits(&self) -> SetLimits {
        let stored = &self.set_limits;
        SetLimits {
            max_intset_entries: stored.intset_entries.load(Ordering::Relaxed),
            max_packed_entries: stored.packed.entries.load(Ordering::Relaxed),
            max_packed_value: stored.packed.value.load(Ordering::Relaxed),
        }
    }

    /// Changes when sets leave the compact encodings, from now on (sets already converted
    /// stay as they are).
    pub fn set_set_limits(&self, limits: SetLimits) {
        let stored = &self.set_limits;
        stored
            .intset_entries
            .store(limits.max_intset_entries, Ordering::Relaxed);
        stored
            .packed
            .entries
            .store(limits.max_packed_entries, Ordering::Relaxed);
        stored
            .packed
            .value
            .store(limits.max_packed_value, Ordering::Relaxed);
    }

    /// When a sorted set leaves the packed encoding (`zset-max-listpack-*`).
    pub fn zset_limits(&self) -> ZsetLimits {
        ZsetLimits {
            max_packed_entries: self.zset_limits.entries.load(Ordering::Relaxed),
            max_packed_value: self.zset_limits.value.load(Ordering::Relaxed),
        }
    }

    /// Changes when sorted sets leave the packed encoding, from now on (skiplists stay
    /// skiplists).
    pub fn set_zset_limits(&self, limits: ZsetLimits) {
        let stored = &self.zset_limits;
        stored
            .entries
            .store(limits.max_packed_entries, Ordering::Relaxed);
        stored
            .value
            .store(limits.max_packed_value, Ordering::Relaxed);
    }

    /// When a list leaves the packed encoding (`list-max-listpack-size`).
    pub fn list_limits(&self) -> ListLimits {
        ListLimits {
            max_packed_size: self.list_max_packed_size.load(Ordering::Relaxed),
        }
    }

    /// Changes when lists leave the packed encoding, from now on.
    pub fn set_list_limits(&self, limits: ListLimits) {
        self.list_max_packed_size
            .store(limits.max_packed_size, Ordering::Relaxed);
    }

    /// The layout the store was built with.
    pub fn layout(&self) -> StoreLayout {
        self.layout
    }
}
