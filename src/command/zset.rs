//! Sorted set commands: ZADD and friends, rank, score and lex ranges and counts, pops and
//! ZSCAN.
//!
//! Reads take the sorted set through [`Value::as_sorted_set`]; writes go through a
//! [`ZsetEdit`], which tells the journal which members changed (a write that changes nothing
//! goes nowhere, so it neither logs nor aborts a WATCH). A key never holds an empty sorted
//! set: removing the last member removes the key, as in Redis. Scores are replied as Redis
//! 7.0 does, `%.17g` (a bulk string in RESP2, a double in RESP3).

use bytes::Bytes;

use super::args::{self, is};
use super::member_scan::{ScanOptions, scan_reply};
use super::{CommandError, CommandResult, Context};
use crate::keyspace_events::EventClass;
use crate::protocol::{Protocol, Reply};
use crate::store::zset::{self, Scored, ZsetEdit};
use crate::store::{Shard, SortedSet, Value, ZsetLimits};

/// The live sorted set at `key`, if any, marked accessed.
fn read<'a>(
    shard: &'a mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a SortedSet>, CommandError> {
    match shard.get(key, now) {
        Some(entry) => Ok(Some(entry.value.as_sorted_set()?)),
        None => Ok(None),
    }
}

fn bulk(data: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(data))
}

/// Runs `change` on the sorted set at `key`, creating the key when there is none (if
/// `change` leaves the new set with members) and removing it when `change` empties it.
/// `change` checks everything before it changes anything. Returns what `change` returned
/// and whether the key was removed.
fn change_zset<T>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    limits: ZsetLimits,
    change: impl FnOnce(&mut ZsetEdit<'_>) -> Result<T, CommandError>,
) -> Result<(T, bool), CommandError> {
    if let Some(mut edit) = zset::edit(shard, key, now, limits)? {
        let result = change(&mut edit)?;
        let emptied = edit.set().is_empty();
        if emptied {
            shard.remove(key, now);
        }
        return Ok((result, emptied));
    }
    let mut fresh = SortedSet::default();
    let result = change(&mut ZsetEdit::detached(&mut fresh, limits))?;
    if !fresh.is_empty() {
        shard.set(key, Value::SortedSet(fresh), None, now);
    }
    Ok((result, false))
}

/// A float as C's `strtod` reads all of `text` (Redis's parser of scores and bounds):
/// the value, and whether it overflowed to infinity or underflowed to zero (`ERANGE`).
fn strtod(text: &[u8]) -> Option<(f64, bool)> {
    let text = std::str::from_utf8(text).ok()?;
    if let Some(value) = hex_float(text) {
        return Some((value, value.is_infinite()));
    }
    let value: f64 = text.parse().ok()?;
    let digits = text.trim_start_matches(['+', '-']);
    let literal_infinity =
        digits.eq_ignore_ascii_case("inf") || digits.eq_ignore_ascii_case("infinity");
    let mantissa = digits.split(['e', 'E']).next().unwrap_or("");
    let out_of_range = (value.is_infinite() && !literal_infinity)
        || (value == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)));
    Some((value, out_of_range))
}

/// A C99 hexadecimal float (`0x1.8p3`), which `strtod` also reads; `None` for any other text.
fn hex_float(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    let (digits, exponent) = match rest.find(['p', 'P']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut mantissa = 0f64;
    for digit in whole.chars().chain(fraction.chars()) {
        mantissa = mantissa * 16.0 + f64::from(digit.to_digit(16)?);
    }
    let scale = exponent.saturating_sub(4 * fraction.len() as i32);
    let value = mantissa * 2f64.powi(scale);
    Some(if negative { -value } else { value })
}

/// A score argument (ZADD, ZINCRBY), as Redis's `getDoubleFromObject` reads it: no spaces,
/// no NaN, no overflow.
fn score_arg(arg: &[u8]) -> Result<f64, CommandError> {
    if arg.first().is_some_and(u8::is_ascii_whitespace) {
        return Err(CommandError::NotFloat);
    }
    match strtod(arg) {
        Some((value, false)) if !value.is_nan() => Ok(value),
        _ => Err(CommandError::NotFloat),
    }
}

/// One end of a score range (`1.5`, `(1.5`, `-inf`), as Redis's `zslParseRange` reads it:
/// leading spaces and the empty string (0) pass, NaN does not.
fn score_bound(arg: &[u8]) -> Option<Bound<f64>> {
    let (exclusive, text) = match arg {
        [b'(', rest @ ..] => (true, rest),
        _ => (false, arg),
    };
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0x0b)
        .unwrap_or(text.len());
    let text = &text[start..];
    let value = if text.is_empty() {
        0.0
    } else {
        strtod(text)?.0
    };
    (!value.is_nan()).then_some(Bound::Value { value, exclusive })
}

