//! List commands: pushes and pops at both ends, reads by index and range, changes in the
//! middle, LPOS and LMOVE. (The blocking forms, BLPOP and friends, are not served.)
//!
//! Reads take the list through [`Value::as_list`]; writes go through a [`ListEdit`], which
//! tells the journal which logical indices changed. A key never holds an empty list: the
//! write that removes the last element removes the key, as in Redis.

use std::ops::Range;

use super::args::{self, is};
use super::{CommandError, CommandResult, Context};
use crate::keyspace_events::EventClass;
use crate::protocol::Reply;
use crate::store::list::{self, End, ListEdit};
use crate::store::{List, Shard, Value};

/// The live list at `key`, if any, marked accessed.
fn read<'a>(shard: &'a mut Shard, key: &[u8], now: u64) -> Result<Option<&'a List>, CommandError> {
    match shard.get(key, now) {
        Some(entry) => Ok(Some(entry.value.as_list()?)),
        None => Ok(None),
    }
}

/// `LEFT` or `RIGHT`, any case.
fn end_of(arg: &[u8]) -> Result<End, CommandError> {
    if is(arg, "LEFT") {
        Ok(End::Left)
    } else if is(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(CommandError::Syntax)
    }
}

/// The event a push at `end` publishes.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The event a pop at `end` publishes.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// The position of Redis index `index` (negative counts from the tail) in a list of `len`.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// The positions from `start` to `stop` inclusive (negative count from the tail), cut to
/// the list, as LRANGE and LTRIM read them; `None` when nothing is left.
fn positions(start: i64, stop: i64, len: usize) -> Option<Range<usize>> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some(start as usize..stop.min(len - 1) as usize + 1)
}

/// Removes `key` when the edit left its list empty; whether it did.
fn remove_if_empty(shard: &mut Shard, key: &[u8], empty: bool, now: u64) -> bool {
    if empty {
        shard.remove(key, now);
    }
    empty
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    push(ctx, args, End::Left, false)
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    push(ctx, args, End::Right, false)
}

/// LPUSHX key element [element ...]: only onto an existing list.
pub fn lpushx(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    push(ctx, args, End::Left, true)
}

/// RPUSHX key element [element ...]: only onto an existing list.
pub fn rpushx(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    push(ctx, args, End::Right, true)
}

/// Pushes the elements of `args[2..]` at `end`; the list's new length.
fn push(ctx: &mut Context, args: &[&[u8]], end: End, only_existing: bool) -> CommandResult {
    let (key, elements) = (args[1], &args[2..]);
    let limits = ctx.server.store.list_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let len = match list::edit(&mut shard, key, ctx.now, limits)? {
        Some(mut edit) => {
            edit.push(end, elements);
            edit.list().len()
        }
        None if only_existing => return Ok(Reply::Int(0)),
        None => {
            let mut fresh = List::default();
            fresh.push(end, elements, limits);
            let len = fresh.len();
            shard.set(key, Value::List(fresh), None, ctx.now);
            len
        }
    };
    drop(shard);
    db.notify(EventClass::List, push_event(end), key);
    Ok(Reply::Int(len as i64))
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    pop(ctx, args, End::Left)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    pop(ctx, args, End::Right)
}

/// Pops one element (a bulk reply) or, with a count, up to that many (an array).
fn pop(ctx: &mut Context, args: &[&[u8]], end: End) -> CommandResult {
    let key = args[1];
    let count = match args {
        [_, _] => None,
        [_, _, count] => {
            let error = || CommandError::err("value is out of range, must be positive");
            let count = args::int(count).map_err(|_| error())?;
            Some(usize::try_from(count).map_err(|_| error())?)
        }
        _ => return Err(CommandError::WrongArity(args::text(args[0]).to_lowercase())),
    };
    let limits = ctx.server.store.list_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = list::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(count.map_or(Reply::Nil, |_| Reply::NilArray));
    };
    if count == Some(0) {
        return Ok(Reply::Array(Vec::new()));
    }
    let popped = edit.pop(end, count.unwrap_or(1));
    let empty = edit.list().is_empty();
    let emptied = remove_if_empty(&mut shard, key, empty, ctx.now);
    drop(shard);
    db.notify(EventClass::List, pop_event(end), key);
    if emptied {
        db.notify(EventClass::Generic, "del", key);
    }
    let mut replies = popped.into_iter().map(|element| Reply::bulk(&element));
    Ok(match count {
        None => replies.next().unwrap_or(Reply::Nil),
        Some(_) => Reply::Array(replies.collect()),
    })
}

