//! The journal: where effects are appended, and how they reach the disk before a reply.
//!
//! ```text
//!  shard lock held ─▶ append(effects) ─▶ pending buffer (one Mutex, logical positions)
//!                                              │
//!  connection, at the end of its worker's turn: ▼     (pos = durable_end after each command)
//!    everysec / no: persist(pos): write(2) to the incremental file, inline
//!    always:        persist(pos): write(2) + fdatasync, inline
//!    the first connection back writes the whole turn's records; the others find theirs
//!    done (group commit: every reply of the turn shares one write and one fsync)
//!  aof thread, every tick: everysec's fsync; records no reply waits for (expiry deletes)
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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::codec;
use super::effect::Effect;
use super::error::AofError;
use super::file::{FileKind, encode_header};
use super::manifest::{Manifest, ManifestEntry, incr_name};
use crate::config::AppendFsync;

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
    /// Shared with an fsync in progress, which runs without the output lock.
    file: Arc<File>,
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
    /// Fsyncs since start: with group commit, far fewer than the writes they cover.
    pub fsyncs: AtomicU64,
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
    output: Mutex<Option<Output>>,
    /// Held for a whole fsync, so there is one at a time: who waits for it usually finds
    /// its records covered by the one it waited for.
    syncing: Mutex<()>,
    /// End of the last record a reply must wait for (all but touches).
    durable_end: AtomicU64,
    /// Logical position written to the OS.
    written: AtomicU64,
    /// Logical position known to be on disk.
    synced: AtomicU64,
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
            output: Mutex::new(None),
            syncing: Mutex::new(()),
            durable_end: AtomicU64::new(0),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
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
        self.synced.store(pending.end, Ordering::Release);
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
            Ok(true)
        });
        match outcome {
            Ok(false) => {}
            Ok(true) => self.rewriting.store(false, Ordering::Release),
            Err(_) => {
                self.active.store(false, Ordering::Release);
                self.pending.lock().buf.clear();
                self.rewriting.store(false, Ordering::Release);
            }
        }
        outcome
    }

    /// Stops logging: writes and fsyncs what is pending and closes the file.
    pub fn close(&self) {
        self.flush();
        self.active.store(false, Ordering::Release);
        *self.output.lock() = None;
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
            file: Arc::new(file),
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
    /// a reply: the OS (`everysec`, `no`) or the disk (`always`), writing (and fsyncing) it
    /// here unless another connection already did. Connections call it at the end of their
    /// worker's turn (`server/connection.rs`), so the first one writes the records of the
    /// whole turn with one write(2), and under `always` one fsync, as Redis does once per
    /// event-loop turn; the others find theirs done. The fsync blocks this worker, as it
    /// blocks Redis's event loop; other workers go on meanwhile.
    pub fn persist(&self, position: u64) {
        match self.fsync() {
            AppendFsync::Always => self.sync_through(position),
            AppendFsync::EverySec | AppendFsync::No => self.write_through(position),
        }
    }

    /// Writes pending records to the file until `position` has been written.
    fn write_through(&self, position: u64) {
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
        if let Err(error) = (&*output.file).write_all(&output.spare) {
            fatal(&format!("cannot write {}", output.path.display()), &error);
        }
        self.stats
            .current_size
            .fetch_add(output.spare.len() as u64, Ordering::Relaxed);
        output.spare.clear();
        self.written.store(end, Ordering::Release);
    }

    /// Writes what is pending and fsyncs the file, unless everything up to `position` is
    /// on disk already; publishes the position now on disk. The fsync runs without the
    /// output lock, so appends and writes go on meanwhile.
    fn sync_through(&self, position: u64) {
        if self.synced.load(Ordering::Acquire) >= position {
            return;
        }
        let _syncing = self.syncing.lock();
        if self.synced.load(Ordering::Acquire) >= position {
            return;
        }
        let (file, end) = {
            let mut output = self.output.lock();
            let Some(output) = output.as_mut() else {
                return;
            };
            self.write_pending(output);
            (output.file.clone(), self.written.load(Ordering::Acquire))
        };
        if end <= self.synced.load(Ordering::Acquire) {
            return;
        }
        let started = Instant::now();
        if let Err(error) = file.sync_data() {
            fatal("cannot fsync the AOF", &error);
        }
        self.note_fsync(started);
        self.synced.fetch_max(end, Ordering::AcqRel);
    }

    fn note_fsync(&self, started: Instant) {
        let took = started.elapsed();
        crate::metrics::aof_fsynced(took);
        self.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.stats
            .last_fsync_us
            .store(took.as_micros() as u64, Ordering::Relaxed);
        self.stats
            .last_fsync_at
            .store(crate::store::now_ms(), Ordering::Relaxed);
    }

    /// The aof thread's loop, until `stop` is set: each `tick` it fsyncs under `everysec`
    /// once a second, writes (and under `always` fsyncs) the records no reply waits for
    /// (expiry deletes, session touches), and runs `cron` (the automatic rewrite check).
    pub fn run(&self, tick: Duration, stop: &AtomicBool, mut cron: impl FnMut()) {
        let mut last_sync = Instant::now();
        // Under `always`, only records a tick old: newer ones are likely a turn's, which its
        // connections are about to fsync together.
        let mut appended_a_tick_ago = 0;
        while !stop.load(Ordering::Acquire) {
            std::thread::sleep(tick);
            match self.fsync() {
                AppendFsync::Always => self.sync_through(appended_a_tick_ago),
                AppendFsync::EverySec if last_sync.elapsed() >= Duration::from_secs(1) => {
                    self.sync_through(u64::MAX);
                    last_sync = Instant::now();
                }
                _ => self.write_through(u64::MAX),
            }
            appended_a_tick_ago = self.pending.lock().end;
            cron();
        }
    }

    /// Writes and fsyncs everything pending (shutdown).
    pub fn flush(&self) {
        if self.is_active() {
            self.sync_through(u64::MAX);
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
        output.file = Arc::new(file);
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