/// One end of a lex range (`-`, `+`, `[a`, `(a`).
fn lex_bound(arg: &[u8]) -> Option<Bound<&[u8]>> {
    match arg {
        b"-" => Some(Bound::Lowest),
        b"+" => Some(Bound::Highest),
        [b'(', rest @ ..] => Some(Bound::Value {
            value: rest,
            exclusive: true,
        }),
        [b'[', rest @ ..] => Some(Bound::Value {
            value: rest,
            exclusive: false,
        }),
        _ => None,
    }
}

/// One end of a range.
#[derive(Clone, Copy, Debug)]
enum Bound<T> {
    /// Below everything (lex `-`).
    Lowest,
    /// Above everything (lex `+`).
    Highest,
    /// A value, in the range or (exclusive) just outside it.
    Value { value: T, exclusive: bool },
}

impl<T: PartialOrd> Bound<T> {
    /// Whether `x` is at or above this lower end.
    fn admits_from_below(&self, x: &T) -> bool {
        match self {
            Bound::Lowest => true,
            Bound::Highest => false,
            Bound::Value { value, exclusive } => {
                if *exclusive {
                    x > value
                } else {
                    x >= value
                }
            }
        }
    }

    /// Whether `x` is at or below this upper end.
    fn admits_from_above(&self, x: &T) -> bool {
        match self {
            Bound::Lowest => false,
            Bound::Highest => true,
            Bound::Value { value, exclusive } => {
                if *exclusive {
                    x < value
                } else {
                    x <= value
                }
            }
        }
    }
}

/// A range of a sorted set by score or by member.
#[derive(Clone, Copy, Debug)]
enum Interval<'a> {
    Score(Bound<f64>, Bound<f64>),
    Lex(Bound<&'a [u8]>, Bound<&'a [u8]>),
}

impl<'a> Interval<'a> {
    fn score(min: &[u8], max: &[u8]) -> Result<Interval<'a>, CommandError> {
        match (score_bound(min), score_bound(max)) {
            (Some(min), Some(max)) => Ok(Interval::Score(min, max)),
            _ => Err(CommandError::err("min or max is not a float")),
        }
    }

    fn lex(min: &'a [u8], max: &'a [u8]) -> Result<Interval<'a>, CommandError> {
        match (lex_bound(min), lex_bound(max)) {
            (Some(min), Some(max)) => Ok(Interval::Lex(min, max)),
            _ => Err(CommandError::err("min or max not valid string range item")),
        }
    }

    /// The ranks `lo..hi` of the members inside the interval (`hi <= lo`: none).
    fn ranks(&self, set: &SortedSet) -> (usize, usize) {
        match self {
            Interval::Score(min, max) => (
                set.count_while(|score, _| !min.admits_from_below(&score)),
                set.count_while(|score, _| max.admits_from_above(&score)),
            ),
            Interval::Lex(min, max) => (
                set.count_while(|_, member| !min.admits_from_below(&member)),
                set.count_while(|_, member| max.admits_from_above(&member)),
            ),
        }
    }
}