/// LLEN key
pub fn llen(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let len = read(&mut shard, args[1], ctx.now)?.map_or(0, List::len);
    Ok(Reply::Int(len as i64))
}

/// LINDEX key index
pub fn lindex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let Some(list) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Nil);
    };
    let index = args::int(args[2])?;
    let element = position(index, list.len()).and_then(|at| list.get(at));
    Ok(element.map_or(Reply::Nil, Reply::bulk))
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (start, stop) = (args::int(args[2])?, args::int(args[3])?);
    let mut shard = ctx.db().lock(args[1]);
    let Some(list) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = positions(start, stop, list.len())
        .map(|range| list.range(range).map(Reply::bulk).collect())
        .unwrap_or_default();
    Ok(Reply::Array(items))
}

/// LSET key index element
pub fn lset(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (key, element) = (args[1], args[3]);
    let limits = ctx.server.store.list_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = list::edit(&mut shard, key, ctx.now, limits)? else {
        return Err(CommandError::NoSuchKey);
    };
    let index = args::int(args[2])?;
    let at = position(index, edit.list().len())
        .ok_or_else(|| CommandError::err("index out of range"))?;
    edit.set(at, element);
    drop(shard);
    db.notify(EventClass::List, "lset", key);
    Ok(Reply::Ok)
}

/// LREM key count element: removes the first `count` matches from the head (negative:
/// from the tail; 0: all of them).
pub fn lrem(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let count = args::int(args[2])?;
    let limits = ctx.server.store.list_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = list::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    let most = match count {
        0 => usize::MAX,
        n => usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
    };
    let matches = |(_, element): &(usize, &[u8])| *element == args[3];
    let list = edit.list();
    let mut found: Vec<usize> = if count < 0 {
        let found = list.iter().enumerate().rev().filter(matches);
        found.take(most).map(|(at, _)| at).collect()
    } else {
        let found = list.iter().enumerate().filter(matches);
        found.take(most).map(|(at, _)| at).collect()
    };
    found.sort_unstable();
    edit.remove_positions(&found);
    let empty = edit.list().is_empty();
    let emptied = remove_if_empty(&mut shard, key, empty, ctx.now);
    drop(shard);
    if !found.is_empty() {
        db.notify(EventClass::List, "lrem", key);
        if emptied {
            db.notify(EventClass::Generic, "del", key);
        }
    }
    Ok(Reply::Int(found.len() as i64))
}

