//! SESSION.STATS counters, kept as each change happens (never by scanning).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::record::EndReason;
use crate::metrics::SessionMetrics;

/// Counters of one namespace's sessions.
#[derive(Debug)]
pub struct SessionStats {
    active: AtomicU64,
    peak_active: AtomicU64,
    created: AtomicU64,
    ended: AtomicU64,
    expired: AtomicU64,
    evicted: AtomicU64,
    rotated: AtomicU64,
    recovered: AtomicU64,
    recoverable: AtomicU64,
    duration_sum_ms: AtomicU64,
    /// The same endings, for Prometheus (with a duration histogram SESSION.STATS lacks).
    metrics: SessionMetrics,
}

/// A copy of the counters, as `SESSION.STATS` and INFO report them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Sessions active now.
    pub active: u64,
    /// Users with at least one active session.
    pub users_active: u64,
    /// Most sessions active at once since start.
    pub peak_active: u64,
    /// Sessions created (CREATE and RECOVER).
    pub created_total: u64,
    /// Sessions that stopped being active, for any reason but rotation.
    pub ended_total: u64,
    /// Of those, by their deadline.
    pub expired_total: u64,
    /// Of those, to make room under a user's cap.
    pub evicted_total: u64,
    /// Sessions moved to a new id by ROTATE.
    pub rotated_total: u64,
    /// Sessions brought back by RECOVER.
    pub recovered_total: u64,
    /// Ended sessions still inside their recovery window.
    pub recoverable: u64,
    /// Mean active lifetime of ended sessions, in ms.
    pub avg_duration_ms: u64,
}

impl SessionStats {
    /// Zeroed counters for the namespace `namespace`.
    pub fn new(namespace: &str) -> Self {
        SessionStats {
            active: AtomicU64::default(),
            peak_active: AtomicU64::default(),
            created: AtomicU64::default(),
            ended: AtomicU64::default(),
            expired: AtomicU64::default(),
            evicted: AtomicU64::default(),
            rotated: AtomicU64::default(),
            recovered: AtomicU64::default(),
            recoverable: AtomicU64::default(),
            duration_sum_ms: AtomicU64::default(),
            metrics: SessionMetrics::new(namespace),
        }
    }

    /// A session became active (created or recovered).
    pub fn started(&self, recovered: bool) {
        let active = self.active.fetch_add(1, Relaxed) + 1;
        self.peak_active.fetch_max(active, Relaxed);
        self.created.fetch_add(1, Relaxed);
        if recovered {
            self.recovered.fetch_add(1, Relaxed);
        }
    }

    /// A session stopped being active after `duration_ms`, `late_ms` after its deadline if
    /// it expired.
    pub fn left(&self, reason: EndReason, duration_ms: u64, late_ms: u64, recoverable: bool) {
        self.metrics.ended(reason, duration_ms, late_ms);
        self.active.fetch_sub(1, Relaxed);
        self.ended.fetch_add(1, Relaxed);
        self.duration_sum_ms.fetch_add(duration_ms, Relaxed);
        match reason {
            EndReason::Expired => self.expired.fetch_add(1, Relaxed),
            EndReason::Evicted => self.evicted.fetch_add(1, Relaxed),
            EndReason::Ended | EndReason::Cleanup => 0,
        };
        if recoverable {
            self.recoverable.fetch_add(1, Relaxed);
        }
    }

    /// A session moved to a new id.
    pub fn rotated(&self) {
        self.rotated.fetch_add(1, Relaxed);
    }

    /// An ended session left the recovery archive (window over, or recovered).
    pub fn purged(&self) {
        self.recoverable.fetch_sub(1, Relaxed);
    }

    /// Starts the counters from sessions loaded at start-up: `active` ones and
    /// `recoverable` ended ones (the totals count from this start on).
    pub fn restored(&self, active: u64, recoverable: u64) {
        self.active.store(active, Relaxed);
        self.peak_active.store(active, Relaxed);
        self.recoverable.store(recoverable, Relaxed);
    }

    /// Sessions active now.
    pub fn active(&self) -> u64 {
        self.active.load(Relaxed)
    }

    /// All counters; `users_active` comes from the user index.
    pub fn snapshot(&self, users_active: u64) -> StatsSnapshot {
        let ended = self.ended.load(Relaxed);
        StatsSnapshot {
            active: self.active(),
            users_active,
            peak_active: self.peak_active.load(Relaxed),
            created_total: self.created.load(Relaxed),
            ended_total: ended,
            expired_total: self.expired.load(Relaxed),
            evicted_total: self.evicted.load(Relaxed),
            rotated_total: self.rotated.load(Relaxed),
            recovered_total: self.recovered.load(Relaxed),
            recoverable: self.recoverable.load(Relaxed),
            avg_duration_ms: self
                .duration_sum_ms
                .load(Relaxed)
                .checked_div(ended)
                .unwrap_or(0),
        }
    }
}
