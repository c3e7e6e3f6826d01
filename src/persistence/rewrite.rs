//! Rewriting the AOF: a new base written from the live data in the background while new
//! records go to a fresh incremental file; then the manifest names only those two.
//!
//! The base is taken shard by shard, each under its lock for as long as it takes to encode
//! its entries, after the switch to the new incremental file. Every change is therefore either in the base or in the new file, or
//! both; effects are absolute, so replaying one twice does no harm.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::capture;
use super::codec;
use super::error::AofError;
use super::file::FileKind;
use super::journal::{RewriteError, create_aof_file};
use super::manifest::{Manifest, ManifestEntry, base_name, incr_name};
use crate::store::{Store, namespace_effect, now_ms};

/// Bytes of encoded records gathered before one write to the base file.
const WRITE_CHUNK: usize = 1 << 20;

/// Starts a rewrite: switches to a new incremental file now, and writes the base on a
/// background thread. Fails at once when one is running or the AOF is off.
pub fn start(store: Arc<Store>) -> Result<(), RewriteError> {
    let journal = store.journal().clone();
    let manifest = journal.begin_rewrite()?;
    let entry = ManifestEntry {
        name: base_name(manifest.base.seq + 1),
        seq: manifest.base.seq + 1,
        kind: FileKind::Base,
    };
    journal
        .stats
        .rewrite_started_at
        .store(now_ms(), Ordering::Relaxed);
    tracing::info!("Background append only file rewriting started");
    let on_failure = journal.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let started = Instant::now();
            let written = write_base(&store, journal.dir(), &entry).map(|()| entry);
            let outcome = journal.finish_rewrite(written);
            let stats = &journal.stats;
            stats.rewrite_started_at.store(0, Ordering::Relaxed);
            stats
                .last_rewrite_ended_at
                .store(now_ms(), Ordering::Relaxed);
            stats
                .last_rewrite_ms
                .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            stats
                .last_rewrite_failed
                .store(outcome.is_err(), Ordering::Relaxed);
            match outcome {
                Ok(()) => {
                    stats.rewrites.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        "Background AOF rewrite finished successfully in {} ms ({} bytes of base)",
                        started.elapsed().as_millis(),
                        stats.base_size.load(Ordering::Relaxed)
                    );
                }
                Err(error) => tracing::warn!("Background AOF rewrite failed: {error}"),
            }
        });
    if let Err(error) = spawned {
        let io = AofError::Io {
            path: on_failure.dir().to_path_buf(),
            source: error,
        };
        let _ = on_failure.finish_rewrite(Err(io));
        return Err(RewriteError::Disabled);
    }
    Ok(())
}

/// Turns the AOF on at run time: records effects from now on, writes a base from the live
/// data and an empty incremental file on a background thread, then a manifest naming them
/// (older AOF files in the directory are superseded and deleted).
pub fn enable(store: Arc<Store>) -> Result<(), RewriteError> {
    let journal = store.journal().clone();
    journal.activate()?;
    tracing::info!("AOF turned on: writing a base from the live data");
    let on_failure = journal.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let dir = journal.dir().to_path_buf();
            let old = Manifest::read(&dir).ok();
            for attempt in 1.. {
                let fresh = write_fresh(&store, &dir, old.as_ref(), attempt);
                let names: Vec<String> = fresh
                    .iter()
                    .flat_map(Manifest::files)
                    .map(|e| e.name.clone())
                    .collect();
                match journal.finish_activation(fresh) {
                    Ok(true) => {
                        for stale in old.iter().flat_map(Manifest::files) {
                            let _ = std::fs::remove_file(dir.join(&stale.name));
                        }
                        tracing::info!("AOF is on: logging to {}", dir.display());
                        return;
                    }
                    Ok(false) => {
                        tracing::info!("SWAPDB while the base was written; writing it again");
                        for name in names {
                            let _ = std::fs::remove_file(dir.join(name));
                        }
                        journal.restart_activation();
                    }
                    Err(error) => {
                        tracing::warn!("Could not turn the AOF on: {error}");
                        return;
                    }
                }
            }
        });
    if let Err(source) = spawned {
        let path = on_failure.dir().to_path_buf();
        let _ = on_failure.finish_activation(Err(AofError::Io { path, source }));
        return Err(RewriteError::Disabled);
    }
    Ok(())
}

/// Writes a base of the live data and an empty incremental file, numbered past those of the
/// `old` manifest in `dir` (and past earlier attempts); returns the manifest that would
/// name them.
fn write_fresh(
    store: &Store,
    dir: &Path,
    old: Option<&Manifest>,
    attempt: u64,
) -> Result<Manifest, AofError> {
    std::fs::create_dir_all(dir).map_err(|source| AofError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let base_seq = old.map_or(0, |m| m.base.seq) + attempt;
    let incr_seq = old.and_then(|m| m.incrementals.last()).map_or(0, |e| e.seq) + attempt;
    let manifest = Manifest {
        base: ManifestEntry {
            name: base_name(base_seq),
            seq: base_seq,
            kind: FileKind::Base,
        },
        incrementals: vec![ManifestEntry {
            name: incr_name(incr_seq),
            seq: incr_seq,
            kind: FileKind::Incremental,
        }],
    };
    write_base(store, dir, &manifest.base)?;
    create_aof_file(dir, &manifest.incrementals[0])?;
    Ok(manifest)
}

/// Writes every namespace, key and session as it is now into the base file `entry`, fsynced.
///
/// Each shard's keys are encoded under its lock (a copy of their bytes, no more than a
/// clone of the values would cost), and written out after it is released.
fn write_base(store: &Store, dir: &Path, entry: &ManifestEntry) -> Result<(), AofError> {
    let (file, path) = create_aof_file(dir, entry)?;
    let io = |source| AofError::Io {
        path: path.clone(),
        source,
    };
    let mut out = BufWriter::with_capacity(WRITE_CHUNK, file);
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    let mut flush = |buf: &mut Vec<u8>, at_least: usize| -> Result<(), AofError> {
        if buf.len() >= at_least {
            out.write_all(buf).map_err(io)?;
            buf.clear();
        }
        Ok(())
    };
    let now = now_ms();
    for namespace in store.namespaces() {
        let name = namespace.name();
        codec::encode(&namespace_effect(name, &namespace.policy()), &mut buf)?;
        for db in namespace.databases() {
            for index in 0..db.shard_count() {
                {
                    let shard = db.lock_shard(index);
                    for (key, entry) in shard.iter(now) {
                        let effects = capture::key_base(
                            name,
                            db.index(),
                            key,
                            &entry.value,
                            entry.expires_at(),
                        );
                        for effect in &effects {
                            codec::encode(effect, &mut buf)?;
                        }
                    }
                }
                flush(&mut buf, WRITE_CHUNK)?;
            }
        }
        let sessions = namespace.sessions();
        for index in 0..sessions.shard_count() {
            for record in sessions.snapshot_shard(index) {
                codec::encode(&capture::session_record(name, &record), &mut buf)?;
            }
            flush(&mut buf, WRITE_CHUNK)?;
        }
    }
    flush(&mut buf, 0)?;
    let file = out.into_inner().map_err(|error| io(error.into_error()))?;
    file.sync_all().map_err(io)
}
