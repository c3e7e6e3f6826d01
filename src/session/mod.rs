//! Sessions: server-generated ids, idle and absolute deadlines, per-user caps, end, rotate,
//! recover, statistics and lifecycle events. Each namespace owns one [`Sessions`].
//!
//! ```text
//! Sessions ── UserIndex (sharded by user): user → ids oldest first      lock 1st
//!          ── SessionShard × N (sharded by id): slab of packed Records   lock 2nd
//!                                               + timing wheel
//!          ── SessionStats (atomics), SessionEvents (pub/sub)
//! ```
//!
//! Reads and writes by id lock one session shard. Whatever can change how many sessions a
//! user has (CREATE, RECOVER, ROTATE, ENDALL, the cap) first locks the user's index shard.
//! Shards queue the state changes they make ([`shard::Released`]); they are settled
//! (counters, events, index tidying) after every lock is released.

pub mod events;
pub mod id;
pub mod policy;
pub mod record;
pub mod shard;
pub mod stats;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

pub use events::Event;
pub use id::SessionId;
pub use policy::{Policy, SharedPolicy};
pub use record::{EndReason, Ending, Record};
pub use stats::StatsSnapshot;

use crate::config::OnLimit;
use crate::persistence::{Effect, Journal, capture};
use crate::pubsub::Hub;
use crate::store::ExpiryClock;
use events::SessionEvents;
use record::NewSession;
use shard::{Released, SessionChange, SessionShard};
use stats::SessionStats;
use users::{UserIndex, UserSessions};

/// Why a session command was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The user holds the most sessions the policy allows and `on-limit` is `reject`.
    #[error("SESSIONLIMIT user has reached max-sessions-per-user ({0})")]
    Limit(u64),
    /// The session's data would exceed `max-session-bytes`.
    #[error("ERR session data would be {size} bytes, over max-session-bytes ({max})")]
    TooLarge {
        /// Bytes of names and values the session would hold.
        size: usize,
        /// The policy's limit.
        max: u64,
    },
    /// SESSION.CAS with a version that is not the current one.
    #[error("CONFLICT current version is {0}")]
    Conflict(u64),
}

/// What SESSION.CREATE asks for.
pub struct CreateRequest<'a> {
    /// The owner; `""` for an anonymous session, which counts against no cap.
    pub user: &'a [u8],
    /// Idle timeout in seconds instead of the policy's (0 = none).
    pub idle_s: Option<u64>,
    /// Absolute timeout in seconds instead of the policy's (0 = none).
    pub absolute_s: Option<u64>,
    /// Initial fields.
    pub fields: &'a [Field<'a>],
}

/// A field and its value.
pub type Field<'a> = (&'a [u8], &'a [u8]);

/// A change of fields: `Some(value)` sets, `None` removes.
pub type Change<'a> = (&'a [u8], Option<&'a [u8]>);

/// A shard and what the expiry driver may read without its lock.
#[derive(Debug)]
struct ShardSlot {
    shard: Mutex<SessionShard>,
    /// A lower bound of the shard's earliest timer (`u64::MAX` when none).
    next_due: AtomicU64,
}

/// One namespace's sessions.
#[derive(Debug)]
pub struct Sessions {
    shards: Box<[ShardSlot]>,
    users: UserIndex,
    stats: SessionStats,
    events: SessionEvents,
    clock: Arc<ExpiryClock>,
    journal: Arc<Journal>,
    /// The namespace's name, as the journal records it.
    name: Arc<str>,
}

/// A locked session shard; on drop it logs its changes and tells the expiry driver about
/// earlier timers.
struct ShardGuard<'a> {
    shard: MutexGuard<'a, SessionShard>,
    slot: &'a ShardSlot,
    clock: &'a ExpiryClock,
    journal: &'a Journal,
    namespace: &'a str,
    /// Effects of an earlier shard of the same operation, logged with this one's as one
    /// record (ROTATE, RECOVER: the old id goes and the new one comes in one piece).
    carried: Vec<Effect<'static>>,
}

