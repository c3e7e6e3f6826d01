//! Loading the AOF at start-up: the base, then every incremental file, replayed into the
//! store; and creating an empty AOF where there is none.
//!
//! A torn tail of the last file (what a crash during an append leaves) is truncated when
//! `aof-load-truncated` is on, and logged with its size; any other damage stops start-up
//! with the file and offset. Keys whose deadline passed while the server was down are not
//! loaded; sessions past their deadline are loaded and end on the first tick of the wheel,
//! with their `expired` event.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::effect::{Blob, Effect, Pair, StoredSession, StoredValue};
use super::error::AofError;
use super::file::{AofReader, FileEnd, FileKind, HEADER_LEN};
use super::journal::create_aof_file;
use super::manifest::{MANIFEST_NAME, Manifest, ManifestEntry, base_name, incr_name};
use crate::session::record::NewSession;
use crate::session::{EndReason, Ending, Policy, Record, SessionId};
use crate::store::hash::{self, Hash, HashLimits};
use crate::store::set::{self, Set, SetLimits};
use crate::store::zset::{self, SortedSet, ZsetLimits};
use crate::store::{Database, List, ListLimits, Namespace, Shard, Store, Value};

/// What loading found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Files replayed.
    pub files: usize,
    /// Records applied.
    pub records: u64,
    /// A torn tail that was cut off: the file and how many bytes.
    pub truncated: Option<(PathBuf, u64)>,
    /// Whether the AOF was created empty (there was none).
    pub created: bool,
}

/// Loads the AOF in `dir` into `store` (creating an empty one when there is none) and
/// returns its manifest, ready for the journal to append to.
pub fn load(
    dir: &Path,
    store: &Store,
    load_truncated: bool,
    now: u64,
) -> Result<(Manifest, LoadReport), AofError> {
    if !dir.join(MANIFEST_NAME).exists() {
        return Ok((
            create_empty(dir)?,
            LoadReport {
                created: true,
                ..LoadReport::default()
            },
        ));
    }
    let manifest = Manifest::read(dir)?;
    let mut report = LoadReport::default();
    let mut replay = Replay::new(store, now);
    let last = manifest.files().count() - 1;
    for (index, entry) in manifest.files().enumerate() {
        let path = dir.join(&entry.name);
        // A base's records are independent (each key and session once, or a large hash in
        // parts that commute; every namespace's policy absolute), so threads can share it;
        // incremental files replay in order.
        let (records, end) = if entry.kind == FileKind::Base && index != last {
            replay_shared(&path, entry, store, now)?
        } else {
            replay_file(&path, entry, &mut replay, |_| true)?
        };
        report.records += records;
        report.files += 1;
        let FileEnd::Damaged(damage) = end else {
            continue;
        };
        if index != last || !damage.kind.is_torn() {
            return Err(AofError::Corrupt {
                path,
                offset: damage.offset,
                what: damage.kind.to_string(),
            });
        }
        if !load_truncated {
            return Err(AofError::TornTail {
                path,
                offset: damage.offset,
                bytes: damage.bytes,
            });
        }
        truncate(&path, damage.offset)?;
        report.truncated = Some((path, damage.bytes));
    }
    for namespace in store.namespaces() {
        namespace.sessions().reindex();
    }
    Ok((manifest, report))
}

/// Replays the records of the file `entry` at `path` that `select` picks (by position):
/// how many it applied, and how the file ends.
fn replay_file(
    path: &Path,
    entry: &ManifestEntry,
    replay: &mut Replay<'_>,
    select: impl Fn(u64) -> bool,
) -> Result<(u64, FileEnd), AofError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut reader = AofReader::new(file, path)?;
    if reader.kind() != entry.kind {
        return Err(AofError::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            what: format!(
                "the manifest lists a {} file, its header says {}",
                entry.kind.name(),
                reader.kind().name()
            ),
        });
    }
    let mut records = 0;
    let visited = reader.visit_selected(select, |record| match replay.apply(record.effect) {
        Ok(()) => {
            records += 1;
            ControlFlow::Continue(())
        }
        Err(what) => ControlFlow::Break((record.offset, what)),
    })?;
    match visited {
        ControlFlow::Continue(end) => Ok((records, end)),
        ControlFlow::Break((offset, what)) => Err(AofError::Unsupported {
            path: path.to_path_buf(),
            offset,
            what,
        }),
    }
}

