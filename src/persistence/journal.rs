//! The journal: where effects are appended, and how they reach the disk before a reply.
//!
//! ```text
//!  shard lock held ─▶ append(effects) ─▶ pending buffer (one Mutex, logical positions)
//!                                              │
//!  connection, before its batch's replies:     ▼      (pos = durable_end after each command)
//!    everysec / no: persist(pos): yield, write(2) to the incremental file, inline
//!    always:        persist(pos).await ◀── aof thread: write(2) + fdatasync, one per batch
//!                                          (group commit: every waiter shares the fsync)
//! ```
//!
//! Effects are appended while the shard locks of the change are held, so the order of records
//! is the order in which the changes happened to each key. Positions are logical byte counts
//! over the life of the process (not file offsets), so they survive a switch to a new
//! incremental file during a rewrite.
//!
//! A reply leaves only after the records of every change it could show (its own, and any
//! other client's it may have read) reached the OS (`everysec`, `no`) or the disk (`always`).
//! A write or fsync that fails stops the server: acknowledging what was not persisted is worse
//! than being down.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::codec;
use super::effect::Effect;
use super::error::AofError;
use super::file::{FileKind, encode_header};
use super::manifest::{Manifest, ManifestEntry, incr_name};
use crate::config::AppendFsync;

/// The longest an fsync under `always` waits for more records to share it.
const GATHER_LIMIT: Duration = Duration::from_micros(200);

thread_local! {
    /// The records this thread appended since it opened a unit ([`Journal::unit`]),
    /// held back so they reach the file as one record.
    static UNIT: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// An open unit of the journal on this thread; see [`Journal::unit`].
pub struct JournalUnit<'a> {
    journal: &'a Journal,
}

impl Drop for JournalUnit<'_> {
    fn drop(&mut self) {
        self.journal.end_unit();
    }
}

/// Effects appended but not yet written to the file.
#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    /// Logical position of the end of `buf`.
    end: u64,
    /// A SWAPDB was appended since the current rewrite began (it would not replay correctly
    /// on top of a base taken after it).
    swapped_during_rewrite: bool,
}

/// The incremental file being appended to.
#[derive(Debug)]
struct Output {
    file: File,
    path: PathBuf,
    manifest: Manifest,
    /// A buffer swapped with the pending one, so appends never wait for a write.
    spare: Vec<u8>,
}

/// Sizes and outcomes for INFO `persistence`.
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Bytes of the base file.
    pub base_size: AtomicU64,
    /// Bytes of every file the manifest lists.
    pub current_size: AtomicU64,
    /// Microseconds the last fsync took.
    pub last_fsync_us: AtomicU64,
    /// Unix ms of the last fsync.
    pub last_fsync_at: AtomicU64,
    /// Rewrites completed since start.
    pub rewrites: AtomicU64,
    /// Whether the last rewrite failed.
    pub last_rewrite_failed: AtomicBool,
    /// Milliseconds the last rewrite took.
    pub last_rewrite_ms: AtomicU64,
    /// Unix ms when the running rewrite began.
    pub rewrite_started_at: AtomicU64,
    /// Unix ms when the last rewrite ended.
    pub last_rewrite_ended_at: AtomicU64,
}

/// The append-only log of effects: inactive until [`Journal::open`] (and for ever with
/// `appendonly no`).
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    active: AtomicBool,
    fsync: AtomicU8,
    rewrite_percentage: AtomicU32,
    rewrite_min_size: AtomicU64,
    rewriting: AtomicBool,
    pending: Mutex<Pending>,
    /// Signals the aof thread that `pending` has data (only under `always`).
    has_pending: Condvar,
    output: Mutex<Option<Output>>,
    /// End of the last record a reply must wait for (all but touches).
    durable_end: AtomicU64,
    /// Logical position written to the OS.
    written: AtomicU64,
    /// Whether there is a file to write to (`output` is set), readable without its lock.
    has_output: AtomicBool,
    /// Logical position known to be on disk.
    synced: tokio::sync::watch::Sender<u64>,
    /// How many threads have a unit open, so appends look for theirs only then.
    units_open: AtomicU32,
    /// INFO figures.
    pub stats: JournalStats,
}

