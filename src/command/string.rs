//! String commands: GET SET and friends, counters, ranges.

use bytes::Bytes;

use super::args::{self, is};
use super::long_double;
use super::{CommandError, CommandResult, Context};
use crate::keyspace_events::EventClass;
use crate::protocol::Reply;
use crate::store::value::StringOrigin;
use crate::store::{Entry, Shard, Value};

/// The string held by an entry, or WRONGTYPE.
pub fn string_of(entry: &Entry) -> Result<&Bytes, CommandError> {
    Ok(entry.value.as_string()?)
}

/// The live string at `key`, if any.
fn read(shard: &mut Shard, key: &[u8], now: u64) -> Result<Option<Bytes>, CommandError> {
    shard
        .get(key, now)
        .map(|entry| string_of(entry).cloned())
        .transpose()
}

/// What to do with a key's deadline when a command writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Remove any deadline (a plain SET).
    Clear,
    /// Keep the existing deadline (KEEPTTL, GETEX without options).
    Keep,
    /// Remove the deadline explicitly (GETEX PERSIST).
    Persist,
    /// Expire at this Unix millisecond.
    At(u64),
}

/// Parses the value of an EX/PX/EXAT/PXAT option into an absolute deadline, with Redis's
/// validation: the value must be positive and the result must not overflow.
pub fn deadline_from(
    option: &[u8],
    value: &[u8],
    now: u64,
    command: &str,
) -> Result<u64, CommandError> {
    let amount = args::int(value)?;
    let invalid = || CommandError::err(format!("invalid expire time in '{command}' command"));
    if amount <= 0 {
        return Err(invalid());
    }
    let millis = if is(option, "EX") || is(option, "EXAT") {
        amount.checked_mul(1000).ok_or_else(invalid)?
    } else {
        amount
    };
    let absolute = if is(option, "EX") || is(option, "PX") {
        millis.checked_add(now as i64).ok_or_else(invalid)?
    } else {
        millis
    };
    Ok(absolute as u64)
}

fn is_expire_option(arg: &[u8]) -> bool {
    ["EX", "PX", "EXAT", "PXAT"].iter().any(|o| is(arg, o))
}

/// GET key
pub fn get(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    Ok(Reply::optional(read(&mut shard, args[1], ctx.now)?))
}

#[derive(Default)]
struct SetOptions {
    only_if_absent: bool,
    only_if_present: bool,
    return_old: bool,
    deadline: Option<Deadline>,
}

fn parse_set_options(args: &[&[u8]], now: u64) -> Result<SetOptions, CommandError> {
    let mut options = SetOptions::default();
    let mut expire_arg: Option<(&[u8], &[u8])> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        if is(arg, "NX") && !options.only_if_present {
            options.only_if_absent = true;
        } else if is(arg, "XX") && !options.only_if_absent {
            options.only_if_present = true;
        } else if is(arg, "GET") {
            options.return_old = true;
        } else if is(arg, "KEEPTTL") && expire_arg.is_none() {
            options.deadline = Some(Deadline::Keep);
        } else if is_expire_option(arg)
            && options.deadline.is_none()
            && expire_arg.is_none_or(|(previous, _)| previous.eq_ignore_ascii_case(arg))
            && i + 1 < args.len()
        {
            expire_arg = Some((arg, args[i + 1]));
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if let Some((option, value)) = expire_arg {
        options.deadline = Some(Deadline::At(deadline_from(option, value, now, "set")?));
    }
    Ok(options)
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]
pub fn set(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let options = parse_set_options(&args[3..], ctx.now)?;
    let (key, value) = (args[1], args[2]);
    let now = ctx.now;
    let db = ctx.db();
    let mut shard = db.lock(key);
    let old = match shard.get(key, now) {
        Some(entry) if options.return_old => Some(Some(string_of(entry)?.clone())),
        Some(_) => Some(None),
        None => None,
    };
    let exists = old.is_some();
    if (options.only_if_absent && exists) || (options.only_if_present && !exists) {
        return Ok(if options.return_old {
            Reply::optional(old.flatten())
        } else {
            Reply::Nil
        });
    }
    let deadline = match options.deadline.unwrap_or(Deadline::Clear) {
        Deadline::At(at) => Some(at),
        Deadline::Keep => shard.peek(key, now).and_then(Entry::expires_at),
        Deadline::Clear | Deadline::Persist => None,
    };
    shard.set(
        key,
        Value::string(Bytes::copy_from_slice(value)),
        deadline,
        now,
    );
    drop(shard);
    db.notify(EventClass::String, "set", key);
    if matches!(options.deadline, Some(Deadline::At(_))) {
        db.notify(EventClass::Generic, "expire", key);
    }
    Ok(if options.return_old {
        Reply::optional(old.flatten())
    } else {
        Reply::Ok
    })
}

/// SETNX key value
pub fn setnx(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let db = ctx.db();
    let mut shard = db.lock(args[1]);
    if shard.contains(args[1], ctx.now) {
        return Ok(Reply::Int(0));
    }
    shard.set(
        args[1],
        Value::string(Bytes::copy_from_slice(args[2])),
        None,
        ctx.now,
    );
    drop(shard);
    db.notify(EventClass::String, "set", args[1]);
    Ok(Reply::Int(1))
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_with_ttl(ctx, args, b"EX", "setex")
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_with_ttl(ctx, args, b"PX", "psetex")
}

fn set_with_ttl(ctx: &mut Context, args: &[&[u8]], unit: &[u8], command: &str) -> CommandResult {
    let deadline = deadline_from(unit, args[2], ctx.now, command)?;
    let db = ctx.db();
    db.lock(args[1]).set(
        args[1],
        Value::string(Bytes::copy_from_slice(args[3])),
        Some(deadline),
        ctx.now,
    );
    db.notify(EventClass::String, "set", args[1]);
    db.notify(EventClass::Generic, "expire", args[1]);
    Ok(Reply::Ok)
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST]
pub fn getex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let deadline = match &args[2..] {
        [] => Deadline::Keep,
        [option] if is(option, "PERSIST") => Deadline::Persist,
        [option, value] if is_expire_option(option) => {
            Deadline::At(deadline_from(option, value, now, "getex")?)
        }
        _ => return Err(CommandError::Syntax),
    };
    let key = args[1];
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(value) = read(&mut shard, key, now)? else {
        return Ok(Reply::Nil);
    };
    let event = match deadline {
        Deadline::At(at) if at <= now => {
            shard.remove(key, now);
            Some((EventClass::Generic, "del"))
        }
        Deadline::At(at) => {
            shard.set_deadline(key, Some(at));
            Some((EventClass::Generic, "expire"))
        }
        Deadline::Persist => {
            let had_deadline = shard.peek(key, now).and_then(Entry::expires_at).is_some();
            shard.set_deadline(key, None);
            had_deadline.then_some((EventClass::Generic, "persist"))
        }
        Deadline::Keep | Deadline::Clear => None,
    };
    drop(shard);
    if let Some((class, name)) = event {
        db.notify(class, name, key);
    }
    Ok(Reply::Bulk(value))
}