/// Replays a base file on one thread per core (at most [`LOAD_THREADS`]), each taking every
/// n-th record and checking the ones it takes: how many were applied, and how the file ends
/// (the earliest damage any thread found).
fn replay_shared(
    path: &Path,
    entry: &ManifestEntry,
    store: &Store,
    now: u64,
) -> Result<(u64, FileEnd), AofError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, LOAD_THREADS) as u64;
    let outcomes: Vec<Result<(u64, FileEnd), AofError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|share| {
                scope.spawn(move || {
                    let mut replay = Replay::new(store, now);
                    replay_file(path, entry, &mut replay, |i| i % threads == share)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut records = 0;
    let mut end = FileEnd::Clean;
    for outcome in outcomes {
        let (applied, found) = outcome?;
        records += applied;
        end = match (end, found) {
            (FileEnd::Damaged(a), FileEnd::Damaged(b)) if b.offset < a.offset => {
                FileEnd::Damaged(b)
            }
            (FileEnd::Clean, found) => found,
            (kept, _) => kept,
        };
    }
    Ok((records, end))
}

/// The most threads that share the loading of a base.
const LOAD_THREADS: usize = 4;

/// Creates an empty AOF (base 1, incremental 1, manifest). Refuses when the directory holds
/// AOF files with records but no manifest: they may be someone's data.
fn create_empty(dir: &Path) -> Result<Manifest, AofError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let manifest = Manifest {
        base: ManifestEntry {
            name: base_name(1),
            seq: 1,
            kind: FileKind::Base,
        },
        incrementals: vec![ManifestEntry {
            name: incr_name(1),
            seq: 1,
            kind: FileKind::Incremental,
        }],
    };
    for entry in manifest.files() {
        let path = dir.join(&entry.name);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > HEADER_LEN as u64) {
            return Err(AofError::NoManifest {
                dir: dir.to_path_buf(),
            });
        }
    }
    for entry in manifest.files() {
        create_aof_file(dir, entry)?;
    }
    manifest.write(dir)?;
    Ok(manifest)
}

/// Cuts `path` at `offset` and makes the new length durable.
fn truncate(path: &Path, offset: u64) -> Result<(), AofError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    file.set_len(offset)
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AofError + '_ {
    move |source| AofError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Applies effects to a store, remembering the namespace of the last one (records of one
/// namespace come in runs).
struct Replay<'a> {
    store: &'a Store,
    now: u64,
    last: Option<Arc<Namespace>>,
    /// Namespaces dropped and not created again: a connection still inside when its
    /// namespace was dropped may have logged a last write after the drop.
    dropped: HashSet<String>,
}

impl<'a> Replay<'a> {
    fn new(store: &'a Store, now: u64) -> Self {
        Replay {
            store,
            now,
            last: None,
            dropped: HashSet::new(),
        }
    }

    /// The namespace called `name`, created with the default policy if the log names one
    /// that does not exist (its data is never dropped for want of a declaration); `None`
    /// when the log dropped it.
    fn namespace(&mut self, name: &str) -> Option<Arc<Namespace>> {
        match &self.last {
            Some(namespace) if namespace.name() == name => Some(namespace.clone()),
            _ if self.dropped.contains(name) => None,
            _ => {
                let namespace = self
                    .store
                    .namespace(name)
                    .unwrap_or_else(|| self.store.create_namespace(name, Policy::default()));
                self.last = Some(namespace.clone());
                Some(namespace)
            }
        }
    }