impl Journal {
    /// An inactive journal for the AOF in `dir`.
    pub fn new(dir: &Path, fsync: AppendFsync) -> Self {
        Journal {
            dir: dir.to_path_buf(),
            active: AtomicBool::new(false),
            fsync: AtomicU8::new(fsync_code(fsync)),
            rewrite_percentage: AtomicU32::new(0),
            rewrite_min_size: AtomicU64::new(u64::MAX),
            rewriting: AtomicBool::new(false),
            pending: Mutex::new(Pending::default()),
            has_pending: Condvar::new(),
            output: Mutex::new(None),
            durable_end: AtomicU64::new(0),
            written: AtomicU64::new(0),
            has_output: AtomicBool::new(false),
            synced: tokio::sync::watch::Sender::new(0),
            units_open: AtomicU32::new(0),
            stats: JournalStats::default(),
        }
    }

    /// Whether writes are being logged.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// The AOF directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets the automatic rewrite rule (`auto-aof-rewrite-percentage`, `-min-size`).
    pub fn set_rewrite_rule(&self, percentage: u32, min_size: u64) {
        self.rewrite_percentage.store(percentage, Ordering::Relaxed);
        self.rewrite_min_size.store(min_size, Ordering::Relaxed);
    }

    /// Whether the AOF has grown enough since its last rewrite for an automatic one: past
    /// `auto-aof-rewrite-min-size`, and by `auto-aof-rewrite-percentage` over its base.
    pub fn has_outgrown_base(&self) -> bool {
        let percentage = u64::from(self.rewrite_percentage.load(Ordering::Relaxed));
        let current = self.stats.current_size.load(Ordering::Relaxed);
        let base = self.stats.base_size.load(Ordering::Relaxed).max(1);
        let growth = current.saturating_sub(base).saturating_mul(100) / base;
        percentage > 0
            && current >= self.rewrite_min_size.load(Ordering::Relaxed)
            && growth >= percentage
    }

    /// The fsync policy in force.
    pub fn fsync(&self) -> AppendFsync {
        match self.fsync.load(Ordering::Relaxed) {
            0 => AppendFsync::Always,
            1 => AppendFsync::EverySec,
            _ => AppendFsync::No,
        }
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    pub fn set_fsync(&self, fsync: AppendFsync) {
        self.fsync.store(fsync_code(fsync), Ordering::Relaxed);
        self.has_pending.notify_one();
        self.wake_waiters();
    }

    /// Starts recording effects before there is a file for them (the AOF being turned on at
    /// run time: the base is written from the live data meanwhile), as the start of a
    /// rewrite; [`Journal::open`] gives them their file. Records left from an earlier time
    /// the AOF was on are discarded: the new base supersedes them. Fails when a rewrite runs.
    pub fn activate(&self) -> Result<(), RewriteError> {
        if self.rewriting.swap(true, Ordering::AcqRel) {
            return Err(RewriteError::InProgress);
        }
        let mut pending = self.pending.lock();
        pending.buf.clear();
        pending.swapped_during_rewrite = false;
        self.written.store(pending.end, Ordering::Release);
        self.synced.send_replace(pending.end);
        self.active.store(true, Ordering::Release);
        Ok(())
    }

    /// Ends [`Journal::activate`] with the AOF files `fresh` names (a base and an empty
    /// incremental file, written): writes their manifest and logs into them from now on.
    /// `Ok(false)` when a SWAPDB ran while the base was written, which would replay twice:
    /// nothing is written, and the caller writes the base again after
    /// [`Journal::restart_activation`]. On error the journal is off again.
    pub fn finish_activation(&self, fresh: Result<Manifest, AofError>) -> Result<bool, AofError> {
        let outcome = fresh.and_then(|manifest| {
            let mut output = self.output.lock();
            let pending = self.pending.lock();
            if pending.swapped_during_rewrite {
                return Ok(false);
            }
            manifest.write(&self.dir)?;
            *output = Some(self.output_for(manifest)?);
            self.has_output.store(true, Ordering::Release);
            Ok(true)
        });
        match outcome {
            Ok(false) => {}
            Ok(true) => self.rewriting.store(false, Ordering::Release),
            Err(_) => {
                self.active.store(false, Ordering::Release);
                self.pending.lock().buf.clear();
                self.rewriting.store(false, Ordering::Release);
                self.wake_waiters();
            }
        }
        outcome
    }

    /// Stops logging: writes and fsyncs what is pending and closes the file.
    pub fn close(&self) {
        self.flush();
        self.active.store(false, Ordering::Release);
        self.has_output.store(false, Ordering::Release);
        *self.output.lock() = None;
        self.wake_waiters();
    }

    /// Forgets records appended since [`Journal::activate`] (the base about to be written
    /// again covers them): after a SWAPDB spoiled the first one.
    pub fn restart_activation(&self) {
        let mut pending = self.pending.lock();
        pending.buf.clear();
        pending.swapped_during_rewrite = false;
    }

    /// Starts logging to the last incremental file of `manifest` (which must exist with a
    /// whole header), whose records end at its current length.
    pub fn open(&self, manifest: Manifest) -> Result<(), AofError> {
        let output = self.output_for(manifest)?;
        *self.output.lock() = Some(output);
        self.has_output.store(true, Ordering::Release);
        self.active.store(true, Ordering::Release);
        Ok(())
    }

    /// The last incremental file of `manifest`, opened for appending.
    fn output_for(&self, manifest: Manifest) -> Result<Output, AofError> {
        let last = manifest
            .incrementals
            .last()
            .unwrap_or(&manifest.base)
            .clone();
        let path = self.dir.join(&last.name);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        self.refresh_sizes(&manifest);
        Ok(Output {
            file,
            path,
            manifest,
            spare: Vec::new(),
        })
    }

    /// Appends `effects` as one record (a [`Effect::Batch`] when there are several), so a
    /// crash keeps all of them or none; nothing while the journal is off. Unless `durable` is false (touches), every reply sent
    /// after this waits for the record ([`Journal::durable_end`]). Call with the locks of the
    /// change held, so records follow the order of changes.
    pub fn append<'a>(&self, effects: impl IntoIterator<Item = Effect<'a>>, durable: bool) {
        let mut effects = effects.into_iter();
        let Some(first) = effects.next() else {
            return;
        };
        let Some(second) = effects.next() else {
            return self.append_one(&first, durable);
        };
        let mut batch = vec![first, second];
        batch.extend(effects);
        let batch = Effect::Batch(batch);
        match self.try_append(&batch, durable) {
            Ok(()) => {}
            Err(AofError::RecordTooLarge { len }) => {
                // Over the 1 GiB record limit (an MSET of huge values): one record each, so
                // the write survives a crash whole only if it ends after its last record.
                tracing::warn!("a {len}-byte batch of effects is logged as separate records");
                let Effect::Batch(effects) = batch else {
                    unreachable!("built as a batch above")
                };
                for effect in &effects {
                    self.append_one(effect, durable);
                }
            }
            Err(error) => fatal("cannot log a write to the AOF", &error),
        }
    }