impl ShardGuard<'_> {
    /// The effects of this shard's changes so far, to be logged by a later guard of the same
    /// operation ([`ShardGuard::carry`]) instead of now. Only for a session that nobody else
    /// can reach meanwhile (one just taken out), so deferring cannot reorder its records.
    fn take_effects(&mut self) -> Vec<Effect<'static>> {
        let mut effects = std::mem::take(&mut self.carried);
        let changes = self.shard.take_changes();
        effects.extend(changes.iter().filter_map(|(id, change)| {
            let touch_only = *change == SessionChange::Touch;
            capture::session_change(self.namespace, &self.shard, id, touch_only)
                .map(Effect::into_owned)
        }));
        self.shard.recycle_changes(changes);
        effects
    }

    /// Logs `effects` (from [`ShardGuard::take_effects`]) together with this shard's own.
    fn carry(&mut self, effects: Vec<Effect<'static>>) {
        self.carried.extend(effects);
    }

    /// Logs the changes recorded so far: states (and carried effects) as one record that the
    /// reply waits for, touches as one that nobody waits for.
    fn journal_changes(&mut self) {
        let changes = self.shard.take_changes();
        let carried = std::mem::take(&mut self.carried);
        let (shard, namespace): (&SessionShard, &str) = (&self.shard, self.namespace);
        let effects = |touches: bool| {
            changes
                .iter()
                .filter(move |(_, change)| (*change == SessionChange::Touch) == touches)
                .filter_map(move |(id, _)| capture::session_change(namespace, shard, id, touches))
        };
        self.journal
            .append(carried.into_iter().chain(effects(false)), true);
        self.journal.append(effects(true), false);
        self.shard.recycle_changes(changes);
    }
}

impl std::ops::Deref for ShardGuard<'_> {
    type Target = SessionShard;

    fn deref(&self) -> &SessionShard {
        &self.shard
    }
}

impl std::ops::DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut SessionShard {
        &mut self.shard
    }
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        if self.shard.has_changes() || !self.carried.is_empty() {
            self.journal_changes();
        }
        if let Some(deadline) = self.shard.take_armed() {
            self.slot.next_due.fetch_min(deadline, Ordering::AcqRel);
            self.clock.note_deadline(deadline);
        }
    }
}

/// Touches are journaled at most once per this many milliseconds of a session's clock (the
/// first touch in each such interval), so a read-heavy session costs few records; after a
/// restart a session's idle deadline is at most this much earlier than it was.
const TOUCH_LOG_MS: u64 = 1000;

