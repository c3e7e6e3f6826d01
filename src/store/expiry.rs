//! The expiry driver: one thread that advances every shard's timing wheel when it is due.
//!
//! Shards publish a lower bound of their earliest timer in an atomic, so a pass over idle
//! shards costs one load each and no lock. Between passes the driver sleeps until the earliest
//! bound (at most [`MAX_IDLE_SLEEP`]); arming an earlier deadline wakes it through
//! [`ExpiryClock::note_deadline`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

use parking_lot::Mutex;

use super::{Store, now_ms};

/// Longest the driver sleeps when no timer is due sooner.
pub const MAX_IDLE_SLEEP: Duration = Duration::from_millis(100);

/// Shared between the driver thread and everyone who arms timers.
#[derive(Debug, Default)]
pub struct ExpiryClock {
    /// The time the driver plans to wake at (`u64::MAX` while it works).
    planned_wake: AtomicU64,
    driver: Mutex<Option<Thread>>,
    stop: AtomicBool,
}

impl ExpiryClock {
    /// Tells the driver a timer was armed for `deadline`; wakes it if it would sleep past it.
    pub fn note_deadline(&self, deadline: u64) {
        if deadline < self.planned_wake.fetch_min(deadline, Ordering::AcqRel)
            && let Some(driver) = self.driver.lock().as_ref()
        {
            driver.unpark();
        }
    }
}

/// Starts the driver thread for `store`. It stops when [`stop`] is called.
pub fn spawn_driver(store: Arc<Store>) -> JoinHandle<()> {
    let clock = store.clock().clone();
    let handle = thread::Builder::new()
        .name("sessiond-expiry".into())
        .spawn(move || run(&store))
        .expect("the expiry thread can be spawned at start-up");
    *clock.driver.lock() = Some(handle.thread().clone());
    handle
}

/// Asks the driver thread to finish its pass and exit.
pub fn stop(clock: &ExpiryClock) {
    clock.stop.store(true, Ordering::Release);
    if let Some(driver) = clock.driver.lock().as_ref() {
        driver.unpark();
    }
}

fn run(store: &Store) {
    let clock = store.clock().clone();
    let mut fired = Vec::new();
    let mut fired_sessions = Vec::new();
    while !clock.stop.load(Ordering::Acquire) {
        clock.planned_wake.store(u64::MAX, Ordering::Release);
        let now = now_ms();
        let mut earliest = u64::MAX;
        // Not in the middle of a transaction: EXEC's commands see no key expire meanwhile.
        let gate = store.gate().enter();
        for namespace in store.namespaces() {
            let window = namespace.policy().recovery_window_ms;
            earliest = earliest.min(
                namespace
                    .sessions()
                    .advance(now, window, &mut fired_sessions),
            );
            for database in namespace.databases() {
                for (index, slot) in database.slots().iter().enumerate() {
                    if slot.next_due() <= now {
                        let mut shard = database.lock_shard(index);
                        shard.advance(now, &mut fired);
                        shard.publish_next_due();
                    }
                    earliest = earliest.min(slot.next_due());
                }
            }
        }
        drop(gate);
        let limit = now_ms() + MAX_IDLE_SLEEP.as_millis() as u64;
        clock
            .planned_wake
            .fetch_min(earliest.min(limit), Ordering::AcqRel);
        let wake = clock.planned_wake.load(Ordering::Acquire);
        let now = now_ms();
        if wake > now {
            thread::park_timeout(Duration::from_millis(wake - now));
        }
    }
}