    /// Applies one effect; `Err` names what this build cannot apply.
    fn apply(&mut self, effect: Effect) -> Result<(), &'static str> {
        let now = self.now;
        match effect {
            Effect::NamespaceCreate { name, options } => {
                self.dropped.remove(name.as_ref());
                if let Some(namespace) = self.namespace(&name) {
                    // Options that no longer parse (a build with other limits) keep the
                    // default.
                    let _ = namespace.update_policy(|policy| {
                        *policy = Policy::default();
                        options
                            .iter()
                            .try_for_each(|(option, value)| policy.set(option, value))
                    });
                }
            }
            Effect::NamespaceDrop { name } => {
                self.last = None;
                if self.store.drop_namespace(&name).is_some() {
                    self.dropped.insert(name.into_owned());
                }
            }
            Effect::Set {
                namespace,
                db,
                key,
                value,
                expire_at,
            } => {
                let value = value_of(value, self.store)?;
                self.with_db(&namespace, db, |db| {
                    let mut shard = db.lock(&key);
                    if value.is_empty_collection() || (expire_at != 0 && expire_at <= now) {
                        shard.remove(&key, now);
                    } else {
                        shard.set(&key, value, (expire_at != 0).then_some(expire_at), now);
                    }
                });
            }
            Effect::Del {
                namespace,
                db,
                keys,
            } => self.with_db(&namespace, db, |db| {
                for key in keys {
                    db.lock(&key).remove(&key, now);
                }
            }),
            Effect::Expire {
                namespace,
                db,
                key,
                expire_at,
            } => self.with_db(&namespace, db, |db| {
                let mut shard = db.lock(&key);
                if expire_at != 0 && expire_at <= now {
                    shard.remove(&key, now);
                } else {
                    shard.set_deadline(&key, (expire_at != 0).then_some(expire_at));
                }
            }),
            Effect::FlushDb { namespace, db } => self.with_db(&namespace, db, |db| db.flush(now)),
            Effect::FlushAll { namespace } => {
                if let Some(namespace) = self.namespace(&namespace) {
                    namespace.flush_all(now);
                }
            }
            Effect::SwapDb { namespace, a, b } => {
                if let Some(namespace) = self.namespace(&namespace) {
                    let (low, high) = (a.min(b) as usize, a.max(b) as usize);
                    if let (Some(low), Some(high)) =
                        (namespace.database(low), namespace.database(high))
                        && low.index() != high.index()
                    {
                        low.swap_with(high);
                    }
                }
            }
            Effect::SessionPut { namespace, session } => {
                let record = record_of(&session)?;
                if let Some(namespace) = self.namespace(&namespace) {
                    namespace.sessions().restore(record);
                }
            }
            Effect::SessionTouch {
                namespace,
                id,
                last_access,
            } => {
                if let Some(namespace) = self.namespace(&namespace) {
                    let id = SessionId::from_bytes(id);
                    namespace.sessions().restore_touch(&id, last_access);
                }
            }
            Effect::SessionDel { namespace, id } => {
                if let Some(namespace) = self.namespace(&namespace) {
                    namespace.sessions().forget(&SessionId::from_bytes(id));
                }
            }
            Effect::Batch(effects) => {
                for effect in effects {
                    self.apply(effect)?;
                }
            }
            Effect::SessionRecord { namespace, record } => {
                let record =
                    Record::from_packed(&record).ok_or("the packed session is malformed")?;
                if let Some(namespace) = self.namespace(&namespace) {
                    namespace.sessions().restore(record);
                }
            }
            Effect::HashFields {
                namespace,
                db,
                key,
                set,
                del,
                expire_at,
            } => {
                let limits = self.store.hash_limits();
                self.with_db(&namespace, db, |db| {
                    let mut shard = db.lock(&key);
                    apply_hash_fields(&mut shard, &key, &set, &del, expire_at, now, limits);
                });
            }
            Effect::SetMembers {
                namespace,
                db,
                key,
                add,
                del,
                expire_at,
            } => {
                let limits = self.store.set_limits();
                self.with_db(&namespace, db, |db| {
                    let mut shard = db.lock(&key);
                    apply_set_members(&mut shard, &key, &add, &del, expire_at, now, limits);
                });
            }
            Effect::ZsetMembers {
                namespace,
                db,
                key,
                set,
                del,
                expire_at,
            } => {
                if set.iter().any(|(_, score)| score.is_nan()) {
                    return Err("a sorted set score is NaN");
                }
                let limits = self.store.zset_limits();
                self.with_db(&namespace, db, |db| {
                    let mut shard = db.lock(&key);
                    apply_zset_members(&mut shard, &key, &set, &del, expire_at, now, limits);
                });
            }
            Effect::ListElements {
                namespace,
                db,
                key,
                head,
                len,
                runs,
                expire_at,
            } => {
                // Logical indices stay within ±2^62, so no number of pushes after loading
                // can overflow them.
                const BOUND: i64 = 1 << 62;
                let span = i64::try_from(len)
                    .ok()
                    .and_then(|len| Some(head..head.checked_add(len)?))
                    .filter(|span| -BOUND <= span.start && span.end <= BOUND)
                    .ok_or("a list's logical indices are out of range")?;
                let limits = self.store.list_limits();
                self.with_db(&namespace, db, |db| {
                    let mut shard = db.lock(&key);
                    apply_list_elements(&mut shard, &key, span, &runs, expire_at, now, limits);
                });
            }
        }
        Ok(())
    }

    /// Runs `f` on database `db` of namespace `name`, if both exist.
    fn with_db(&mut self, name: &str, db: u32, f: impl FnOnce(&Database)) {
        if let Some(namespace) = self.namespace(name)
            && let Some(db) = namespace.database(db as usize)
        {
            f(db);
        }
    }
}