/// Seconds as stored in a record (u32), refusing what does not fit.
fn timeout_seconds(seconds: u64) -> u32 {
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

impl Sessions {
    /// No sessions yet; events go to `hub` under namespace `namespace` called `name`, and
    /// changes to `journal`.
    pub fn new(
        shards: usize,
        hub: Arc<Hub>,
        journal: Arc<Journal>,
        namespace: u32,
        name: &str,
        clock: Arc<ExpiryClock>,
        now: u64,
    ) -> Self {
        Sessions {
            shards: (0..shards.max(1))
                .map(|_| ShardSlot {
                    shard: Mutex::new(SessionShard::new(now)),
                    next_due: AtomicU64::new(u64::MAX),
                })
                .collect(),
            users: UserIndex::new(shards),
            stats: SessionStats::new(name),
            events: SessionEvents::new(hub, namespace, name),
            clock,
            journal,
            name: Arc::from(name),
        }
    }

    fn lock(&self, id: &SessionId) -> ShardGuard<'_> {
        let bytes = id.bytes();
        let spread = u64::from_le_bytes([
            bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15], 0, 0,
        ]);
        self.lock_index((spread % self.shards.len() as u64) as usize)
    }

    fn lock_index(&self, index: usize) -> ShardGuard<'_> {
        let slot = &self.shards[index];
        let mut shard = slot.shard.lock();
        shard.set_journaled(self.journal.is_active());
        ShardGuard {
            shard,
            slot,
            clock: &self.clock,
            journal: &self.journal,
            namespace: &self.name,
            carried: Vec::new(),
        }
    }

    /// Runs `f` on the shard of `id`, then settles what it released.
    fn with_shard<R>(&self, id: &SessionId, f: impl FnOnce(&mut SessionShard) -> R) -> R {
        let mut shard = self.lock(id);
        let result = f(&mut shard);
        let released = shard.take_released();
        drop(shard);
        self.settle(released);
        result
    }

    /// Accounts for state changes after the locks are gone: counters, events, index tidying.
    fn settle(&self, released: Vec<Released>) {
        self.account(&released);
        self.announce(released);
    }

    /// The counters' part of settling. It takes no lock, so it may run under the user's lock:
    /// admitting a session counts the ones it evicted first, and `active` (hence
    /// `peak_active`) never counts an evicted session and its replacement at once.
    fn account(&self, released: &[Released]) {
        for change in released {
            match change {
                Released::Left {
                    reason,
                    duration_ms,
                    late_ms,
                    recoverable,
                    ..
                } => self
                    .stats
                    .left(*reason, *duration_ms, *late_ms, *recoverable),
                Released::Purged => self.stats.purged(),
            }
        }
    }

    /// The rest of settling, once every lock is released: events and index tidying.
    fn announce(&self, released: Vec<Released>) {
        for change in released {
            if let Released::Left {
                id, user, reason, ..
            } = change
            {
                let event = match reason {
                    EndReason::Ended | EndReason::Cleanup => Event::Ended,
                    EndReason::Expired => Event::Expired,
                    EndReason::Evicted => Event::Evicted,
                };
                self.events.publish(event, || id.text().to_vec());
                if !user.is_empty() {
                    self.note_stale(&user);
                }
            }
        }
    }

    /// One of `user`'s indexed ids has ended; compacts the entry when many have.
    fn note_stale(&self, user: &[u8]) {
        let mut released = Vec::new();
        {
            let mut users = self.users.lock(user);
            let Some(entry) = users.get(user) else {
                return;
            };
            if entry.note_stale() {
                self.retain_active(entry, None, &mut released);
                users.remove_if_empty(user);
            }
        }
        self.settle(released);
    }

    /// Drops the ids of `entry` that are no longer active. With `clock` (now, recovery
    /// window) each session is first brought up to date with the time; without it only
    /// sessions already ended go.
    fn retain_active(
        &self,
        entry: &mut UserSessions,
        clock: Option<(u64, u64)>,
        released: &mut Vec<Released>,
    ) {
        entry.retain(|id| {
            let mut shard = self.lock(id);
            let active = match clock {
                Some((now, window_ms)) => shard.active(id, now, window_ms).is_some(),
                None => shard.is_active(id),
            };
            released.extend(shard.take_released());
            active
        });
    }

    /// Creates a session and returns its id.
    pub fn create(
        &self,
        request: &CreateRequest,
        policy: &Policy,
        now: u64,
    ) -> Result<SessionId, SessionError> {
        let idle_s = request.idle_s.unwrap_or(policy.idle_timeout_ms / 1000);
        let absolute_ms = request
            .absolute_s
            .map_or(policy.absolute_timeout_ms, |s| s.saturating_mul(1000));
        let new = NewSession {
            id: SessionId::generate(),
            user: request.user,
            created_at: now,
            idle_timeout_s: timeout_seconds(idle_s),
            absolute_deadline: if absolute_ms == 0 {
                0
            } else {
                now.saturating_add(absolute_ms)
            },
            version: 1,
        };
        let record = Record::new(&new, request.fields.iter().copied());
        let size = record.data_bytes();
        if size as u64 > policy.max_session_bytes {
            return Err(SessionError::TooLarge {
                size,
                max: policy.max_session_bytes,
            });
        }
        self.admit(record, request.user, policy, now)?;
        self.events
            .publish(Event::Created, || new.id.text().to_vec());
        Ok(new.id)
    }

    /// Adds a new active record for `user` (its owner), making room under the cap first.
    fn admit(
        &self,
        record: Record,
        user: &[u8],
        policy: &Policy,
        now: u64,
    ) -> Result<(), SessionError> {
        let id = record.id();
        if user.is_empty() {
            self.insert(record, false, Vec::new());
            return Ok(());
        }
        let mut released = Vec::new();
        let outcome = {
            let mut users = self.users.lock(user);
            let entry = users.entry(user);
            let outcome = self.make_room(entry, policy, now, &mut released);
            self.account(&released);
            if outcome.is_ok() {
                self.insert(record, false, Vec::new());
                entry.push(id);
            } else {
                users.remove_if_empty(user);
            }
            outcome
        };
        self.announce(released);
        outcome
    }

    /// Inserts a new active session, logging `carried` effects of the same operation with it.
    fn insert(&self, record: Record, recovered: bool, carried: Vec<Effect<'static>>) {
        let mut shard = self.lock(&record.id());
        shard.carry(carried);
        shard.insert(record);
        self.stats.started(recovered);
    }

    /// Under the user's lock: leaves room for one more session, evicting the oldest or
    /// refusing as the policy says.
    fn make_room(
        &self,
        entry: &mut UserSessions,
        policy: &Policy,
        now: u64,
        released: &mut Vec<Released>,
    ) -> Result<(), SessionError> {
        let cap = policy.max_sessions_per_user;
        if cap == 0 || (entry.len() as u64) < cap {
            return Ok(());
        }
        self.retain_active(entry, Some((now, policy.recovery_window_ms)), released);
        while entry.len() as u64 >= cap {
            if policy.on_limit == OnLimit::Reject {
                return Err(SessionError::Limit(cap));
            }
            let Some(oldest) = entry.pop_oldest() else {
                break;
            };
            let mut shard = self.lock(&oldest);
            shard.end(&oldest, EndReason::Evicted, now, policy.recovery_window_ms);
            released.extend(shard.take_released());
        }
        Ok(())
    }

    /// Reads the active session `id` with `f`; `touch` moves its idle deadline (GET) or
    /// not (PEEK). `None` when there is no active session.
    pub fn read<R>(
        &self,
        id: &SessionId,
        touch: bool,
        policy: &Policy,
        now: u64,
        f: impl FnOnce(&Record) -> R,
    ) -> Option<R> {
        self.with_shard(id, |shard| {
            let record = shard.active(id, now, policy.recovery_window_ms)?;
            let mut logged_second_changes = false;
            if touch {
                logged_second_changes = record.last_access() / TOUCH_LOG_MS != now / TOUCH_LOG_MS;
                record.set_last_access(now);
            }
            let result = f(record);
            if logged_second_changes {
                shard.note_touch(id);
            }
            Some(result)
        })
    }

    /// Reads the session `id`, active or ended (SESSION.INFO).
    pub fn inspect<R>(
        &self,
        id: &SessionId,
        policy: &Policy,
        now: u64,
        f: impl FnOnce(&Record) -> R,
    ) -> Option<R> {
        self.with_shard(id, |shard| {
            shard.any(id, now, policy.recovery_window_ms).map(f)
        })
    }

    /// Applies `changes` to the active session `id` (SET, UNSET, CAS with `expected`),
    /// refreshing it; returns the new version, or `None` when there is no active session.
    pub fn update(
        &self,
        id: &SessionId,
        expected: Option<u64>,
        changes: &[Change],
        policy: &Policy,
        now: u64,
    ) -> Result<Option<u64>, SessionError> {
        self.with_shard(id, |shard| {
            let Some(record) = shard.active(id, now, policy.recovery_window_ms) else {
                return Ok(None);
            };
            if let Some(expected) = expected
                && expected != record.version()
            {
                return Err(SessionError::Conflict(record.version()));
            }
            let mut changed = record.with_changes(changes.iter().copied());
            let size = changed.data_bytes();
            if size as u64 > policy.max_session_bytes && size > record.data_bytes() {
                return Err(SessionError::TooLarge {
                    size,
                    max: policy.max_session_bytes,
                });
            }
            changed.set_last_access(now);
            let version = changed.version();
            shard.replace(id, changed);
            Ok(Some(version))
        })
    }

    /// Ends the active session `id` (SESSION.END); whether there was one.
    pub fn end(&self, id: &SessionId, policy: &Policy, now: u64) -> bool {
        self.with_shard(id, |shard| {
            shard
                .end(id, EndReason::Ended, now, policy.recovery_window_ms)
                .is_some()
        })
    }

    /// Moves the active session `id` to a new id with the same user, data, version and
    /// creation time; the old id is dead at once and not recoverable.
    pub fn rotate(&self, id: &SessionId, policy: &Policy, now: u64) -> Option<SessionId> {
        let window = policy.recovery_window_ms;
        let user: Box<[u8]> = self.read(id, false, policy, now, |r| r.user().into())?;
        let new_id = SessionId::generate();
        let mut released = Vec::new();
        let moved = {
            let mut users = (!user.is_empty()).then(|| self.users.lock(&user));
            let mut old = self.lock(id);
            let record = old.take_active(id, now, window);
            released.extend(old.take_released());
            let gone = if record.is_some() {
                old.take_effects()
            } else {
                Vec::new()
            };
            drop(old);
            record.map(|mut moved| {
                moved.set_id(new_id);
                moved.set_last_access(now);
                let mut new = self.lock(&new_id);
                new.carry(gone);
                new.insert(moved);
                if let Some(entry) = users.as_mut().and_then(|u| u.get(&user)) {
                    entry.replace(id, new_id);
                }
            })
        };
        self.settle(released);
        moved?;
        self.stats.rotated();
        self.events
            .publish(Event::Rotated, || pair_payload(id, &new_id));
        Some(new_id)
    }

    /// Brings back a session that ended (not rotated) within the recovery window, under a
    /// new id; it counts against the user's cap. When the cap refuses it, the ended session
    /// stays where it was, still recoverable.
    pub fn recover(
        &self,
        id: &SessionId,
        policy: &Policy,
        now: u64,
    ) -> Result<Option<SessionId>, SessionError> {
        let window = policy.recovery_window_ms;
        let Some(user) = self
            .inspect(id, policy, now, |r| {
                (!r.is_active()).then(|| Box::<[u8]>::from(r.user()))
            })
            .flatten()
        else {
            return Ok(None);
        };
        let new_id = SessionId::generate();
        let mut released = Vec::new();
        let outcome = {
            // Taking the record, making room and inserting happen under the user's lock,
            // so a refusal can put the record back before anyone sees it gone.
            let mut users = (!user.is_empty()).then(|| self.users.lock(&user));
            let (ended, gone) = {
                let mut shard = self.lock(id);
                let ended = shard.take_ended(id, now, window);
                released.extend(shard.take_released());
                let gone = if ended.is_some() {
                    shard.take_effects()
                } else {
                    Vec::new()
                };
                (ended, gone)
            };
            self.account(&released);
            let outcome = match ended {
                None => Ok(false),
                Some(ended) => {
                    let start = released.len();
                    let room = match users.as_mut() {
                        Some(users) => {
                            self.make_room(users.entry(&user), policy, now, &mut released)
                        }
                        None => Ok(()),
                    };
                    self.account(&released[start..]);
                    match room {
                        Ok(()) => {
                            let reborn = reborn_from(&ended, new_id, &user, now);
                            self.stats.purged();
                            self.insert(reborn, true, gone);
                            if let Some(users) = users.as_mut() {
                                users.entry(&user).push(new_id);
                            }
                            Ok(true)
                        }
                        Err(error) => {
                            let mut shard = self.lock(id);
                            shard.carry(gone);
                            shard.restore_ended(ended);
                            Err(error)
                        }
                    }
                }
            };
            if let Some(users) = users.as_mut() {
                users.remove_if_empty(&user);
            }
            outcome
        };
        self.announce(released);
        if !outcome? {
            return Ok(None);
        }
        self.events
            .publish(Event::Recovered, || pair_payload(id, &new_id));
        Ok(Some(new_id))
    }

    /// The user's active session ids, oldest first.
    pub fn list(&self, user: &[u8], policy: &Policy, now: u64) -> Vec<SessionId> {
        self.with_user(user, policy, now, |_, entry, _| entry.ids().collect())
    }

    /// Active sessions of `user`, or of the whole namespace.
    pub fn count(&self, user: Option<&[u8]>, policy: &Policy, now: u64) -> u64 {
        match user {
            Some(user) => self.with_user(user, policy, now, |_, entry, _| entry.len() as u64),
            None => self.stats.active(),
        }
    }

    /// Ends every active session of `user` but `except`; returns how many it ended.
    pub fn end_all(
        &self,
        user: &[u8],
        except: Option<&SessionId>,
        policy: &Policy,
        now: u64,
    ) -> u64 {
        let window = policy.recovery_window_ms;
        self.with_user(user, policy, now, |sessions, entry, released| {
            let mut ended = 0;
            entry.retain(|id| {
                if Some(id) == except {
                    return true;
                }
                let mut shard = sessions.lock(id);
                if shard.end(id, EndReason::Ended, now, window).is_some() {
                    ended += 1;
                }
                released.extend(shard.take_released());
                false
            });
            ended
        })
    }

    /// Runs `f` on `user`'s verified entry (only active ids left) under the user's lock.
    fn with_user<R: Default>(
        &self,
        user: &[u8],
        policy: &Policy,
        now: u64,
        f: impl FnOnce(&Self, &mut UserSessions, &mut Vec<Released>) -> R,
    ) -> R {
        if user.is_empty() {
            return R::default();
        }
        let mut released = Vec::new();
        let result = {
            let mut users = self.users.lock(user);
            let Some(entry) = users.get(user) else {
                return R::default();
            };
            self.retain_active(entry, Some((now, policy.recovery_window_ms)), &mut released);
            let result = f(self, entry, &mut released);
            users.remove_if_empty(user);
            result
        };
        self.settle(released);
        result
    }

    /// SESSION.CLEANUP: ends active sessions idle for `idle_ms` or more (all with `force`)
    /// and purges ended ones past their window. With `dry_run` nothing changes. Returns the
    /// ids of the sessions it ended (or would end).
    pub fn cleanup(
        &self,
        idle_ms: u64,
        force: bool,
        dry_run: bool,
        policy: &Policy,
        now: u64,
    ) -> Vec<SessionId> {
        let window = policy.recovery_window_ms;
        let mut chosen = Vec::new();
        for index in 0..self.shards.len() {
            let mut shard = self.lock_index(index);
            let candidates: Vec<SessionId> = shard.records().map(Record::id).collect();
            let mut ended = Vec::new();
            for id in candidates {
                let Some(record) = shard.any(&id, now, window) else {
                    continue;
                };
                let idle_for = now.saturating_sub(record.last_access());
                if record.is_active() && (force || idle_for >= idle_ms) {
                    ended.push(id);
                }
            }
            if !dry_run {
                for id in &ended {
                    shard.end(id, EndReason::Cleanup, now, window);
                }
            }
            chosen.extend(ended);
            let released = shard.take_released();
            drop(shard);
            self.settle(released);
        }
        chosen
    }

    /// How many shards the sessions are spread over.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// A copy of every record of shard `index`, active and ended (an AOF rewrite), taken
    /// under its lock in one go.
    pub fn snapshot_shard(&self, index: usize) -> Vec<Record> {
        self.lock_index(index).records().cloned().collect()
    }

    /// Puts `record` in place of any session with its id (loading the AOF).
    pub fn restore(&self, record: Record) {
        self.lock(&record.id()).restore(record);
    }

    /// Moves the last use of the session `id` (loading the AOF).
    pub fn restore_touch(&self, id: &SessionId, last_access: u64) {
        self.lock(id).restore_touch(id, last_access);
    }

    /// Removes the session `id` (loading the AOF).
    pub fn forget(&self, id: &SessionId) {
        self.lock(id).forget(id);
    }

    /// After loading: rebuilds the user index (each user's active sessions, oldest first)
    /// and the active and recoverable counts from the records, one thread per core.
    pub fn reindex(&self) {
        let records: usize = (0..self.shards.len())
            .map(|index| self.lock_index(index).len())
            .sum();
        self.users.reserve(records);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, self.shards.len());
        let (active, recoverable) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|share| {
                    let shards = (share..self.shards.len()).step_by(threads);
                    scope.spawn(move || self.index_shards(shards))
                })
                .collect();
            workers
                .into_iter()
                .fold((0, 0), |(active, recoverable), worker| {
                    let (a, r) = worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (active + a, recoverable + r)
                })
        });
        self.users.shrink_to_fit();
        self.users.for_each_entry(|entry| {
            if entry.len() > 1 {
                entry.sort_by_key(|id| self.lock(id).current(id).map_or(0, Record::created_at));
            }
        });
        self.stats.restored(active, recoverable);
    }

    /// Files the active sessions of session shards `shards` under their users; how many
    /// sessions are active and how many recoverable there.
    fn index_shards(&self, shards: impl Iterator<Item = usize>) -> (u64, u64) {
        let (mut active, mut recoverable) = (0, 0);
        // The users and ids of one shard, copied out so that no user lock is taken while a
        // session shard is locked.
        let mut names = Vec::new();
        let mut owned: Vec<(usize, usize, SessionId)> = Vec::new();
        for index in shards {
            for record in self.lock_index(index).records() {
                if !record.is_active() {
                    recoverable += 1;
                    continue;
                }
                active += 1;
                if !record.user().is_empty() {
                    let start = names.len();
                    names.extend_from_slice(record.user());
                    owned.push((start, names.len(), record.id()));
                }
            }
            for (start, end, id) in owned.drain(..) {
                let user = &names[start..end];
                self.users.lock(user).entry(user).push(id);
            }
            names.clear();
        }
        (active, recoverable)
    }

    /// The counters of SESSION.STATS.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(self.users.users())
    }

    /// Expiry driver: fires the due timers of every shard; returns the earliest next timer.
    pub fn advance(&self, now: u64, window_ms: u64, fired: &mut Vec<(u32, u64)>) -> u64 {
        let mut earliest = u64::MAX;
        for (index, slot) in self.shards.iter().enumerate() {
            if slot.next_due.load(Ordering::Acquire) <= now {
                let mut shard = self.lock_index(index);
                shard.advance(now, window_ms, fired);
                let next = shard.next_deadline().unwrap_or(u64::MAX);
                shard.take_armed();
                slot.next_due.store(next, Ordering::Release);
                let released = shard.take_released();
                drop(shard);
                self.settle(released);
            }
            earliest = earliest.min(slot.next_due.load(Ordering::Acquire));
        }
        earliest
    }
}

/// The active session `ended` becomes when recovered as `new_id` at `now`: same user, data,
/// version and timeouts; its absolute lifetime starts again.
fn reborn_from(ended: &Record, new_id: SessionId, user: &[u8], now: u64) -> Record {
    let lifetime = ended
        .absolute_deadline()
        .map_or(0, |deadline| deadline.saturating_sub(ended.created_at()));
    let session = NewSession {
        id: new_id,
        user,
        created_at: now,
        idle_timeout_s: timeout_seconds(ended.idle_timeout_ms().unwrap_or(0) / 1000),
        absolute_deadline: if lifetime == 0 { 0 } else { now + lifetime },
        version: ended.version(),
    };
    Record::new(&session, ended.fields())
}

/// `OLD NEW`, the payload of the rotated and recovered events.
fn pair_payload(old: &SessionId, new: &SessionId) -> Vec<u8> {
    let mut payload = Vec::with_capacity(73);
    payload.extend_from_slice(&old.text());
    payload.push(b' ');
    payload.extend_from_slice(&new.text());
    payload
}
