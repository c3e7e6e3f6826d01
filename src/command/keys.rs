//! Key commands: existence, deadlines, renaming, iteration, database-wide operations.

use std::hash::{BuildHasher, RandomState};

use bytes::Bytes;

use super::args::{self, is};
use super::{CommandError, CommandResult, Context};
use crate::glob::glob_match;
use crate::keyspace_events::EventClass;
use crate::protocol::Reply;
use crate::store::{Database, Entry, Key, Shard, ShardGuard, Value, value::parse_canonical_int};

/// DEL key [key ...] (also UNLINK)
pub fn del(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let keys = &args[1..];
    let db = ctx.db();
    let mut shards = db.lock_many(keys.iter().copied());
    let deleted: Vec<&[u8]> = keys
        .iter()
        .copied()
        .filter(|key| shards.shard(key).remove(key, ctx.now).is_some())
        .collect();
    drop(shards);
    for key in &deleted {
        db.notify(EventClass::Generic, "del", key);
    }
    Ok(Reply::Int(deleted.len() as i64))
}

/// EXISTS key [key ...]: repeated keys count each time.
pub fn exists(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    count_live(ctx, &args[1..])
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let keys = &args[1..];
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let touched = keys
        .iter()
        .filter(|key| shards.shard(key).get(key, ctx.now).is_some())
        .count();
    Ok(Reply::Int(touched as i64))
}

fn count_live(ctx: &mut Context, keys: &[&[u8]]) -> CommandResult {
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let live = keys
        .iter()
        .filter(|key| shards.shard(key).contains(key, ctx.now))
        .count();
    Ok(Reply::Int(live as i64))
}

/// TYPE key
pub fn type_of(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let name = shard
        .peek(args[1], ctx.now)
        .map_or("none", |entry| entry.value.type_name());
    Ok(Reply::status(name))
}

/// How an EXPIRE-family argument is measured.
#[derive(Clone, Copy)]
enum TimeArg {
    RelativeSeconds,
    RelativeMillis,
    AbsoluteSeconds,
    AbsoluteMillis,
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_expiry(ctx, args, TimeArg::RelativeSeconds, "expire")
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_expiry(ctx, args, TimeArg::RelativeMillis, "pexpire")
}

/// EXPIREAT key unix-seconds [NX|XX|GT|LT]
pub fn expireat(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_expiry(ctx, args, TimeArg::AbsoluteSeconds, "expireat")
}

/// PEXPIREAT key unix-milliseconds [NX|XX|GT|LT]
pub fn pexpireat(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_expiry(ctx, args, TimeArg::AbsoluteMillis, "pexpireat")
}

