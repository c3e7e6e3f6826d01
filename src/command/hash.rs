//! Hash commands: HSET and friends, counters in fields, HSCAN and HRANDFIELD.
//!
//! Reads take the hash through [`Value::as_hash`]; writes go through a [`HashEdit`], which
//! tells the journal which fields changed. A key never holds an empty hash: HDEL of the
//! last field removes the key, as in Redis.

use std::hash::{BuildHasher, RandomState};

use bytes::Bytes;

use super::args::{self, is};
use super::long_double::{self, AddError};
use super::member_scan::{ScanOptions, scan_reply};
use super::{CommandError, CommandResult, Context};
use crate::keyspace_events::EventClass;
use crate::protocol::{Protocol, Reply};
use crate::store::hash::{self, HashEdit, Pair};
use crate::store::value::parse_canonical_int;
use crate::store::{Hash, HashLimits, Shard, Value};

/// The live hash at `key`, if any, marked accessed.
fn read<'a>(shard: &'a mut Shard, key: &[u8], now: u64) -> Result<Option<&'a Hash>, CommandError> {
    match shard.get(key, now) {
        Some(entry) => Ok(Some(entry.value.as_hash()?)),
        None => Ok(None),
    }
}

fn bulk(data: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(data))
}

/// Runs `change` on the hash at `key`, creating the key when there is none (if `change`
/// leaves the new hash with fields) and removing it when `change` empties it. `change`
/// checks everything before it changes anything: on its error the hash is as it was.
/// Returns what `change` returned and whether the key was removed.
fn change_hash<T>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    limits: HashLimits,
    change: impl FnOnce(&mut HashEdit<'_>) -> Result<T, CommandError>,
) -> Result<(T, bool), CommandError> {
    if let Some(mut edit) = hash::edit(shard, key, now, limits)? {
        let result = change(&mut edit)?;
        let emptied = edit.hash().is_empty();
        if emptied {
            shard.remove(key, now);
        }
        return Ok((result, emptied));
    }
    let mut fresh = Hash::default();
    let result = change(&mut HashEdit::detached(&mut fresh, limits))?;
    if !fresh.is_empty() {
        shard.set(key, Value::Hash(fresh), None, now);
    }
    Ok((result, false))
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_fields(ctx, args, "hset").map(|created| Reply::Int(created as i64))
}

/// HMSET key field value [field value ...]: HSET answering OK.
pub fn hmset(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_fields(ctx, args, "hmset").map(|_| Reply::Ok)
}

/// Sets every pair; how many fields are new.
fn set_fields(ctx: &mut Context, args: &[&[u8]], command: &str) -> Result<usize, CommandError> {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity(command.into()));
    }
    let key = args[1];
    let limits = ctx.server.store.hash_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let (created, _) = change_hash(&mut shard, key, ctx.now, limits, |edit| {
        Ok(args[2..]
            .chunks(2)
            .filter(|pair| edit.insert(pair[0], pair[1]))
            .count())
    })?;
    drop(shard);
    db.notify(EventClass::Hash, "hset", key);
    Ok(created)
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (key, field, value) = (args[1], args[2], args[3]);
    let limits = ctx.server.store.hash_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let (set, _) = change_hash(&mut shard, key, ctx.now, limits, |edit| {
        let absent = edit.hash().get(field).is_none();
        if absent {
            edit.insert(field, value);
        }
        Ok(absent)
    })?;
    drop(shard);
    if set {
        db.notify(EventClass::Hash, "hset", key);
    }
    Ok(Reply::Int(i64::from(set)))
}

/// HGET key field
pub fn hget(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let value = read(&mut shard, args[1], ctx.now)?.and_then(|hash| hash.get(args[2]));
    Ok(value.map_or(Reply::Nil, bulk))
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let hash = read(&mut shard, args[1], ctx.now)?;
    let values = args[2..]
        .iter()
        .map(|field| hash.and_then(|h| h.get(field)).map_or(Reply::Nil, bulk))
        .collect();
    Ok(Reply::Array(values))
}

