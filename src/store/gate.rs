//! The transaction gate: how EXEC runs with no other command in the middle of it.
//!
//! Every command, and every sweep of the expiry driver, holds the gate shared while it works;
//! EXEC holds it exclusively, so its queued commands see and leave the keyspace as one step,
//! across every shard, as Redis's single thread gives for free. The lock is sharded by thread
//! (`crossbeam_utils::sync::ShardedLock`), so taking it shared touches only the calling
//! thread's own cache line and costs the ordinary path next to nothing.

use std::sync::PoisonError;

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};

/// Shared by ordinary work, exclusive for a transaction.
#[derive(Debug, Default)]
pub struct TransactionGate(ShardedLock<()>);

impl TransactionGate {
    /// Held while a command or an expiry sweep runs. Never hold it across an `.await`.
    pub fn enter(&self) -> ShardedLockReadGuard<'_, ()> {
        // A panic while the gate was held leaves nothing half-done that the gate protects:
        // the shards have their own locks.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held while EXEC runs its queued commands: waits for every other command to finish
    /// and keeps new ones out until dropped.
    pub fn exclusive(&self) -> ShardedLockWriteGuard<'_, ()> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}
