//! Set commands: SADD and friends, random pops and picks, SSCAN, and the set algebra
//! (SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD, SMOVE).
//!
//! Reads take the set through [`Value::as_set`]; writes to a stored set go through a
//! [`SetEdit`], which tells the journal and WATCH which members changed. A key never holds an
//! empty set: the write that removes the last member removes the key, as in Redis. Commands
//! over several keys lock their shards together ([`crate::store::Database::lock_many`]) and
//! check every key's type before using any.

use bytes::Bytes;

use super::args::{self, is};
use super::hash::{MAX_REPEATED_PICKS, random_source};
use super::member_scan::{ScanOptions, scan_reply};
use super::{CommandError, CommandResult, Context};
use crate::keyspace_events::EventClass;
use crate::protocol::Reply;
use crate::store::set::{self, Member};
use crate::store::{MultiGuard, Set, SetLimits, Shard, Value};

/// The live set at `key`, if any, marked accessed.
fn read<'a>(shard: &'a mut Shard, key: &[u8], now: u64) -> Result<Option<&'a Set>, CommandError> {
    match shard.get(key, now) {
        Some(entry) => Ok(Some(entry.value.as_set()?)),
        None => Ok(None),
    }
}

fn bulk(member: Member<'_>) -> Reply {
    Reply::Bulk(member.to_bytes())
}

/// Members as an unordered reply: a RESP3 set, a RESP2 array.
fn members_reply<'a>(members: impl IntoIterator<Item = Member<'a>>) -> Reply {
    Reply::Set(members.into_iter().map(bulk).collect())
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let limits = ctx.server.store.set_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let added = match set::edit(&mut shard, key, ctx.now, limits)? {
        Some(mut edit) => args[2..].iter().filter(|m| edit.insert(m)).count(),
        None => {
            let mut fresh = Set::default();
            let added = args[2..].iter().filter(|m| fresh.insert(m, limits)).count();
            shard.set(key, Value::Set(fresh), None, ctx.now);
            added
        }
    };
    drop(shard);
    if added > 0 {
        db.notify(EventClass::Set, "sadd", key);
    }
    Ok(Reply::Int(added as i64))
}

/// SREM key member [member ...]: the key goes when its last member does.
pub fn srem(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let limits = ctx.server.store.set_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = set::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..].iter().filter(|m| edit.remove(m)).count();
    let emptied = edit.set().is_empty();
    if emptied {
        shard.remove(key, ctx.now);
    }
    drop(shard);
    if removed > 0 {
        db.notify(EventClass::Set, "srem", key);
        if emptied {
            db.notify(EventClass::Generic, "del", key);
        }
    }
    Ok(Reply::Int(removed as i64))
}

/// SMEMBERS key
pub fn smembers(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let set = read(&mut shard, args[1], ctx.now)?;
    Ok(members_reply(set.into_iter().flat_map(Set::iter)))
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let found = read(&mut shard, args[1], ctx.now)?.is_some_and(|set| set.contains(args[2]));
    Ok(Reply::Int(i64::from(found)))
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let set = read(&mut shard, args[1], ctx.now)?;
    let found = args[2..]
        .iter()
        .map(|member| Reply::Int(i64::from(set.is_some_and(|s| s.contains(member)))))
        .collect();
    Ok(Reply::Array(found))
}

/// SCARD key
pub fn scard(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let len = read(&mut shard, args[1], ctx.now)?.map_or(0, Set::len);
    Ok(Reply::Int(len as i64))
}

/// SPOP key [count]
pub fn spop(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    match args {
        [_, key] => spop_one(ctx, key),
        [_, key, count] => {
            let count = args::int(count)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| CommandError::err("value is out of range, must be positive"))?;
            spop_many(ctx, key, count)
        }
        _ => Err(CommandError::Syntax),
    }
}

/// SPOP key: one random member, removed.
fn spop_one(ctx: &mut Context, key: &[u8]) -> CommandResult {
    let limits = ctx.server.store.set_limits();
    let mut below = random_source(ctx.now);
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = set::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Nil);
    };
    let Some(member) = edit.set().random_member(&mut below).map(Member::to_bytes) else {
        return Ok(Reply::Nil);
    };
    edit.remove(&member);
    let emptied = edit.set().is_empty();
    if emptied {
        shard.remove(key, ctx.now);
    }
    drop(shard);
    db.notify(EventClass::Set, "spop", key);
    if emptied {
        db.notify(EventClass::Generic, "del", key);
    }
    Ok(Reply::Bulk(member))
}

/// How much larger than what it leaves a pop must be for SPOP to build the rest as a new
/// set rather than remove members one by one (Redis's `SPOP_MOVE_STRATEGY_MUL`): the new
/// set takes the encoding its members call for, as in Redis.
const SPOP_REBUILD_FACTOR: usize = 5;