#[derive(Default)]
struct ExpireConditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_conditions(options: &[&[u8]]) -> Result<ExpireConditions, CommandError> {
    let mut c = ExpireConditions::default();
    for option in options {
        match args::text(option).to_ascii_uppercase().as_str() {
            "NX" => c.nx = true,
            "XX" => c.xx = true,
            "GT" => c.gt = true,
            "LT" => c.lt = true,
            _ => {
                return Err(CommandError::err(format!(
                    "Unsupported option {}",
                    args::text(option)
                )));
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(CommandError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(CommandError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

fn set_expiry(ctx: &mut Context, args: &[&[u8]], unit: TimeArg, command: &str) -> CommandResult {
    let conditions = parse_expire_conditions(&args[3..])?;
    let amount = args::int(args[2])?;
    let invalid = || CommandError::err(format!("invalid expire time in '{command}' command"));
    let millis = match unit {
        TimeArg::RelativeSeconds | TimeArg::AbsoluteSeconds => {
            amount.checked_mul(1000).ok_or_else(invalid)?
        }
        TimeArg::RelativeMillis | TimeArg::AbsoluteMillis => amount,
    };
    let when = match unit {
        TimeArg::RelativeSeconds | TimeArg::RelativeMillis => {
            millis.checked_add(ctx.now as i64).ok_or_else(invalid)?
        }
        TimeArg::AbsoluteSeconds | TimeArg::AbsoluteMillis => millis,
    };
    let key = args[1];
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(entry) = shard.peek(key, ctx.now) else {
        return Ok(Reply::Int(0));
    };
    let current = entry.expires_at().map(|t| t as i64);
    let allowed = match current {
        Some(_) if conditions.nx => false,
        None if conditions.xx || conditions.gt => false,
        Some(current) if conditions.gt => when > current,
        Some(current) if conditions.lt => when < current,
        _ => true,
    };
    if !allowed {
        return Ok(Reply::Int(0));
    }
    let event = if when <= ctx.now as i64 {
        shard.remove(key, ctx.now);
        "del"
    } else {
        shard.set_deadline(key, Some(when as u64));
        "expire"
    };
    drop(shard);
    db.notify(EventClass::Generic, event, key);
    Ok(Reply::Int(1))
}

/// What TTL-family commands report.
#[derive(Clone, Copy)]
enum TtlView {
    RemainingSeconds,
    RemainingMillis,
    AbsoluteSeconds,
    AbsoluteMillis,
}

/// TTL key
pub fn ttl(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    report_ttl(ctx, args[1], TtlView::RemainingSeconds)
}

/// PTTL key
pub fn pttl(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    report_ttl(ctx, args[1], TtlView::RemainingMillis)
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    report_ttl(ctx, args[1], TtlView::AbsoluteSeconds)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    report_ttl(ctx, args[1], TtlView::AbsoluteMillis)
}

fn report_ttl(ctx: &mut Context, key: &[u8], view: TtlView) -> CommandResult {
    let mut shard = ctx.db().lock(key);
    let Some(entry) = shard.peek(key, ctx.now) else {
        return Ok(Reply::Int(-2));
    };
    let Some(deadline) = entry.expires_at() else {
        return Ok(Reply::Int(-1));
    };
    let remaining = deadline.saturating_sub(ctx.now) as i64;
    Ok(Reply::Int(match view {
        TtlView::RemainingSeconds => (remaining + 500) / 1000,
        TtlView::RemainingMillis => remaining,
        TtlView::AbsoluteSeconds => ((i128::from(deadline) + 500) / 1000) as i64,
        TtlView::AbsoluteMillis => deadline as i64,
    }))
}

/// PERSIST key
pub fn persist(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let db = ctx.db();
    let mut shard = db.lock(args[1]);
    let had_deadline = shard
        .peek(args[1], ctx.now)
        .and_then(Entry::expires_at)
        .is_some();
    if !had_deadline {
        return Ok(Reply::Int(0));
    }
    shard.set_deadline(args[1], None);
    drop(shard);
    db.notify(EventClass::Generic, "persist", args[1]);
    Ok(Reply::Int(1))
}

/// Whether `key` matches a KEYS/SCAN pattern. Like Redis, a lone `*` matches every key
/// (even the empty one, which the glob matcher itself does not).
fn key_matches(pattern: &[u8], key: &[u8]) -> bool {
    pattern == b"*" || glob_match(pattern, key, false)
}

/// KEYS pattern
pub fn keys(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let pattern = args[1];
    let shards = ctx.db().lock_all();
    let found: Vec<Bytes> = shards
        .iter()
        .flat_map(|shard| shard.iter(ctx.now))
        .filter(|(key, _)| key_matches(pattern, key))
        .map(|(key, _)| Bytes::copy_from_slice(key))
        .collect();
    Ok(Reply::bulks(found))
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor names a shard (high 32 bits) and a place in its slab (low 32 bits). Each
/// call visits about COUNT keys from there, each shard read under its lock; since a key
/// keeps its place while it exists, a key that exists for the whole iteration is returned
/// exactly once, however the shards change meanwhile.
pub fn scan(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let cursor = args::cursor(args[1])?;
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut type_filter: Option<String> = None;
    let mut options = args[2..].chunks(2);
    for pair in options.by_ref() {
        let [option, value] = pair else {
            return Err(CommandError::Syntax);
        };
        if is(option, "MATCH") {
            pattern = Some(value);
        } else if is(option, "COUNT") {
            count = usize::try_from(args::int(value)?)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(CommandError::Syntax)?;
        } else if is(option, "TYPE") {
            type_filter = Some(args::text(value).to_ascii_lowercase());
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let db = ctx.db();
    let mut shard_index = usize::try_from(cursor >> 32).unwrap_or(usize::MAX);
    let mut place = cursor as u32;
    let mut found = Vec::new();
    let mut budget = count;
    while shard_index < db.shard_count() && budget > 0 {
        let shard = db.lock_shard(shard_index);
        let (keys, next) = shard.scan_from(place, budget, ctx.now);
        budget = match next {
            Some(_) => 0,
            None => budget.saturating_sub(keys.len()),
        };
        for (key, entry) in keys {
            let type_ok = type_filter
                .as_deref()
                .is_none_or(|wanted| entry.value.type_name() == wanted);
            if type_ok && pattern.is_none_or(|p| key_matches(p, key)) {
                found.push(Bytes::copy_from_slice(key));
            }
        }
        match next {
            Some(next) => place = next,
            None => {
                shard_index += 1;
                place = 0;
            }
        }
    }
    let next = if shard_index >= db.shard_count() {
        0
    } else {
        (shard_index as u64) << 32 | u64::from(place)
    };
    Ok(Reply::Array(vec![
        Reply::text(next.to_string()),
        Reply::bulks(found),
    ]))
}

/// RENAME key newkey
pub fn rename(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    rename_key(ctx, args[1], args[2], false).map(|_| Reply::Ok)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    rename_key(ctx, args[1], args[2], true).map(|done| Reply::Int(i64::from(done)))
}

fn rename_key(
    ctx: &mut Context,
    from: &[u8],
    to: &[u8],
    only_if_absent: bool,
) -> Result<bool, CommandError> {
    let db = ctx.db();
    let mut shards = db.lock_many([from, to]);
    if !shards.shard(from).contains(from, ctx.now) {
        return Err(CommandError::NoSuchKey);
    }
    if from == to {
        return Ok(!only_if_absent);
    }
    if only_if_absent && shards.shard(to).contains(to, ctx.now) {
        return Ok(false);
    }
    let Some((_, entry)) = shards.shard(from).take(from, ctx.now) else {
        return Err(CommandError::NoSuchKey);
    };
    shards.shard(to).insert_entry(Key::from(to), entry, ctx.now);
    drop(shards);
    db.notify(EventClass::Generic, "rename_from", from);
    db.notify(EventClass::Generic, "rename_to", to);
    Ok(true)
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let db = ctx.db();
    let seed = RandomState::new().hash_one(ctx.now) as usize;
    let shards = db.shard_count();
    for step in 0..shards {
        let shard = db.lock_shard((seed + step) % shards);
        if let Some(key) = shard.random_key(seed / shards, ctx.now) {
            return Ok(Reply::bulk(key));
        }
    }
    Ok(Reply::Nil)
}

/// DBSIZE
pub fn dbsize(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Int(ctx.db().len() as i64))
}

fn flush_mode(args: &[&[u8]]) -> Result<(), CommandError> {
    match args {
        [] => Ok(()),
        [mode] if is(mode, "ASYNC") || is(mode, "SYNC") => Ok(()),
        _ => Err(CommandError::Syntax),
    }
}

/// FLUSHDB [ASYNC|SYNC]
pub fn flushdb(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    flush_mode(&args[1..])?;
    ctx.db().flush(ctx.now);
    Ok(Reply::Ok)
}

/// FLUSHALL [ASYNC|SYNC]: every database of the client's namespace.
pub fn flushall(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    flush_mode(&args[1..])?;
    ctx.client.namespace().flush_all(ctx.now);
    Ok(Reply::Ok)
}

fn db_index(ctx: &Context, arg: &[u8]) -> Result<usize, CommandError> {
    let index = args::int(arg)?;
    let index = usize::try_from(index).map_err(|_| CommandError::DbIndexOutOfRange)?;
    ctx.db_at(index).map(|_| index)
}

/// Locks `key_a` in `a` and `key_b` in `b` (different databases) in database order.
fn lock_pair<'a>(
    a: &'a Database,
    key_a: &[u8],
    b: &'a Database,
    key_b: &[u8],
) -> (ShardGuard<'a>, ShardGuard<'a>) {
    if a.index() < b.index() {
        let first = a.lock(key_a);
        (first, b.lock(key_b))
    } else {
        let second = b.lock(key_b);
        (a.lock(key_a), second)
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (from, to) = (args[1], args[2]);
    let mut target_db = ctx.client.db_index();
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(args[i], "REPLACE") {
            replace = true;
            i += 1;
        } else if is(args[i], "DB") && i + 1 < args.len() {
            target_db = db_index(ctx, args[i + 1])?;
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let source = ctx.db();
    let target = ctx.db_at(target_db)?;
    if target_db == source.index() && from == to {
        return Err(CommandError::err(
            "source and destination objects are the same",
        ));
    }
    let now = ctx.now;
    let copied = if target_db == source.index() {
        let mut shards = source.lock_many([from, to]);
        let snapshot = snapshot(shards.shard(from), from, now);
        place_copy(shards.shard(to), to, snapshot, replace, now)
    } else {
        let (mut from_shard, mut to_shard) = lock_pair(source, from, target, to);
        let snapshot = snapshot(&mut from_shard, from, now);
        place_copy(&mut to_shard, to, snapshot, replace, now)
    };
    if copied {
        target.notify(EventClass::Generic, "copy_to", to);
    }
    Ok(Reply::Int(i64::from(copied)))
}

/// A copy of a key's value and deadline.
fn snapshot(shard: &mut Shard, key: &[u8], now: u64) -> Option<(Value, Option<u64>)> {
    shard
        .peek(key, now)
        .map(|entry| (entry.value.clone(), entry.expires_at()))
}

/// Stores a copied value unless the destination exists and REPLACE was not given.
fn place_copy(
    shard: &mut Shard,
    key: &[u8],
    snapshot: Option<(Value, Option<u64>)>,
    replace: bool,
    now: u64,
) -> bool {
    let Some((value, deadline)) = snapshot else {
        return false;
    };
    if !replace && shard.contains(key, now) {
        return false;
    }
    shard.set(key, value, deadline, now);
    true
}

/// MOVE key db
pub fn move_key(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let target_index = db_index(ctx, args[2])?;
    let source = ctx.db();
    if target_index == source.index() {
        return Err(CommandError::err(
            "source and destination objects are the same",
        ));
    }
    let target = ctx.db_at(target_index)?;
    let (mut from, mut to) = lock_pair(source, key, target, key);
    if !from.contains(key, ctx.now) || to.contains(key, ctx.now) {
        return Ok(Reply::Int(0));
    }
    let Some((owned, entry)) = from.take(key, ctx.now) else {
        return Ok(Reply::Int(0));
    };
    to.insert_entry(owned, entry, ctx.now);
    ShardGuard::journal_together(&mut [&mut from, &mut to]);
    drop((from, to));
    source.notify(EventClass::Generic, "move_from", key);
    target.notify(EventClass::Generic, "move_to", key);
    Ok(Reply::Int(1))
}

/// SWAPDB index1 index2
pub fn swapdb(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let parse = |arg: &[u8], which: &str| {
        args::int(arg).map_err(|_| CommandError::err(format!("invalid {which} DB index")))
    };
    let first = parse(args[1], "first")?;
    let second = parse(args[2], "second")?;
    let first = usize::try_from(first).map_err(|_| CommandError::DbIndexOutOfRange)?;
    let second = usize::try_from(second).map_err(|_| CommandError::DbIndexOutOfRange)?;
    let a = ctx.db_at(first)?;
    let b = ctx.db_at(second)?;
    if first == second {
        return Ok(Reply::Ok);
    }
    let (low, high) = if first < second { (a, b) } else { (b, a) };
    low.swap_with(high);
    Ok(Reply::Ok)
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[2]);
    Ok(shard
        .peek(args[2], ctx.now)
        .map_or(Reply::Nil, |entry| Reply::text(entry.value.encoding_name())))
}

/// OBJECT REFCOUNT key: small integers are shared objects in Redis and report `i32::MAX`.
pub fn object_refcount(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[2]);
    Ok(shard.peek(args[2], ctx.now).map_or(Reply::Nil, |entry| {
        let shared = matches!(&entry.value, Value::Str(data, _)
            if parse_canonical_int(data).is_some_and(|n| (0..10_000).contains(&n)));
        Reply::Int(if shared { i64::from(i32::MAX) } else { 1 })
    }))
}

/// OBJECT IDLETIME key: seconds since the key was last read or written.
pub fn object_idletime(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[2]);
    Ok(shard.peek(args[2], ctx.now).map_or(Reply::Nil, |entry| {
        Reply::Int(entry.idle_seconds(ctx.now) as i64)
    }))
}

/// MEMORY USAGE key [SAMPLES count]: about how many bytes the key and its value take
/// (the same estimate eviction counts as freed). Every member is counted, so SAMPLES is
/// checked and otherwise ignored.
pub fn memory_usage(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    for pair in args[3..].chunks(2) {
        let [option, count] = pair else {
            return Err(CommandError::Syntax);
        };
        if !is(option, "SAMPLES") || args::int(count)? < 0 {
            return Err(CommandError::Syntax);
        }
    }
    let mut shard = ctx.db().lock(args[2]);
    Ok(shard.peek(args[2], ctx.now).map_or(Reply::Nil, |entry| {
        Reply::Int((args[2].len() + entry.value.approximate_size()) as i64)
    }))
}

/// OBJECT FREQ key: sessiond keeps no LFU counters, as Redis under an LRU policy.
pub fn object_freq(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[2]);
    if shard.peek(args[2], ctx.now).is_none() {
        return Ok(Reply::Nil);
    }
    Err(CommandError::err(
        "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    ))
}
