//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! After MULTI, dispatch queues every command but these (and QUIT, RESET) instead of running
//! it, answering `+QUEUED`; a command refused while queuing (unknown, wrong arity, NOAUTH,
//! OOM...) dooms the transaction, as in Redis. EXEC then runs the queue holding the store's
//! [`crate::store::TransactionGate`] exclusively, so no other command or expiry happens in
//! between, and as one journal unit, so the AOF keeps all of its writes or none. WATCH marks
//! keys whose change (by anyone, including expiry) makes EXEC answer a nil array instead.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{CommandError, CommandResult, CommandSpec, Context, run};
use crate::protocol::Reply;
use crate::store::watch::WatchFlag;
use crate::store::{Key, Namespace};

/// The commands a client queued after MULTI.
#[derive(Debug, Default)]
pub struct Transaction {
    queued: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A command was refused while queuing: EXEC must not run any of them.
    doomed: bool,
}

impl Transaction {
    /// Adds a command to run at EXEC.
    pub fn queue(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) {
        let args = args.iter().map(|arg| Bytes::copy_from_slice(arg)).collect();
        self.queued.push((spec, args));
    }

    /// Marks the transaction as failed: EXEC answers EXECABORT.
    pub fn doom(&mut self) {
        self.doomed = true;
    }

    /// How many commands are queued (CLIENT LIST's `multi`).
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued yet.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }
}

/// The keys a client watches, and the flag their shards set when one changes. Dropping it
/// (UNWATCH, EXEC, DISCARD, RESET, disconnect) takes the client off every key.
#[derive(Debug, Default)]
pub struct WatchedKeys {
    flag: WatchFlag,
    keys: Vec<(Arc<Namespace>, usize, Key)>,
}

impl WatchedKeys {
    /// Whether a watched key changed since it was watched.
    fn changed(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Whether a watched key's deadline has passed, though it was live when watched (its
    /// removal may still be a tick away): that is a change too, as in Redis 7.
    fn expired(&self, now: u64) -> bool {
        self.keys.iter().any(|(namespace, db, key)| {
            namespace.database(*db).is_some_and(|db| {
                db.lock(key)
                    .current(key)
                    .and_then(|entry| entry.expires_at())
                    .is_some_and(|deadline| deadline <= now)
            })
        })
    }
}

impl Drop for WatchedKeys {
    fn drop(&mut self) {
        for (namespace, db, key) in self.keys.drain(..) {
            if let Some(db) = namespace.database(db) {
                db.lock(&key).watchers_mut().remove(&key, &self.flag);
            }
        }
    }
}

/// The reply to a command dispatch refused (unknown, wrong arity, NOAUTH, OOM...): after
/// MULTI it dooms the transaction; a refused EXEC discards it, quoting why, as Redis does.
pub fn refuse(ctx: &mut Context, spec: Option<&CommandSpec>, error: String) -> Reply {
    if spec.is_some_and(|spec| spec.name == "exec") {
        ctx.client.take_transaction();
        ctx.client.unwatch_all();
        let reason = error.strip_prefix("ERR ").unwrap_or(&error);
        return Reply::Error(format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ));
    }
    ctx.client.doom_transaction();
    Reply::Error(error)
}

/// MULTI
pub fn multi(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    if ctx.client.in_transaction() {
        return Err(CommandError::err("MULTI calls can not be nested"));
    }
    ctx.client.begin_transaction();
    Ok(Reply::Ok)
}

/// DISCARD
pub fn discard(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    if ctx.client.take_transaction().is_none() {
        return Err(CommandError::err("DISCARD without MULTI"));
    }
    ctx.client.unwatch_all();
    Ok(Reply::Ok)
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if ctx.client.in_transaction() {
        return Err(CommandError::err("WATCH inside MULTI is not allowed"));
    }
    let namespace = ctx.client.namespace_arc().clone();
    let db_index = ctx.client.db_index();
    for &key in &args[1..] {
        let already = ctx.client.watched.keys.iter().any(|(ns, db, watched)| {
            Arc::ptr_eq(ns, &namespace) && *db == db_index && **watched == *key
        });
        if already {
            continue;
        }
        let key = Key::from(key);
        let mut shard = ctx.db().lock(&key);
        // A key already past its deadline is removed first, so only a later change counts.
        shard.contains(&key, ctx.now);
        shard
            .watchers_mut()
            .add(key.clone(), &ctx.client.watched.flag);
        drop(shard);
        ctx.client
            .watched
            .keys
            .push((namespace.clone(), db_index, key));
    }
    Ok(Reply::Ok)
}

/// UNWATCH
pub fn unwatch(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    ctx.client.unwatch_all();
    Ok(Reply::Ok)
}

/// EXEC
pub fn exec(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let Some(transaction) = ctx.client.take_transaction() else {
        return Err(CommandError::err("EXEC without MULTI"));
    };
    if transaction.doomed {
        ctx.client.unwatch_all();
        return Err(CommandError::Coded(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    let server = ctx.server;
    let _alone = server.store.gate().exclusive();
    let watched = std::mem::take(&mut ctx.client.watched);
    if watched.changed() || watched.expired(ctx.now) {
        return Ok(Reply::NilArray);
    }
    drop(watched);
    let unit = server.store.journal().unit();
    let replies = transaction
        .queued
        .iter()
        .map(|(spec, args)| {
            let args: Vec<&[u8]> = args.iter().map(|arg| &arg[..]).collect();
            run(ctx, spec, &args)
        })
        .collect();
    drop(unit);
    Ok(Reply::Array(replies))
}