/// Replays a record that names some members of a collection (`HashFields`,
/// `SetMembers`, `ZsetMembers`) on the locked `shard`: `edit` applies it to the collection
/// `key` holds and says whether that is left empty, or returns `None` when `key` holds no
/// collection of its type; then `fresh` builds the collection from the record alone. A
/// collection left empty, or a deadline already past, removes the key.
fn apply_members(
    shard: &mut Shard,
    key: &[u8],
    expire_at: u64,
    now: u64,
    edit: impl FnOnce(&mut Shard) -> Option<bool>,
    fresh: impl FnOnce() -> Value,
) {
    if expire_at != 0 && expire_at <= now {
        shard.remove(key, now);
        return;
    }
    let emptied = edit(shard).unwrap_or_else(|| {
        let value = fresh();
        let empty = value.is_empty_collection();
        if !empty {
            shard.set(key, value, None, now);
        }
        empty
    });
    if emptied {
        shard.remove(key, now);
        return;
    }
    shard.set_deadline(key, (expire_at != 0).then_some(expire_at));
}

/// Applies an [`Effect::HashFields`] to the locked `shard`.
fn apply_hash_fields(
    shard: &mut Shard,
    key: &[u8],
    set: &[Pair],
    del: &[Blob],
    expire_at: u64,
    now: u64,
    limits: HashLimits,
) {
    let pairs = || set.iter().map(|(field, value)| (&field[..], &value[..]));
    let edit = |shard: &mut Shard| {
        let mut edit = hash::edit(shard, key, now, limits).ok().flatten()?;
        for (field, value) in pairs() {
            edit.insert(field, value);
        }
        for field in del {
            edit.remove(field);
        }
        Some(edit.hash().is_empty())
    };
    let fresh = || Value::Hash(Hash::from_pairs(pairs(), limits));
    apply_members(shard, key, expire_at, now, edit, fresh);
}

/// Applies an [`Effect::SetMembers`] to the locked `shard`.
fn apply_set_members(
    shard: &mut Shard,
    key: &[u8],
    add: &[Blob],
    del: &[Blob],
    expire_at: u64,
    now: u64,
    limits: SetLimits,
) {
    let edit = |shard: &mut Shard| {
        let mut edit = set::edit(shard, key, now, limits).ok().flatten()?;
        for member in add {
            edit.insert(member);
        }
        for member in del {
            edit.remove(member);
        }
        Some(edit.set().is_empty())
    };
    let fresh = || Value::Set(Set::from_members(add.iter().map(|m| &m[..]), limits));
    apply_members(shard, key, expire_at, now, edit, fresh);
}