/// Normalizes a rank range as Redis does (negative from the end, clamped): `None` when
/// empty, else the ranks `start..=end`.
fn rank_span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut options = AddOptions::default();
    let mut at = 2;
    while let Some(arg) = args.get(at) {
        let flag = match () {
            _ if is(arg, "NX") => &mut options.nx,
            _ if is(arg, "XX") => &mut options.xx,
            _ if is(arg, "GT") => &mut options.gt,
            _ if is(arg, "LT") => &mut options.lt,
            _ if is(arg, "CH") => &mut options.ch,
            _ if is(arg, "INCR") => &mut options.incr,
            _ => break,
        };
        *flag = true;
        at += 1;
    }
    let pairs = &args[at..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if options.nx && options.xx {
        return Err(CommandError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (options.gt || options.lt) && options.nx || options.gt && options.lt {
        return Err(CommandError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if options.incr && pairs.len() > 2 {
        return Err(CommandError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let scored = pairs
        .chunks(2)
        .map(|pair| Ok((score_arg(pair[0])?, pair[1])))
        .collect::<Result<Vec<_>, CommandError>>()?;
    add(ctx, args[1], &scored, options)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let increment = score_arg(args[2])?;
    let options = AddOptions {
        incr: true,
        ..AddOptions::default()
    };
    add(ctx, args[1], &[(increment, args[3])], options)
}

/// The options of ZADD.
#[derive(Clone, Copy, Debug, Default)]
struct AddOptions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What ZADD did, for its reply and events.
#[derive(Default)]
struct Added {
    added: i64,
    updated: i64,
    /// The last member's score after the command, unless ZADD left it alone.
    score: Option<f64>,
}

/// Sets each `(score, member)` as `options` say (ZADD, ZINCRBY).
fn add(
    ctx: &mut Context,
    key: &[u8],
    scored: &[(f64, &[u8])],
    options: AddOptions,
) -> CommandResult {
    let limits = ctx.server.store.zset_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let exists = match shard.get(key, ctx.now) {
        Some(entry) => entry.value.as_sorted_set().map(|_| true)?,
        None => false,
    };
    let result = if !exists && options.xx {
        Ok(Added::default())
    } else {
        change_zset(&mut shard, key, ctx.now, limits, |edit| {
            let mut done = Added::default();
            for &(score, member) in scored {
                done.score = None;
                let current = edit.set().score(member);
                let Some(current) = current else {
                    if !options.xx {
                        edit.insert(member, score);
                        done.added += 1;
                        done.score = Some(score);
                    }
                    continue;
                };
                if options.nx {
                    continue;
                }
                let next = if options.incr { current + score } else { score };
                if next.is_nan() {
                    return Err(CommandError::err("resulting score is not a number (NaN)"));
                }
                if options.gt && next <= current || options.lt && next >= current {
                    continue;
                }
                done.score = Some(next);
                if next != current {
                    edit.insert(member, next);
                    done.updated += 1;
                }
            }
            Ok(done)
        })
        .map(|(done, _)| done)
    };
    drop(shard);
    let done = result?;
    if done.added + done.updated > 0 {
        let event = if options.incr { "zincr" } else { "zadd" };
        db.notify(EventClass::Zset, event, key);
    }
    Ok(if options.incr {
        done.score.map_or(Reply::Nil, Reply::Double)
    } else if options.ch {
        Reply::Int(done.added + done.updated)
    } else {
        Reply::Int(done.added)
    })
}

/// ZREM key member [member ...]: the key goes when its last member does.
pub fn zrem(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let key = args[1];
    let limits = ctx.server.store.zset_limits();
    let db = ctx.db();
    let mut shard = db.lock(key);
    let Some(mut edit) = zset::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..]
        .iter()
        .filter(|member| edit.remove(member))
        .count();
    let emptied = edit.set().is_empty();
    if emptied {
        shard.remove(key, ctx.now);
    }
    drop(shard);
    notify_removal(ctx, key, "zrem", removed, emptied);
    Ok(Reply::Int(removed as i64))
}

/// Publishes a removal's event, and `del` when it emptied the key.
fn notify_removal(ctx: &Context, key: &[u8], event: &str, removed: usize, emptied: bool) {
    if removed > 0 {
        let db = ctx.db();
        db.notify(EventClass::Zset, event, key);
        if emptied {
            db.notify(EventClass::Generic, "del", key);
        }
    }
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let score = read(&mut shard, args[1], ctx.now)?.and_then(|set| set.score(args[2]));
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let set = read(&mut shard, args[1], ctx.now)?;
    let scores = args[2..]
        .iter()
        .map(|member| {
            set.and_then(|s| s.score(member))
                .map_or(Reply::Nil, Reply::Double)
        })
        .collect();
    Ok(Reply::Array(scores))
}

/// ZCARD key
pub fn zcard(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let len = read(&mut shard, args[1], ctx.now)?.map_or(0, SortedSet::len);
    Ok(Reply::Int(len as i64))
}

/// ZRANK key member
pub fn zrank(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    rank(ctx, args, false)
}

/// ZREVRANK key member
pub fn zrevrank(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    rank(ctx, args, true)
}

fn rank(ctx: &mut Context, args: &[&[u8]], reverse: bool) -> CommandResult {
    let mut shard = ctx.db().lock(args[1]);
    let Some(set) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Nil);
    };
    Ok(match set.rank(args[2]) {
        Some(rank) if reverse => Reply::Int((set.len() - 1 - rank) as i64),
        Some(rank) => Reply::Int(rank as i64),
        None => Reply::Nil,
    })
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let interval = Interval::score(args[2], args[3])?;
    let mut shard = ctx.db().lock(args[1]);
    let count = read(&mut shard, args[1], ctx.now)?.map_or(0, |set| {
        let (lo, hi) = interval.ranks(set);
        hi.saturating_sub(lo)
    });
    Ok(Reply::Int(count as i64))
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let interval = Interval::lex(args[2], args[3])?;
    let mut shard = ctx.db().lock(args[1]);
    let count = read(&mut shard, args[1], ctx.now)?.map_or(0, |set| {
        let (lo, hi) = interval.ranks(set);
        hi.saturating_sub(lo)
    });
    Ok(Reply::Int(count as i64))
}

/// How a range command reads its two range arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    range(ctx, args, None, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    range(ctx, args, Some(RangeKind::Rank), Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    range(ctx, args, Some(RangeKind::Score), Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    range(ctx, args, Some(RangeKind::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    range(ctx, args, Some(RangeKind::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    range(ctx, args, Some(RangeKind::Lex), Some(true))
}

/// The range commands, as Redis's `zrangeGenericCommand`: the kind and direction are fixed
/// by the command or (ZRANGE) chosen by its options.
fn range(
    ctx: &mut Context,
    args: &[&[u8]],
    kind: Option<RangeKind>,
    reverse: Option<bool>,
) -> CommandResult {
    let (mut kind, mut reverse) = (kind, reverse);
    let mut with_scores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut at = 4;
    while at < args.len() {
        let arg = args[at];
        let left = args.len() - at - 1;
        if is(arg, "WITHSCORES") {
            with_scores = true;
        } else if is(arg, "LIMIT") && left >= 2 {
            offset = args::int(args[at + 1])?;
            limit = args::int(args[at + 2])?;
            at += 2;
        } else if reverse.is_none() && is(arg, "REV") {
            reverse = Some(true);
        } else if kind.is_none() && is(arg, "BYLEX") {
            kind = Some(RangeKind::Lex);
        } else if kind.is_none() && is(arg, "BYSCORE") {
            kind = Some(RangeKind::Score);
        } else {
            return Err(CommandError::Syntax);
        }
        at += 1;
    }
    let kind = kind.unwrap_or(RangeKind::Rank);
    let reverse = reverse.unwrap_or(false);
    if limit != -1 && kind == RangeKind::Rank {
        return Err(CommandError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == RangeKind::Lex {
        return Err(CommandError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (low, high) = if reverse && kind != RangeKind::Rank {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let selection = match kind {
        RangeKind::Rank => Selection::Ranks(args::int(low)?, args::int(high)?),
        RangeKind::Score => Selection::Interval(Interval::score(low, high)?, offset, limit),
        RangeKind::Lex => Selection::Interval(Interval::lex(low, high)?, offset, limit),
    };
    let protocol = ctx.client.protocol();
    let mut shard = ctx.db().lock(args[1]);
    let Some(set) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let members = selection.members(set, reverse);
    Ok(scored_reply(members, with_scores, protocol))
}

/// Which members a range command picks.
enum Selection<'a> {
    /// Ranks `start..=stop`, negative ones from the end.
    Ranks(i64, i64),
    /// Members inside the interval, after skipping `offset`, at most `limit` (negative: all).
    Interval(Interval<'a>, i64, i64),
}

impl Selection<'_> {
    /// The ascending ranks `lo..hi` picked, given the direction the members are read in.
    fn ranks(&self, set: &SortedSet, reverse: bool) -> (usize, usize) {
        let len = set.len();
        match *self {
            Selection::Ranks(start, stop) => match rank_span(start, stop, len) {
                None => (0, 0),
                Some((start, stop)) if reverse => (len - 1 - stop, len - start),
                Some((start, stop)) => (start, stop + 1),
            },
            Selection::Interval(interval, offset, limit) => {
                if offset < 0 || offset > 0 && offset as u64 >= len as u64 {
                    return (0, 0);
                }
                let (lo, hi) = interval.ranks(set);
                let offset = offset as usize;
                if hi.saturating_sub(lo) <= offset {
                    return (0, 0);
                }
                let available = hi - lo - offset;
                let taken = if limit < 0 {
                    available
                } else {
                    available.min(usize::try_from(limit).unwrap_or(usize::MAX))
                };
                if reverse {
                    (hi - offset - taken, hi - offset)
                } else {
                    (lo + offset, lo + offset + taken)
                }
            }
        }
    }

    /// The members picked, in the order they are replied.
    fn members<'s>(&self, set: &'s SortedSet, reverse: bool) -> Vec<Scored<'s>> {
        let (lo, hi) = self.ranks(set, reverse);
        let mut members = set.range(lo, hi);
        if reverse {
            members.reverse();
        }
        members
    }
}

/// Members, or with scores: `[member, score]` arrays in RESP3, a flat array in RESP2.
fn scored_reply(members: Vec<Scored<'_>>, with_scores: bool, protocol: Protocol) -> Reply {
    let members = members.into_iter();
    Reply::Array(match (with_scores, protocol) {
        (false, _) => members.map(|(member, _)| bulk(member)).collect(),
        (true, Protocol::Resp3) => members
            .map(|(m, s)| Reply::Array(vec![bulk(m), Reply::Double(s)]))
            .collect(),
        (true, Protocol::Resp2) => members
            .flat_map(|(m, s)| [bulk(m), Reply::Double(s)])
            .collect(),
    })
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let interval = Interval::score(args[2], args[3])?;
    remove_range(ctx, args[1], "zremrangebyscore", |set| interval.ranks(set))
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let interval = Interval::lex(args[2], args[3])?;
    remove_range(ctx, args[1], "zremrangebylex", |set| interval.ranks(set))
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (start, stop) = (args::int(args[2])?, args::int(args[3])?);
    remove_range(ctx, args[1], "zremrangebyrank", |set| {
        rank_span(start, stop, set.len()).map_or((0, 0), |(start, stop)| (start, stop + 1))
    })
}

/// Removes the members of the ascending ranks `ranks` picks (each logged as removed).
fn remove_range(
    ctx: &mut Context,
    key: &[u8],
    event: &str,
    ranks: impl FnOnce(&SortedSet) -> (usize, usize),
) -> CommandResult {
    let limits = ctx.server.store.zset_limits();
    let mut shard = ctx.db().lock(key);
    let Some(mut edit) = zset::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Int(0));
    };
    let (lo, hi) = ranks(edit.set());
    let doomed: Vec<Box<[u8]>> = edit
        .set()
        .range(lo, hi)
        .into_iter()
        .map(|(member, _)| member.into())
        .collect();
    for member in &doomed {
        edit.remove(member);
    }
    let emptied = edit.set().is_empty();
    if emptied {
        shard.remove(key, ctx.now);
    }
    drop(shard);
    notify_removal(ctx, key, event, doomed.len(), emptied);
    Ok(Reply::Int(doomed.len() as i64))
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    pop(ctx, args, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    pop(ctx, args, true)
}

fn pop(ctx: &mut Context, args: &[&[u8]], highest: bool) -> CommandResult {
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let count = match args.get(2) {
        Some(arg) => Some(
            args::int(arg)
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| CommandError::err("value is out of range, must be positive"))?,
        ),
        None => None,
    };
    let key = args[1];
    let protocol = ctx.client.protocol();
    let limits = ctx.server.store.zset_limits();
    let mut shard = ctx.db().lock(key);
    let Some(mut edit) = zset::edit(&mut shard, key, ctx.now, limits)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let wanted = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    let len = edit.set().len();
    let taken = wanted.min(len);
    let (lo, hi) = if highest {
        (len - taken, len)
    } else {
        (0, taken)
    };
    let mut popped: Vec<(Box<[u8]>, f64)> = edit
        .set()
        .range(lo, hi)
        .into_iter()
        .map(|(member, score)| (member.into(), score))
        .collect();
    if highest {
        popped.reverse();
    }
    for (member, _) in &popped {
        edit.remove(member);
    }
    let emptied = edit.set().is_empty();
    if emptied {
        shard.remove(key, ctx.now);
    }
    drop(shard);
    let event = if highest { "zpopmax" } else { "zpopmin" };
    notify_removal(ctx, key, event, popped.len(), emptied);
    let nested = protocol == Protocol::Resp3 && count.is_some();
    Ok(Reply::Array(if nested {
        popped
            .iter()
            .map(|(m, s)| Reply::Array(vec![bulk(m), Reply::Double(*s)]))
            .collect()
    } else {
        popped
            .iter()
            .flat_map(|(m, s)| [bulk(m), Reply::Double(*s)])
            .collect()
    }))
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A packed set answers whole with cursor 0; a skiplist's cursor is a place of its slab, and
/// a member present for the whole iteration is returned exactly once (see `store::zset`).
pub fn zscan(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let cursor = args::cursor(args[2])?;
    let mut shard = ctx.db().lock(args[1]);
    let Some(set) = read(&mut shard, args[1], ctx.now)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = ScanOptions::parse(&args[3..])?;
    let (next, members) = set.scan(cursor, options.count);
    let items = members
        .into_iter()
        .filter(|(member, _)| options.matches(member))
        .flat_map(|(member, score)| {
            [
                bulk(member),
                Reply::text(crate::protocol::format_double(score)),
            ]
        })
        .collect();
    Ok(scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_get_double_from_object() {
        assert_eq!(score_arg(b"1.5"), Ok(1.5));
        assert_eq!(score_arg(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(score_arg(b"+Infinity"), Ok(f64::INFINITY));
        for bad in [&b"nan"[..], b" 1", b"1 ", b"", b"1e400", b"1e-400", b"abc"] {
            assert_eq!(score_arg(bad), Err(CommandError::NotFloat), "{bad:?}");
        }
        assert_eq!(score_arg(b"0e-400"), Ok(0.0));
        assert_eq!(score_arg(b"0x10"), Ok(16.0));
        assert_eq!(score_arg(b"-0x1.8p1"), Ok(-3.0));
        assert_eq!(score_arg(b"0x"), Err(CommandError::NotFloat));
    }

    #[test]
    fn bounds_parse_as_zsl_parse_range() {
        assert!(matches!(
            score_bound(b"(1"),
            Some(Bound::Value {
                value: 1.0,
                exclusive: true
            })
        ));
        assert!(matches!(
            score_bound(b""),
            Some(Bound::Value {
                value: 0.0,
                exclusive: false
            })
        ));
        assert!(matches!(
            score_bound(b" 2"),
            Some(Bound::Value { value: 2.0, .. })
        ));
        assert!(score_bound(b"nan").is_none());
        assert!(score_bound(b"1x").is_none());
        assert!(lex_bound(b"a").is_none());
        assert!(lex_bound(b"+x").is_none());
    }

    #[test]
    fn rank_spans_clamp_like_redis() {
        assert_eq!(rank_span(0, -1, 5), Some((0, 4)));
        assert_eq!(rank_span(-100, 100, 5), Some((0, 4)));
        assert_eq!(rank_span(3, 1, 5), None);
        assert_eq!(rank_span(5, 9, 5), None);
        assert_eq!(rank_span(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(rank_span(0, -1, 0), None);
    }
}