/// SPOP key count: `count` distinct random members, removed. Each removed member is
/// journaled as absent (or the rest of the set as it is), never as "a pop".
fn spop_many(ctx: &mut Context, key: &[u8], count: usize) -> CommandResult {
    let limits = ctx.server.store.set_limits();
    let mut below = random_source(ctx.now);
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = set::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let size = edit.set().len();
    let remaining = size.saturating_sub(count);
    let popped: Vec<Bytes> = if remaining == 0 {
        let all = edit.set().iter().map(Member::to_bytes).collect();
        shard.remove(key, ctx.now);
        all
    } else if remaining.saturating_mul(SPOP_REBUILD_FACTOR) > count {
        let picked: Vec<Bytes> = edit
            .set()
            .random_distinct_members(count, &mut below)
            .into_iter()
            .map(Member::to_bytes)
            .collect();
        for member in &picked {
            edit.remove(member);
        }
        picked
    } else {
        let kept = edit
            .set()
            .random_distinct_members(remaining, &mut below)
            .into_iter()
            .map(Member::as_cow)
            .collect::<Vec<_>>();
        let rest = Set::from_members(kept.iter().map(|member| &**member), limits);
        let popped = edit
            .set()
            .iter()
            .filter(|&member| !rest.contains_member(member))
            .map(Member::to_bytes)
            .collect();
        if let Some(entry) = shard.get_mut(key, ctx.now) {
            entry.value = Value::Set(rest);
        }
        popped
    };
    drop(shard);
    db.notify(EventClass::Set, "spop", key);
    if remaining == 0 {
        db.notify(EventClass::Generic, "del", key);
    }
    Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()))
}

/// SRANDMEMBER key [count]: a negative count may repeat members.
pub fn srandmember(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut below = random_source(ctx.now);
    let count = match args {
        [_, key] => {
            let mut shard = ctx.db().lock(key);
            let pick =
                read(&mut shard, key, ctx.now)?.and_then(|set| set.random_member(&mut below));
            return Ok(pick.map_or(Reply::Nil, bulk));
        }
        [_, _, count] => args::int(count)?,
        _ => return Err(CommandError::Syntax),
    };
    if count == i64::MIN {
        return Err(CommandError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let mut shard = ctx.db().lock(args[1]);
    let Some(set) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count < 0 && count.unsigned_abs() > MAX_REPEATED_PICKS {
        return Err(CommandError::err(format!(
            "value is out of range, sessiond returns at most {MAX_REPEATED_PICKS} members with repetitions"
        )));
    }
    let picks = match count {
        0 => Vec::new(),
        1.. => set.random_distinct_members(count as usize, &mut below),
        _ => set.random_members(count.unsigned_abs() as usize, &mut below),
    };
    Ok(Reply::Array(picks.into_iter().map(bulk).collect()))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// An integer or packed set answers whole with cursor 0; a table's cursor is a place in it,
/// and a member present for the whole iteration is returned exactly once (see `store::set`).
pub fn sscan(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let cursor = args::cursor(args[2])?;
    let mut shard = ctx.db().lock(args[1]);
    let Some(set) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = ScanOptions::parse(&args[3..])?;
    let (next, members) = set.scan(cursor, options.count);
    let items = members
        .into_iter()
        .filter(|member| member.with_bytes(|m| options.matches(m)))
        .map(bulk)
        .collect();
    Ok(scan_reply(next, items))
}

/// The sets at `keys` (`None` where there is no key), after checking every key's type, so
/// that a wrong type anywhere is an error whatever the other keys hold.
fn lookup_sets<'g>(
    shards: &'g mut MultiGuard<'_>,
    keys: &[&[u8]],
    now: u64,
) -> Result<Vec<Option<&'g Set>>, CommandError> {
    for key in keys {
        if let Some(entry) = shards.shard(key).get(key, now) {
            entry.value.as_set()?;
        }
    }
    let shards = &*shards;
    keys.iter()
        .map(|key| match shards.current(key) {
            Some(entry) => Ok(Some(entry.value.as_set()?)),
            None => Ok(None),
        })
        .collect()
}

/// The members every one of `sets` holds, in the order of the smallest, at most `limit`
/// of them (0 = all); none when a key is missing.
fn intersection<'s>(sets: &[Option<&'s Set>], limit: usize) -> Vec<Member<'s>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|set| set.len());
    let Some((smallest, others)) = sets.split_first() else {
        return Vec::new();
    };
    let common = smallest
        .iter()
        .filter(|&member| others.iter().all(|other| other.contains_member(member)));
    match limit {
        0 => common.collect(),
        limit => common.take(limit).collect(),
    }
}

/// Every member of any of `sets`, as a new set.
fn union(sets: &[Option<&Set>], limits: SetLimits) -> Set {
    let mut result = Set::default();
    for set in sets.iter().flatten() {
        for member in set.iter() {
            member.with_bytes(|bytes| result.insert(bytes, limits));
        }
    }
    result
}

/// The members of the first of `sets` that none of the others holds, as a new set.
fn difference(sets: &[Option<&Set>], limits: SetLimits) -> Set {
    let mut result = Set::default();
    let Some((Some(first), others)) = sets.split_first() else {
        return result;
    };
    for member in first.iter() {
        if !others
            .iter()
            .flatten()
            .any(|other| other.contains_member(member))
        {
            member.with_bytes(|bytes| result.insert(bytes, limits));
        }
    }
    result
}