    /// Appends one effect as one record; see [`Journal::append`].
    pub fn append_one(&self, effect: &Effect, durable: bool) {
        if let Err(error) = self.try_append(effect, durable) {
            fatal("cannot log a write to the AOF", &error);
        }
    }

    fn try_append(&self, effect: &Effect, durable: bool) -> Result<(), AofError> {
        if !self.is_active() {
            return Ok(());
        }
        if self.units_open.load(Ordering::Acquire) > 0
            && let Some(encoded) = UNIT.with_borrow_mut(|unit| {
                unit.as_mut()
                    .map(|buf| codec::encode(effect, buf).map(|_| ()))
            })
        {
            return encoded;
        }
        {
            let mut pending = self.pending.lock();
            let len = codec::encode(effect, &mut pending.buf)?;
            pending.end += len as u64;
            if matches!(effect, Effect::SwapDb { .. }) && self.rewriting.load(Ordering::Relaxed) {
                pending.swapped_during_rewrite = true;
            }
            if durable {
                self.durable_end.store(pending.end, Ordering::Release);
            }
        }
        if self.fsync() == AppendFsync::Always {
            self.has_pending.notify_one();
        }
        Ok(())
    }

    /// Opens a unit on this thread: what it appends until the unit is dropped is written as
    /// one record, so a crash keeps all of it or none (EXEC). Other threads append as usual.
    /// Dropped while unwinding from a panic, it still writes what was done.
    pub fn unit(&self) -> JournalUnit<'_> {
        if UNIT
            .with_borrow_mut(|unit| unit.replace(Vec::new()))
            .is_none()
        {
            self.units_open.fetch_add(1, Ordering::AcqRel);
        }
        JournalUnit { journal: self }
    }

    /// Closes this thread's unit: its records are appended as one [`Effect::Batch`] (the
    /// batches of multi-key commands inside it flattened into it).
    fn end_unit(&self) {
        let Some(records) = UNIT.with_borrow_mut(Option::take) else {
            return;
        };
        self.units_open.fetch_sub(1, Ordering::AcqRel);
        let mut effects = Vec::new();
        let mut rest = &records[..];
        while !rest.is_empty() {
            let (effect, len) = match codec::decode(rest) {
                Ok(decoded) => decoded,
                Err(error) => fatal("cannot reread a transaction's records", &error),
            };
            match effect {
                Effect::Batch(inner) => effects.extend(inner),
                effect => effects.push(effect),
            }
            rest = &rest[len..];
        }
        self.append(effects, true);
    }

    /// The end of the last record a reply must wait for. A connection persists up to it
    /// before writing replies, whoever appended it: a reply never shows a change (its own or
    /// another client's) that a crash could still lose, as in Redis, which writes replies
    /// only after flushing the AOF.
    pub fn durable_end(&self) -> u64 {
        self.durable_end.load(Ordering::Acquire)
    }

    /// Makes sure everything up to `position` reached what the fsync policy promises before
    /// a reply: the OS (`everysec`, `no`: written here, now) or the disk (`always`: waits for
    /// the aof thread's next fsync).
    pub async fn persist(&self, position: u64) {
        if self.fsync() != AppendFsync::Always {
            while self.written.load(Ordering::Acquire) < position {
                // Let the other connections ready on this worker run their commands
                // first: the first of them back here writes everyone's records in one
                // write(2), as Redis writes once per event-loop turn. While another
                // thread is writing, this worker serves its other connections instead of
                // blocking on the file.
                tokio::task::yield_now().await;
                if self.try_write_through(position) {
                    break;
                }
            }
            return;
        }
        let mut synced = self.synced.subscribe();
        if *synced.borrow_and_update() >= position {
            return;
        }
        self.has_pending.notify_one();
        // Also done when the AOF goes off or the policy changes (both wake the waiters):
        // then what is pending is written by the new rules, or not at all.
        let _ = synced
            .wait_for(|&at| {
                at >= position || !self.is_active() || self.fsync() != AppendFsync::Always
            })
            .await;
        if self.is_active() && self.fsync() != AppendFsync::Always {
            self.write_through(position);
        }
    }

    /// Wakes every connection waiting in [`Journal::persist`] to look again.
    fn wake_waiters(&self) {
        self.synced.send_modify(|_| {});
    }

    /// Before an fsync under `always`: while records keep arriving, lets the connections that
    /// are running commands append theirs, so one fsync covers them too (at most
    /// [`GATHER_LIMIT`]). Waiting longer, or for a quiet spell, measured worse: on a small
    /// machine the connections and their clients need the cores meanwhile.
    fn gather(&self) {
        let started = Instant::now();
        let mut seen = self.pending.lock().end;
        while started.elapsed() < GATHER_LIMIT {
            std::thread::yield_now();
            let now = self.pending.lock().end;
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    /// Writes pending records to the file until `position` has been written.
    pub fn write_through(&self, position: u64) {
        if self.written.load(Ordering::Acquire) >= position {
            return;
        }
        let mut output = self.output.lock();
        if self.written.load(Ordering::Acquire) >= position {
            return;
        }
        if let Some(output) = output.as_mut() {
            self.write_pending(output);
        }
    }

    /// As [`Journal::write_through`], unless another thread is writing: then returns false
    /// at once, having written nothing.
    fn try_write_through(&self, position: u64) -> bool {
        let Some(mut output) = self.output.try_lock() else {
            return false;
        };
        if self.written.load(Ordering::Acquire) < position
            && let Some(output) = output.as_mut()
        {
            self.write_pending(output);
        }
        true
    }

    /// Moves the pending records into the file (with the output lock held).
    fn write_pending(&self, output: &mut Output) {
        self.write_pending_then(output, |_| {});
    }

    /// Moves the pending records into the file; `taken` runs on the pending state in the
    /// same critical section that takes them, so it sees exactly what goes to this file.
    fn write_pending_then(&self, output: &mut Output, taken: impl FnOnce(&mut Pending)) {
        let end = {
            let mut pending = self.pending.lock();
            std::mem::swap(&mut pending.buf, &mut output.spare);
            taken(&mut pending);
            pending.end
        };
        if output.spare.is_empty() {
            return;
        }
        if let Err(error) = output.file.write_all(&output.spare) {
            fatal(&format!("cannot write {}", output.path.display()), &error);
        }
        self.stats
            .current_size
            .fetch_add(output.spare.len() as u64, Ordering::Relaxed);
        output.spare.clear();
        self.written.store(end, Ordering::Release);
    }

    /// Writes what is pending and fsyncs the file; publishes the position now on disk.
    pub fn sync(&self) {
        let (file, end) = {
            let mut output = self.output.lock();
            let Some(output) = output.as_mut() else {
                return;
            };
            self.write_pending(output);
            let end = self.written.load(Ordering::Acquire);
            if end <= *self.synced.borrow() {
                return;
            }
            match output.file.try_clone() {
                Ok(file) => (file, end),
                Err(error) => fatal(&format!("cannot fsync {}", output.path.display()), &error),
            }
        };
        // The fsync runs on a clone of the descriptor, so appends go on meanwhile.
        let started = Instant::now();
        if let Err(error) = file.sync_data() {
            fatal("cannot fsync the AOF", &error);
        }
        self.note_fsync(started);
        self.synced.send_if_modified(|synced| {
            let moved = end > *synced;
            *synced = (*synced).max(end);
            moved
        });
    }

    fn note_fsync(&self, started: Instant) {
        let took = started.elapsed();
        crate::metrics::aof_fsynced(took);
        self.stats
            .last_fsync_us
            .store(took.as_micros() as u64, Ordering::Relaxed);
        self.stats
            .last_fsync_at
            .store(crate::store::now_ms(), Ordering::Relaxed);
    }

    /// The aof thread's loop, until `stop` is set: under `always` it writes and fsyncs each
    /// batch as it comes (group commit); under `everysec` it fsyncs once a second; in every
    /// mode it writes records nobody waits for (expiry deletes) within `tick`, and runs
    /// `cron` (the automatic rewrite check).
    pub fn run(&self, tick: Duration, stop: &AtomicBool, mut cron: impl FnMut()) {
        let mut last_sync = Instant::now();
        while !stop.load(Ordering::Acquire) {
            {
                // Only `always` is woken by appends; the other modes write inline and this
                // thread only sweeps up once a tick.
                let mut pending = self.pending.lock();
                let always = self.fsync() == AppendFsync::Always;
                let idle = pending.end <= self.written.load(Ordering::Acquire)
                    || !self.has_output.load(Ordering::Acquire);
                if !always || idle {
                    self.has_pending.wait_for(&mut pending, tick);
                }
            }
            match self.fsync() {
                AppendFsync::Always => {
                    self.gather();
                    self.sync();
                }
                AppendFsync::EverySec if last_sync.elapsed() >= Duration::from_secs(1) => {
                    self.sync();
                    last_sync = Instant::now();
                }
                _ => self.write_through(u64::MAX),
            }
            cron();
        }
    }

    /// Writes and fsyncs everything pending (shutdown).
    pub fn flush(&self) {
        if self.is_active() {
            self.sync();
        }
    }

    /// Starts a rewrite: closes the current incremental file (written and fsynced) and
    /// continues in a new one, listed in the manifest at once so a crash loses nothing.
    /// Returns the manifest as it now stands. Fails when a rewrite is already running.
    pub fn begin_rewrite(&self) -> Result<Manifest, RewriteError> {
        if self.rewriting.swap(true, Ordering::AcqRel) {
            return Err(RewriteError::InProgress);
        }
        let started = self.switch_incremental();
        if started.is_err() {
            self.rewriting.store(false, Ordering::Release);
        }
        started
    }

    fn switch_incremental(&self) -> Result<Manifest, RewriteError> {
        let mut guard = self.output.lock();
        let output = guard.as_mut().ok_or(RewriteError::Disabled)?;
        // A SWAPDB that goes to the old file is folded into the base; only one that comes
        // after these records matters.
        self.write_pending_then(output, |pending| pending.swapped_during_rewrite = false);
        output.file.sync_data().map_err(io_error(&output.path))?;
        let seq = output.manifest.incrementals.last().map_or(0, |e| e.seq) + 1;
        let entry = ManifestEntry {
            name: incr_name(seq),
            seq,
            kind: FileKind::Incremental,
        };
        let (file, path) = create_aof_file(&self.dir, &entry)?;
        let mut manifest = output.manifest.clone();
        manifest.incrementals.push(entry);
        manifest.write(&self.dir)?;
        output.file = file;
        output.path = path;
        output.manifest = manifest.clone();
        self.refresh_sizes(&manifest);
        Ok(manifest)
    }

    /// Ends a rewrite: with `new_base` (written and fsynced), the manifest becomes that base
    /// plus the incremental file begun by [`Journal::begin_rewrite`] and the older files are
    /// deleted. A SWAPDB during the rewrite makes it fail instead, as do errors: the manifest
    /// then stays as `begin_rewrite` left it, which replays to the same state.
    pub fn finish_rewrite(
        &self,
        new_base: Result<ManifestEntry, AofError>,
    ) -> Result<(), RewriteError> {
        let outcome = self.commit_rewrite(new_base);
        self.rewriting.store(false, Ordering::Release);
        outcome
    }

    fn commit_rewrite(
        &self,
        new_base: Result<ManifestEntry, AofError>,
    ) -> Result<(), RewriteError> {
        let mut guard = self.output.lock();
        let Some(output) = guard.as_mut() else {
            // The AOF was turned off meanwhile: the new base belongs to nothing.
            if let Ok(base) = &new_base {
                let _ = std::fs::remove_file(self.dir.join(&base.name));
            }
            return Err(RewriteError::Disabled);
        };
        let swapped = std::mem::take(&mut self.pending.lock().swapped_during_rewrite);
        let base = match new_base {
            Ok(base) if !swapped => base,
            Ok(base) => {
                let _ = std::fs::remove_file(self.dir.join(&base.name));
                return Err(RewriteError::SwappedDuringRewrite);
            }
            Err(error) => return Err(error.into()),
        };
        let old = output.manifest.clone();
        let current = old
            .incrementals
            .last()
            .cloned()
            .ok_or(RewriteError::Disabled)?;
        let manifest = Manifest {
            base,
            incrementals: vec![current.clone()],
        };
        manifest.write(&self.dir)?;
        for stale in old
            .files()
            .filter(|e| **e != current && **e != manifest.base)
        {
            let _ = std::fs::remove_file(self.dir.join(&stale.name));
        }
        output.manifest = manifest.clone();
        self.refresh_sizes(&manifest);
        Ok(())
    }

    /// Whether a rewrite is running.
    pub fn is_rewriting(&self) -> bool {
        self.rewriting.load(Ordering::Acquire)
    }

    /// Re-reads the sizes of the manifest's files for INFO and the automatic rewrite rule.
    fn refresh_sizes(&self, manifest: &Manifest) {
        let size = |entry: &ManifestEntry| {
            std::fs::metadata(self.dir.join(&entry.name)).map_or(0, |m| m.len())
        };
        let base = size(&manifest.base);
        let total = manifest.files().map(size).sum();
        self.stats.base_size.store(base, Ordering::Relaxed);
        self.stats.current_size.store(total, Ordering::Relaxed);
    }

    /// Bytes appended but not yet written (INFO `aof_buffer_length`).
    pub fn buffered(&self) -> u64 {
        self.pending.lock().buf.len() as u64
    }
}

/// Why a rewrite did not happen or did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// Another rewrite is running.
    #[error("Background append only file rewriting already in progress")]
    InProgress,
    /// `appendonly no`.
    #[error("the AOF is off")]
    Disabled,
    /// A SWAPDB ran while the base was being written; the next rewrite will do.
    #[error("SWAPDB during the rewrite")]
    SwappedDuringRewrite,
    /// A file could not be written.
    #[error(transparent)]
    Aof(#[from] AofError),
}

/// Creates `dir/NAME` holding only a header of `entry`'s kind, fsynced.
pub fn create_aof_file(dir: &Path, entry: &ManifestEntry) -> Result<(File, PathBuf), AofError> {
    let path = dir.join(&entry.name);
    let mut header = Vec::new();
    encode_header(entry.kind, &mut header);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    file.write_all(&header)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&path))?;
    Ok((file, path))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AofError + '_ {
    move |source| AofError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn fsync_code(fsync: AppendFsync) -> u8 {
    match fsync {
        AppendFsync::Always => 0,
        AppendFsync::EverySec => 1,
        AppendFsync::No => 2,
    }
}

/// Stops the process: a write that cannot be persisted must not be acknowledged.
fn fatal(what: &str, error: &dyn std::fmt::Display) -> ! {
    tracing::error!("{what}: {error}; stopping so that no unpersisted write is acknowledged");
    std::process::exit(1)
}