/// GETDEL key
pub fn getdel(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let db = ctx.db();
    let mut shard = db.lock(args[1]);
    let Some(value) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Nil);
    };
    shard.remove(args[1], ctx.now);
    drop(shard);
    db.notify(EventClass::Generic, "del", args[1]);
    Ok(Reply::Bulk(value))
}

/// GETSET key value
pub fn getset(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let db = ctx.db();
    let mut shard = db.lock(args[1]);
    let old = read(&mut shard, args[1], ctx.now)?;
    shard.set(
        args[1],
        Value::string(Bytes::copy_from_slice(args[2])),
        None,
        ctx.now,
    );
    drop(shard);
    db.notify(EventClass::String, "set", args[1]);
    Ok(Reply::optional(old))
}

/// MGET key [key ...]
pub fn mget(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let keys = &args[1..];
    let mut shards = ctx.db().lock_many(keys.iter().copied());
    let values = keys
        .iter()
        .map(|key| match shards.shard(key).get(key, ctx.now) {
            Some(Entry {
                value: Value::Str(data, _),
                ..
            }) => Reply::Bulk(data.clone()),
            Some(_) | None => Reply::Nil,
        })
        .collect();
    Ok(Reply::Array(values))
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_many(ctx, args, false, "mset").map(|_| Reply::Ok)
}

/// MSETNX key value [key value ...]: sets all or none.
pub fn msetnx(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    set_many(ctx, args, true, "msetnx").map(|done| Reply::Int(i64::from(done)))
}

fn set_many(
    ctx: &mut Context,
    args: &[&[u8]],
    only_if_none_exist: bool,
    command: &str,
) -> Result<bool, CommandError> {
    if args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity(command.into()));
    }
    let pairs: Vec<(&[u8], &[u8])> = args[1..].chunks(2).map(|p| (p[0], p[1])).collect();
    let db = ctx.db();
    let mut shards = db.lock_many(pairs.iter().map(|(key, _)| *key));
    if only_if_none_exist
        && pairs
            .iter()
            .any(|(key, _)| shards.shard(key).contains(key, ctx.now))
    {
        return Ok(false);
    }
    for (key, value) in &pairs {
        shards.shard(key).set(
            key,
            Value::string(Bytes::copy_from_slice(value)),
            None,
            ctx.now,
        );
    }
    drop(shards);
    for (key, _) in &pairs {
        db.notify(EventClass::String, "set", key);
    }
    Ok(true)
}

/// INCR key
pub fn incr(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    increment(ctx, args[1], 1)
}