/// A new set holding `members`.
fn collect_set<'a>(members: impl IntoIterator<Item = Member<'a>>, limits: SetLimits) -> Set {
    let mut result = Set::default();
    for member in members {
        member.with_bytes(|bytes| result.insert(bytes, limits));
    }
    result
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let keys = &args[1..];
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let sets = lookup_sets(&mut shards, keys, ctx.now)?;
    Ok(members_reply(intersection(&sets, 0)))
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let limits = ctx.server.store.set_limits();
    let keys = &args[1..];
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let sets = lookup_sets(&mut shards, keys, ctx.now)?;
    Ok(members_reply(union(&sets, limits).iter()))
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let limits = ctx.server.store.set_limits();
    let keys = &args[1..];
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let sets = lookup_sets(&mut shards, keys, ctx.now)?;
    Ok(members_reply(difference(&sets, limits).iter()))
}

/// Which set operation a STORE command stores.
#[derive(Clone, Copy)]
enum Operation {
    Inter,
    Union,
    Diff,
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    store(ctx, args, Operation::Inter, "sinterstore")
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    store(ctx, args, Operation::Union, "sunionstore")
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    store(ctx, args, Operation::Diff, "sdiffstore")
}

/// Stores the result of `operation` over `args[2..]` at `args[1]`, replacing what it held
/// (its deadline too); an empty result removes the destination. Sources and destination
/// are locked together, so the result is stored as one step.
fn store(
    ctx: &mut Context,
    args: &[&[u8]],
    operation: Operation,
    event: &'static str,
) -> CommandResult {
    let (destination, keys) = (args[1], &args[2..]);
    let limits = ctx.server.store.set_limits();
    let db = ctx.db();
    let mut shards = db.lock_many(args[1..].iter().copied());
    let sets = lookup_sets(&mut shards, keys, ctx.now)?;
    let result = match operation {
        Operation::Inter => collect_set(intersection(&sets, 0), limits),
        Operation::Union => union(&sets, limits),
        Operation::Diff => difference(&sets, limits),
    };
    let size = result.len();
    let shard = shards.shard(destination);
    let notice = if size > 0 {
        shard.set(destination, Value::Set(result), None, ctx.now);
        Some((EventClass::Set, event))
    } else {
        shard
            .remove(destination, ctx.now)
            .map(|_| (EventClass::Generic, "del"))
    };
    drop(shards);
    if let Some((class, event)) = notice {
        db.notify(class, event, destination);
    }
    Ok(Reply::Int(size as i64))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let numkeys = args::int(args[1])
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| CommandError::err("numkeys should be greater than 0"))?;
    let after = &args[2..];
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n <= after.len())
        .ok_or_else(|| CommandError::err("Number of keys can't be greater than number of args"))?;
    let (keys, mut options) = after.split_at(numkeys);
    let mut limit = 0usize;
    while let [option, rest @ ..] = options {
        match rest {
            [value, rest @ ..] if is(option, "LIMIT") => {
                limit = args::int(value)
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| CommandError::err("LIMIT can't be negative"))?;
                options = rest;
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let sets = lookup_sets(&mut shards, keys, ctx.now)?;
    Ok(Reply::Int(intersection(&sets, limit).len() as i64))
}

/// SMOVE source destination member: 1 when the member was in the source (and is now in
/// the destination).
pub fn smove(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (source, destination, member) = (args[1], args[2], args[3]);
    let limits = ctx.server.store.set_limits();
    let db = ctx.db();
    let mut shards = db.lock_many([source, destination]);
    let Some(entry) = shards.shard(source).get(source, ctx.now) else {
        return Ok(Reply::Int(0));
    };
    entry.value.as_set()?;
    if let Some(entry) = shards.shard(destination).get(destination, ctx.now) {
        entry.value.as_set()?;
    }
    if source == destination {
        let found = shards
            .current(source)
            .is_some_and(|entry| entry.value.as_set().is_ok_and(|set| set.contains(member)));
        return Ok(Reply::Int(i64::from(found)));
    }
    let Some(mut from) = set::edit(shards.shard(source), source, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    if !from.remove(member) {
        return Ok(Reply::Int(0));
    }
    let emptied = from.set().is_empty();
    if emptied {
        shards.shard(source).remove(source, ctx.now);
    }
    let to = shards.shard(destination);
    let added = match set::edit(to, destination, ctx.now, limits)? {
        Some(mut edit) => edit.insert(member),
        None => {
            let fresh = Set::from_members([member], limits);
            shards
                .shard(destination)
                .set(destination, Value::Set(fresh), None, ctx.now);
            true
        }
    };
    drop(shards);
    db.notify(EventClass::Set, "srem", source);
    if emptied {
        db.notify(EventClass::Generic, "del", source);
    }
    if added {
        db.notify(EventClass::Set, "sadd", destination);
    }
    Ok(Reply::Int(1))
}