/// HGETALL key: a map in RESP3, a flat array in RESP2.
pub fn hgetall(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let pairs = read(&mut shard, args[1], ctx.now)?
        .map(|hash| hash.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
        .unwrap_or_default();
    Ok(Reply::Map(pairs))
}

/// HKEYS key
pub fn hkeys(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    list(ctx, args[1], |(field, _)| field)
}

/// HVALS key
pub fn hvals(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    list(ctx, args[1], |(_, value)| value)
}

fn list(ctx: &mut Context, key: &[u8], part: fn(Pair<'_>) -> &[u8]) -> CommandResult {
    let mut shard = ctx.db().lock(key);
    let items = read(&mut shard, key, ctx.now)?
        .map(|hash| hash.iter().map(|pair| bulk(part(pair))).collect())
        .unwrap_or_default();
    Ok(Reply::Array(items))
}

/// HLEN key
pub fn hlen(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let len = read(&mut shard, args[1], ctx.now)?.map_or(0, Hash::len);
    Ok(Reply::Int(len as i64))
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let found = read(&mut shard, args[1], ctx.now)?.is_some_and(|h| h.get(args[2]).is_some());
    Ok(Reply::Int(i64::from(found)))
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let len = read(&mut shard, args[1], ctx.now)?
        .and_then(|hash| hash.get(args[2]))
        .map_or(0, <[u8]>::len);
    Ok(Reply::Int(len as i64))
}

/// HDEL key field [field ...]: the key goes when its last field does.
pub fn hdel(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let limits = ctx.server.store.hash_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = hash::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..].iter().filter(|field| edit.remove(field)).count();
    let emptied = edit.hash().is_empty();
    if emptied {
        shard.remove(key, ctx.now);
    }
    drop(shard);
    if removed > 0 {
        db.notify(EventClass::Hash, "hdel", key);
        if emptied {
            db.notify(EventClass::Generic, "del", key);
        }
    }
    Ok(Reply::Int(removed as i64))
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (key, field) = (args[1], args[2]);
    let by = args::int(args[3])?;
    let limits = ctx.server.store.hash_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let (next, _) = change_hash(&mut shard, key, ctx.now, limits, |edit| {
        let current = match edit.hash().get(field) {
            Some(value) => parse_canonical_int(value)
                .ok_or_else(|| CommandError::err("hash value is not an integer"))?,
            None => 0,
        };
        let next = current
            .checked_add(by)
            .ok_or_else(|| CommandError::err("increment or decrement would overflow"))?;
        edit.insert(field, next.to_string().as_bytes());
        Ok(next)
    })?;
    drop(shard);
    db.notify(EventClass::Hash, "hincrby", key);
    Ok(Reply::Int(next))
}

/// HINCRBYFLOAT key field increment, in `long double` as Redis computes it.
pub fn hincrbyfloat(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (key, field, by) = (args[1], args[2], args[3]);
    long_double::add(None, by).map_err(|error| match error {
        AddError::NotFinite => CommandError::err("value is NaN or Infinity"),
        _ => CommandError::NotFloat,
    })?;
    let limits = ctx.server.store.hash_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let (text, _) = change_hash(&mut shard, key, ctx.now, limits, |edit| {
        let text = long_double::add(edit.hash().get(field), by).map_err(|error| match error {
            AddError::CurrentNotFloat => CommandError::err("hash value is not a float"),
            AddError::IncrementNotFloat => CommandError::NotFloat,
            AddError::NotFinite => CommandError::err("increment would produce NaN or Infinity"),
            AddError::TooLong => CommandError::err("value is too long to be represented"),
        })?;
        edit.insert(field, &text);
        Ok(text)
    })?;
    drop(shard);
    db.notify(EventClass::Hash, "hincrbyfloat", key);
    Ok(Reply::Bulk(Bytes::from(text)))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A packed hash answers whole with cursor 0; a table's cursor is a place in it, and a
/// field present for the whole iteration is returned exactly once (see `store::hash`).
pub fn hscan(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let cursor = args::cursor(args[2])?;
    let mut shard = ctx.db().lock(args[1]);
    let Some(hash) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = ScanOptions::parse(&args[3..])?;
    let (next, pairs) = hash.scan(cursor, options.count);
    let items = pairs
        .into_iter()
        .filter(|(field, _)| options.matches(field))
        .flat_map(|(field, value)| [bulk(field), bulk(value)])
        .collect();
    Ok(scan_reply(next, items))
}

/// The most picks one HRANDFIELD (or SRANDMEMBER) with a negative count returns. Redis
/// streams such a reply until the client's output limit closes it; sessiond builds replies
/// whole, so it refuses counts that would take more memory than any sensible use.
pub(super) const MAX_REPEATED_PICKS: u64 = 1 << 22;

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut below = random_source(ctx.now);
    if args.len() == 2 {
        let mut shard = ctx.db().lock(args[1]);
        let pick = read(&mut shard, args[1], ctx.now)?.and_then(|hash| {
            hash.random_pairs(1, &mut below)
                .first()
                .map(|(f, _)| bulk(f))
        });
        return Ok(pick.unwrap_or(Reply::Nil));
    }
    let count = args::int(args[2])?;
    if count == i64::MIN {
        return Err(CommandError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match &args[3..] {
        [] => false,
        [option] if is(option, "WITHVALUES") => true,
        _ => return Err(CommandError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CommandError::err("value is out of range"));
    }
    let protocol = ctx.client.protocol();
    let mut shard = ctx.db().lock(args[1]);
    let Some(hash) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count < 0 && count.unsigned_abs() > MAX_REPEATED_PICKS {
        return Err(CommandError::err(format!(
            "value is out of range, sessiond returns at most {MAX_REPEATED_PICKS} fields with repetitions"
        )));
    }
    let picks = match count {
        0 => Vec::new(),
        1.. => hash.random_distinct_pairs(count as usize, &mut below),
        _ => hash.random_pairs(count.unsigned_abs() as usize, &mut below),
    };
    Ok(picks_reply(picks, with_values, protocol))
}

/// Fields, or with values: `[field, value]` arrays in RESP3, a flat array in RESP2.
fn picks_reply(picks: Vec<Pair<'_>>, with_values: bool, protocol: Protocol) -> Reply {
    let items = picks.into_iter();
    Reply::Array(match (with_values, protocol) {
        (false, _) => items.map(|(field, _)| bulk(field)).collect(),
        (true, Protocol::Resp3) => items
            .map(|(f, v)| Reply::Array(vec![bulk(f), bulk(v)]))
            .collect(),
        (true, Protocol::Resp2) => items.flat_map(|(f, v)| [bulk(f), bulk(v)]).collect(),
    })
}

/// Random numbers below a bound (xorshift64*, seeded from the process's random keys): picks
/// need to be fair, not secret.
pub(super) fn random_source(now: u64) -> impl FnMut(usize) -> usize {
    let mut state = RandomState::new().hash_one(now) | 1;
    move |bound| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let random = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((u128::from(random) * bound as u128) >> 64) as usize
    }
}