/// DECR key
pub fn decr(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    increment(ctx, args[1], -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let by = args::int(args[2])?;
    increment(ctx, args[1], by)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let by = args::int(args[2])?;
    let by = by
        .checked_neg()
        .ok_or_else(|| CommandError::err("decrement would overflow"))?;
    increment(ctx, args[1], by)
}

fn increment(ctx: &mut Context, key: &[u8], by: i64) -> CommandResult {
    let db = ctx.db();
    let mut shard = db.lock(key);
    let current = match read(&mut shard, key, ctx.now)? {
        Some(data) => args::int(&data)?,
        None => 0,
    };
    let next = current
        .checked_add(by)
        .ok_or_else(|| CommandError::err("increment or decrement would overflow"))?;
    write_keeping_deadline(
        &mut shard,
        key,
        Bytes::from(next.to_string()),
        StringOrigin::Whole,
        ctx.now,
    );
    drop(shard);
    db.notify(EventClass::String, "incrby", key);
    Ok(Reply::Int(next))
}

/// Replaces a key's string, keeping its deadline (what INCR, APPEND and SETRANGE do).
fn write_keeping_deadline(
    shard: &mut Shard,
    key: &[u8],
    data: Bytes,
    origin: StringOrigin,
    now: u64,
) {
    let value = Value::Str(data, origin);
    match shard.get_mut(key, now) {
        Some(entry) => entry.value = value,
        None => {
            shard.set(key, value, None, now);
        }
    }
}

/// INCRBYFLOAT key increment
pub fn incrbyfloat(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let db = ctx.db();
    let mut shard = db.lock(key);
    let current = read(&mut shard, key, ctx.now)?;
    let text = Bytes::from(long_double::increment(current.as_deref(), args[2])?);
    write_keeping_deadline(&mut shard, key, text.clone(), StringOrigin::Float, ctx.now);
    drop(shard);
    db.notify(EventClass::String, "incrbyfloat", key);
    Ok(Reply::Bulk(text))
}

/// APPEND key value
pub fn append(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let limit = ctx.server.live.proto_max_bulk_len();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let current = read(&mut shard, key, ctx.now)?.unwrap_or_default();
    let length = current.len() + args[2].len();
    if length as u64 > limit {
        return Err(string_too_long());
    }
    let mut data = Vec::with_capacity(length);
    data.extend_from_slice(&current);
    data.extend_from_slice(args[2]);
    write_keeping_deadline(
        &mut shard,
        key,
        Bytes::from(data),
        StringOrigin::Modified,
        ctx.now,
    );
    drop(shard);
    db.notify(EventClass::String, "append", key);
    Ok(Reply::Int(length as i64))
}

fn string_too_long() -> CommandError {
    CommandError::err("string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// STRLEN key
pub fn strlen(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let length = read(&mut shard, args[1], ctx.now)?.map_or(0, |data| data.len());
    Ok(Reply::Int(length as i64))
}

/// GETRANGE key start end (also SUBSTR)
pub fn getrange(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let start = args::int(args[2])?;
    let end = args::int(args[3])?;
    let mut shard = ctx.db().lock(args[1]);
    let data = read(&mut shard, args[1], ctx.now)?.unwrap_or_default();
    Ok(Reply::Bulk(slice_range(&data, start, end)))
}

/// Redis's GETRANGE index arithmetic: negative indexes count from the end, both inclusive.
fn slice_range(data: &Bytes, start: i64, end: i64) -> Bytes {
    let len = data.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Bytes::new();
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if start > end {
        return Bytes::new();
    }
    data.slice(start as usize..=end as usize)
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let offset = args::non_negative(args[2], CommandError::err("offset is out of range"))?;
    let (key, patch) = (args[1], args[3]);
    let limit = ctx.server.live.proto_max_bulk_len();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let current = read(&mut shard, key, ctx.now)?;
    if patch.is_empty() {
        return Ok(Reply::Int(current.map_or(0, |data| data.len() as i64)));
    }
    let offset = offset as usize;
    if (offset + patch.len()) as u64 > limit {
        return Err(string_too_long());
    }
    let mut data = current.map(|d| d.to_vec()).unwrap_or_default();
    if data.len() < offset + patch.len() {
        data.resize(offset + patch.len(), 0);
    }
    data[offset..offset + patch.len()].copy_from_slice(patch);
    let length = data.len();
    write_keeping_deadline(
        &mut shard,
        key,
        Bytes::from(data),
        StringOrigin::Modified,
        ctx.now,
    );
    drop(shard);
    db.notify(EventClass::String, "setrange", key);
    Ok(Reply::Int(length as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_getrange() {
        let data = Bytes::from_static(b"Hello World");
        assert_eq!(&slice_range(&data, 0, 4)[..], b"Hello");
        assert_eq!(&slice_range(&data, -5, -1)[..], b"World");
        assert_eq!(&slice_range(&data, 5, 2)[..], b"");
        assert_eq!(&slice_range(&data, 0, 100)[..], b"Hello World");
        assert_eq!(&slice_range(&data, -1, -5)[..], b"");
        assert_eq!(&slice_range(&data, -100, 2)[..], b"Hel");
    }

    #[test]
    fn deadlines_are_validated() {
        assert_eq!(deadline_from(b"EX", b"10", 1_000, "set"), Ok(11_000));
        assert_eq!(deadline_from(b"pxat", b"5", 1_000, "set"), Ok(5));
        assert!(deadline_from(b"EX", b"0", 1_000, "set").is_err());
        assert!(deadline_from(b"EX", b"9223372036854775807", 0, "set").is_err());
        assert_eq!(
            deadline_from(b"EX", b"x", 0, "set"),
            Err(CommandError::NotInteger)
        );
    }
}