/// Applies an [`Effect::ZsetMembers`] to the locked `shard`.
fn apply_zset_members(
    shard: &mut Shard,
    key: &[u8],
    set: &[(Blob, f64)],
    del: &[Blob],
    expire_at: u64,
    now: u64,
    limits: ZsetLimits,
) {
    let scored = || set.iter().map(|(member, score)| (&member[..], *score));
    let edit = |shard: &mut Shard| {
        let mut edit = zset::edit(shard, key, now, limits).ok().flatten()?;
        for (member, score) in scored() {
            edit.insert(member, score);
        }
        for member in del {
            edit.remove(member);
        }
        Some(edit.set().is_empty())
    };
    let fresh = || Value::SortedSet(SortedSet::from_entries(scored(), limits));
    apply_members(shard, key, expire_at, now, edit, fresh);
}

/// Applies an [`Effect::ListElements`] to the locked `shard`.
fn apply_list_elements(
    shard: &mut Shard,
    key: &[u8],
    span: std::ops::Range<i64>,
    runs: &[(i64, Vec<Blob>)],
    expire_at: u64,
    now: u64,
    limits: ListLimits,
) {
    if span.is_empty() || (expire_at != 0 && expire_at <= now) {
        shard.remove(key, now);
        return;
    }
    let apply = |list: &mut List| {
        list.reframe(span.clone(), limits);
        for (start, elements) in runs {
            let elements: Vec<&[u8]> = elements.iter().map(|element| &element[..]).collect();
            list.overwrite(*start, &elements, limits);
        }
        list.compact(limits);
    };
    let existing = shard
        .get_mut(key, now)
        .and_then(|entry| match &mut entry.value {
            Value::List(list) => Some(list),
            _ => None,
        });
    if let Some(list) = existing {
        apply(list);
    } else {
        let mut list = List::default();
        apply(&mut list);
        shard.set(key, Value::List(list), None, now);
    }
    shard.set_deadline(key, (expire_at != 0).then_some(expire_at));
}

/// A stored value as the store holds it, in the encoding the store's limits pick.
fn value_of(value: StoredValue, store: &Store) -> Result<Value, &'static str> {
    match value {
        StoredValue::String(data) => Ok(Value::string(Bytes::copy_from_slice(&data))),
        StoredValue::Hash(pairs) => Ok(Value::Hash(Hash::from_pairs(
            pairs.iter().map(|(field, value)| (&field[..], &value[..])),
            store.hash_limits(),
        ))),
        StoredValue::Set(members) => Ok(Value::Set(Set::from_members(
            members.iter().map(|member| &member[..]),
            store.set_limits(),
        ))),
        StoredValue::SortedSet(members) => {
            if members.iter().any(|(_, score)| score.is_nan()) {
                return Err("a sorted set score is NaN");
            }
            Ok(Value::SortedSet(SortedSet::from_entries(
                members.iter().map(|(member, score)| (&member[..], *score)),
                store.zset_limits(),
            )))
        }
        StoredValue::List(elements) => Ok(Value::List(List::from_elements(
            0,
            elements.iter().map(|element| &element[..]),
            store.list_limits(),
        ))),
    }
}

/// A stored session as a packed record; `Err` for an end reason this build does not know.
fn record_of(session: &StoredSession) -> Result<Record, &'static str> {
    let new = NewSession {
        id: SessionId::from_bytes(session.id),
        user: &session.user,
        created_at: session.created_at,
        idle_timeout_s: session.idle_timeout_s,
        absolute_deadline: session.absolute_deadline,
        version: session.version,
    };
    let ending = match session.ending {
        None => None,
        Some(ending) => Some(Ending {
            reason: EndReason::from_code(ending.reason).ok_or("unknown session end reason")?,
            ended_at: ending.ended_at,
            recoverable_until: ending.recoverable_until,
        }),
    };
    let fields = session
        .fields
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()));
    Ok(Record::restore(&new, session.last_access, ending, fields))
}
