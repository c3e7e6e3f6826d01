//! The AOF over the server's life: loaded before the first client, appended to by every
//! write, rewritten when it has grown, turned on or off by CONFIG SET, flushed at shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::ServerState;
use crate::config::Config;
use crate::persistence::{AofError, RewriteError, load, rewrite};
use crate::store::{Store, now_ms};

/// The running aof thread: fsyncs, writes of records no reply waits for, automatic
/// rewrites.
pub struct AofThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
    store: Arc<Store>,
}

impl AofThread {
    /// Starts the thread, waking `hz` times a second.
    fn spawn(store: Arc<Store>, hz: u32) -> std::io::Result<AofThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let tick = Duration::from_millis(u64::from(1000 / hz.max(1)).max(1));
        let handle = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::Builder::new()
                .name("sessiond-aof".into())
                .spawn(move || {
                    let journal = store.journal();
                    journal.run(tick, &stop, || rewrite_if_grown(&store));
                })?
        };
        Ok(AofThread {
            stop,
            handle,
            store,
        })
    }

    /// Stops the thread, then writes and fsyncs everything appended.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.handle.join();
        self.store.journal().flush();
    }
}

/// With `appendonly yes`: loads the AOF in `dir` (or creates it), starts logging to it and
/// starts the aof thread.
pub fn start(state: &ServerState) -> Result<(), AofError> {
    let config = state.config.read().clone();
    apply_settings(&state.store, &config);
    if !config.appendonly {
        return Ok(());
    }
    let started = Instant::now();
    let (manifest, report) = load::load(
        &config.dir,
        &state.store,
        config.aof_load_truncated,
        now_ms(),
    )?;
    if let Some((path, bytes)) = &report.truncated {
        tracing::warn!(
            "!!! Warning: short read while loading the AOF file {}: truncated {bytes} bytes of a torn last record !!!",
            path.display()
        );
    }
    if report.created {
        tracing::info!("Creating AOF in {}", config.dir.display());
    } else {
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds ({} records in {} files)",
            started.elapsed().as_secs_f64(),
            report.records,
            report.files
        );
    }
    state.store.journal().open(manifest)?;
    let thread =
        AofThread::spawn(state.store.clone(), config.hz).map_err(|source| AofError::Io {
            path: config.dir.clone(),
            source,
        })?;
    *state.aof.lock() = Some(thread);
    Ok(())
}

/// Passes the AOF settings that may change at run time to the journal.
pub fn apply_settings(store: &Store, config: &Config) {
    let journal = store.journal();
    journal.set_fsync(config.appendfsync);
    journal.set_rewrite_rule(
        config.auto_aof_rewrite_percentage,
        config.auto_aof_rewrite_min_size,
    );
}

/// CONFIG SET appendonly: turns the AOF on (a base from the live data, written in the
/// background) or off (flushed and closed; refused while a rewrite runs).
pub fn set_appendonly(state: &ServerState, on: bool, hz: u32) -> Result<(), RewriteError> {
    let mut aof = state.aof.lock();
    let journal = state.store.journal();
    if on {
        if journal.is_active() {
            return Ok(());
        }
        rewrite::enable(state.store.clone())?;
        if aof.is_none() {
            let thread = AofThread::spawn(state.store.clone(), hz).map_err(|source| {
                journal.close();
                RewriteError::Aof(AofError::Io {
                    path: journal.dir().to_path_buf(),
                    source,
                })
            })?;
            *aof = Some(thread);
        }
    } else if journal.is_rewriting() {
        // Turning off now could race the rewrite's switch to its new files.
        return Err(RewriteError::InProgress);
    } else if aof.is_some() || journal.is_active() {
        if let Some(thread) = aof.take() {
            thread.stop();
        }
        journal.close();
        tracing::info!("AOF turned off");
    }
    Ok(())
}

/// Stops the aof thread and flushes and fsyncs the AOF (shutdown).
pub fn stop(state: &ServerState) {
    if let Some(thread) = state.aof.lock().take() {
        thread.stop();
    }
}

/// After a failed automatic rewrite, the next waits this long (each attempt leaves one
/// more incremental file in the manifest).
const REWRITE_RETRY_MS: u64 = 60_000;

/// Starts a rewrite when the AOF has outgrown its base (Redis's automatic rewrite rule).
fn rewrite_if_grown(store: &Arc<Store>) {
    let journal = store.journal();
    let stats = &journal.stats;
    let failed_recently = stats.last_rewrite_failed.load(Ordering::Relaxed)
        && now_ms().saturating_sub(stats.last_rewrite_ended_at.load(Ordering::Relaxed))
            < REWRITE_RETRY_MS;
    if failed_recently || journal.is_rewriting() || !journal.has_outgrown_base() {
        return;
    }
    tracing::info!(
        "Starting automatic rewriting of AOF ({} bytes over a {}-byte base)",
        journal.stats.current_size.load(Ordering::Relaxed),
        journal.stats.base_size.load(Ordering::Relaxed)
    );
    if let Err(error) = rewrite::start(store.clone()) {
        tracing::warn!("Automatic AOF rewrite not started: {error}");
    }
}