/// LTRIM key start stop: keeps only the elements from `start` to `stop`.
pub fn ltrim(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let (start, stop) = (args::int(args[2])?, args::int(args[3])?);
    let limits = ctx.server.store.list_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = list::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Ok);
    };
    let keep = positions(start, stop, edit.list().len()).unwrap_or(0..0);
    edit.trim(keep);
    let empty = edit.list().is_empty();
    let emptied = remove_if_empty(&mut shard, key, empty, ctx.now);
    drop(shard);
    db.notify(EventClass::List, "ltrim", key);
    if emptied {
        db.notify(EventClass::Generic, "del", key);
    }
    Ok(Reply::Ok)
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0
/// without the key.
pub fn linsert(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (key, pivot, element) = (args[1], args[3], args[4]);
    let after = if is(args[2], "AFTER") {
        true
    } else if is(args[2], "BEFORE") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let limits = ctx.server.store.list_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = list::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    let Some(at) = edit.list().iter().position(|e| e == pivot) else {
        return Ok(Reply::Int(-1));
    };
    edit.insert(at + usize::from(after), element);
    let len = edit.list().len();
    drop(shard);
    db.notify(EventClass::List, "linsert", key);
    Ok(Reply::Int(len as i64))
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (key, wanted) = (args[1], args[2]);
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut options = &args[3..];
    while let [option, rest @ ..] = options {
        let [value, rest @ ..] = rest else {
            return Err(CommandError::Syntax);
        };
        if is(option, "RANK") {
            rank = args::int(value)?;
            if rank == 0 {
                return Err(CommandError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(option, "COUNT") {
            let error = || CommandError::err("COUNT can't be negative");
            count = Some(args::non_negative(value, error()).map_err(|_| error())?);
        } else if is(option, "MAXLEN") {
            let error = || CommandError::err("MAXLEN can't be negative");
            maxlen = args::non_negative(value, error()).map_err(|_| error())?;
        } else {
            return Err(CommandError::Syntax);
        }
        options = rest;
    }
    let mut shard = ctx.db().lock(key);
    let Some(list) = read(&mut shard, key, ctx.now)? else {
        return Ok(count.map_or(Reply::Nil, |_| Reply::Array(Vec::new())));
    };
    // As Redis computes it, wrapping included: RANK -9223372036854775808 stays negative,
    // so every match counts and no COUNT stops the search.
    let from_tail = rank < 0;
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let scanned = usize::try_from(maxlen)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(usize::MAX);
    let elements: Box<dyn Iterator<Item = (usize, &[u8])>> = if from_tail {
        Box::new(list.iter().enumerate().rev())
    } else {
        Box::new(list.iter().enumerate())
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for (at, _) in elements.take(scanned).filter(|(_, e)| *e == wanted) {
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(Reply::Int(at as i64));
        match count {
            None => break,
            Some(most) if most != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= most => {
                break;
            }
            Some(_) => {}
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    })
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (from, to) = (end_of(args[3])?, end_of(args[4])?);
    move_element(ctx, args[1], args[2], from, to)
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    move_element(ctx, args[1], args[2], End::Right, End::Left)
}

/// Pops from `source` at `from` and pushes onto `destination` at `to` (the same list when
/// they are the same key: a rotation), atomically; the element moved.
fn move_element(
    ctx: &mut Context,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> CommandResult {
    let limits = ctx.server.store.list_limits();
    let now = ctx.now;
    let db = ctx.db();
    let mut shards = db.lock_many([source, destination]);
    if read(shards.shard(source), source, now)?.is_none() {
        return Ok(Reply::Nil);
    }
    read(shards.shard(destination), destination, now)?;
    let Some(mut edit) = list::edit(shards.shard(source), source, now, limits)? else {
        return Ok(Reply::Nil);
    };
    let Some(element) = edit.pop(from, 1).pop() else {
        return Ok(Reply::Nil);
    };
    let mut emptied = false;
    if source == destination {
        edit.push(to, &[&element]);
    } else {
        let empty = edit.list().is_empty();
        emptied = remove_if_empty(shards.shard(source), source, empty, now);
        push_onto(
            shards.shard(destination),
            destination,
            to,
            &element,
            now,
            limits,
        )?;
    }
    drop(shards);
    db.notify(EventClass::List, push_event(to), destination);
    db.notify(EventClass::List, pop_event(from), source);
    if emptied {
        db.notify(EventClass::Generic, "del", source);
    }
    Ok(Reply::bulk(&element))
}

/// Pushes one element onto the list at `key`, creating it if there is none.
fn push_onto(
    shard: &mut Shard,
    key: &[u8],
    end: End,
    element: &[u8],
    now: u64,
    limits: list::ListLimits,
) -> Result<(), CommandError> {
    let existing: Option<ListEdit<'_>> = list::edit(shard, key, now, limits)?;
    if let Some(mut edit) = existing {
        edit.push(end, &[element]);
        return Ok(());
    }
    let mut fresh = List::default();
    fresh.push(end, &[element], limits);
    shard.set(key, Value::List(fresh), None, now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_count_from_either_end() {
        assert_eq!(position(0, 3), Some(0));
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-3, 3), Some(0));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(3, 3), None);
        assert_eq!(position(i64::MIN, 3), None);
        assert_eq!(position(i64::MAX, 3), None);
    }

    #[test]
    fn ranges_are_cut_to_the_list() {
        assert_eq!(positions(0, -1, 5), Some(0..5));
        assert_eq!(positions(-100, 100, 5), Some(0..5));
        assert_eq!(positions(1, 2, 5), Some(1..3));
        assert_eq!(positions(3, 1, 5), None);
        assert_eq!(positions(5, 10, 5), None);
        assert_eq!(positions(i64::MIN, i64::MAX, 5), Some(0..5));
        assert_eq!(positions(i64::MAX, i64::MIN, 5), None);
        assert_eq!(positions(0, -1, 0), None);
    }
}
