//! SESSION.* commands (all but SESSION.NAMESPACE): they act on the sessions of the
//! connection's namespace under its policy. Ids that do not parse name no session.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat};

use super::args::{self, is};
use super::{CommandError, CommandResult, Context};
use crate::protocol::Reply;
use crate::session::record::unpack_fields;
use crate::session::{
    Change, CreateRequest, Field, Policy, Record, SessionError, SessionId, Sessions, StatsSnapshot,
};

impl From<SessionError> for CommandError {
    fn from(error: SessionError) -> Self {
        CommandError::Coded(error.to_string())
    }
}

/// The sessions and policy of the client's namespace.
fn scope<'a>(ctx: &'a Context) -> (&'a Sessions, Policy) {
    let namespace = ctx.client.namespace();
    (namespace.sessions(), namespace.policy())
}

/// A timeout option's seconds: a non-negative integer that fits a record.
fn seconds(arg: &[u8], option: &str, command: &str) -> Result<u64, CommandError> {
    let value = args::int(arg)?;
    u32::try_from(value)
        .map(u64::from)
        .map_err(|_| CommandError::err(format!("invalid {option} timeout in '{command}' command")))
}

/// `field value ...` pairs; an odd count is an arity error of `command`.
fn pairs<'a>(args: &[&'a [u8]], command: &str) -> Result<Vec<Field<'a>>, CommandError> {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity(command.into()));
    }
    Ok(args
        .chunks_exact(2)
        .map(|pair| (pair[0], pair[1]))
        .collect())
}

fn id_reply(id: SessionId) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(&id.text()))
}

/// SESSION.CREATE user [IDLE s] [ABSOLUTE s] [DATA field value ...]
pub fn create(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let mut request = CreateRequest {
        user: args[1],
        idle_s: None,
        absolute_s: None,
        fields: &[],
    };
    let mut fields = Vec::new();
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(args[i], "IDLE") && has_value {
            request.idle_s = Some(seconds(args[i + 1], "IDLE", "session.create")?);
            i += 2;
        } else if is(args[i], "ABSOLUTE") && has_value {
            request.absolute_s = Some(seconds(args[i + 1], "ABSOLUTE", "session.create")?);
            i += 2;
        } else if is(args[i], "DATA") {
            fields = pairs(&args[i + 1..], "session.create")?;
            break;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    request.fields = &fields;
    let (sessions, policy) = scope(ctx);
    let id = sessions.create(&request, &policy, ctx.now)?;
    Ok(id_reply(id))
}

/// SESSION.GET id [field ...]: refreshes the idle deadline.
pub fn get(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    read_fields(ctx, args, true)
}

/// SESSION.PEEK id [field ...]: as GET, without refreshing.
pub fn peek(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    read_fields(ctx, args, false)
}

fn read_fields(ctx: &Context, args: &[&[u8]], touch: bool) -> CommandResult {
    let Some(id) = SessionId::parse(args[1]) else {
        return Ok(Reply::Nil);
    };
    let wanted = &args[2..];
    let (sessions, policy) = scope(ctx);
    let reply = sessions.read(&id, touch, &policy, ctx.now, |record| {
        if wanted.is_empty() {
            // One copy of the packed fields; every reply string is a slice of it.
            let packed = Bytes::copy_from_slice(record.packed_fields());
            let slice = |part: &[u8]| Reply::Bulk(packed.slice_ref(part));
            Reply::Map(
                unpack_fields(&packed)
                    .map(|(name, value)| (slice(name), slice(value)))
                    .collect(),
            )
        } else {
            Reply::Array(
                wanted
                    .iter()
                    .map(|name| record.field(name).map_or(Reply::Nil, Reply::bulk))
                    .collect(),
            )
        }
    });
    Ok(reply.unwrap_or(Reply::Nil))
}

/// SESSION.SET id field value [field value ...]
pub fn set(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let changes = setting(&args[2..], "session.set")?;
    update(ctx, args[1], None, &changes)
}

/// SESSION.CAS id version field value [field value ...]
pub fn cas(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let version = args::non_negative(args[2], CommandError::NotInteger)? as u64;
    let changes = setting(&args[3..], "session.cas")?;
    update(ctx, args[1], Some(version), &changes)
}

/// SESSION.UNSET id field [field ...]
pub fn unset(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let changes: Vec<Change> = args[2..].iter().map(|name| (*name, None)).collect();
    update(ctx, args[1], None, &changes)
}

fn setting<'a>(args: &[&'a [u8]], command: &str) -> Result<Vec<Change<'a>>, CommandError> {
    Ok(pairs(args, command)?
        .into_iter()
        .map(|(name, value)| (name, Some(value)))
        .collect())
}

fn update(ctx: &Context, id: &[u8], expected: Option<u64>, changes: &[Change]) -> CommandResult {
    let Some(id) = SessionId::parse(id) else {
        return Ok(Reply::Nil);
    };
    let (sessions, policy) = scope(ctx);
    let version = sessions.update(&id, expected, changes, &policy, ctx.now)?;
    Ok(version.map_or(Reply::Nil, |v| Reply::Int(v as i64)))
}

/// SESSION.TOUCH id: refreshes; milliseconds until expiry, -1 without deadline, -2 when none.
pub fn touch(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    remaining(ctx, args[1], true)
}

/// SESSION.TTL id: milliseconds until expiry, -1 without deadline, -2 when none.
pub fn ttl(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    remaining(ctx, args[1], false)
}

fn remaining(ctx: &Context, id: &[u8], touch: bool) -> CommandResult {
    let Some(id) = SessionId::parse(id) else {
        return Ok(Reply::Int(-2));
    };
    let (sessions, policy) = scope(ctx);
    let now = ctx.now;
    let ttl = sessions.read(&id, touch, &policy, now, |record| {
        record
            .deadline()
            .map_or(-1, |deadline| deadline.saturating_sub(now) as i64)
    });
    Ok(Reply::Int(ttl.unwrap_or(-2)))
}

/// SESSION.INFO id
pub fn info(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let Some(id) = SessionId::parse(args[1]) else {
        return Ok(Reply::Nil);
    };
    let (sessions, policy) = scope(ctx);
    Ok(sessions
        .inspect(&id, &policy, ctx.now, describe)
        .unwrap_or(Reply::Nil))
}

/// RFC 3339 UTC with milliseconds, as SESSION.INFO shows times.
fn timestamp(ms: u64) -> Reply {
    let text = DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default();
    Reply::text(&text)
}

fn optional_timestamp(ms: Option<u64>) -> Reply {
    ms.map_or(Reply::Nil, timestamp)
}

/// The SESSION.INFO map of a record.
fn describe(record: &Record) -> Reply {
    let ending = record.ending();
    let state = if ending.is_some() { "ended" } else { "active" };
    let expires_at = if ending.is_some() {
        None
    } else {
        record.deadline()
    };
    let mut map = vec![
        ("id", id_reply(record.id())),
        ("user", Reply::bulk(record.user())),
        ("state", Reply::text(state)),
        ("created_at", timestamp(record.created_at())),
        ("last_access", timestamp(record.last_access())),
        ("expires_at", optional_timestamp(expires_at)),
        (
            "idle_timeout",
            Reply::Int(record.idle_timeout_ms().unwrap_or(0) as i64 / 1000),
        ),
        (
            "absolute_deadline",
            optional_timestamp(record.absolute_deadline()),
        ),
        ("version", Reply::Int(record.version() as i64)),
        ("fields", Reply::Int(record.fields().count() as i64)),
        ("bytes", Reply::Int(record.data_bytes() as i64)),
    ];
    if let Some(ending) = ending {
        map.extend([
            ("ended_at", timestamp(ending.ended_at)),
            (
                "duration_ms",
                Reply::Int(ending.ended_at.saturating_sub(record.created_at()) as i64),
            ),
            ("end_reason", Reply::text(ending.reason.name())),
            ("recoverable_until", timestamp(ending.recoverable_until)),
        ]);
    }
    Reply::Map(
        map.into_iter()
            .map(|(name, value)| (Reply::text(name), value))
            .collect(),
    )
}

/// SESSION.END id: 1 if it ended an active session.
pub fn end(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let Some(id) = SessionId::parse(args[1]) else {
        return Ok(Reply::Int(0));
    };
    let (sessions, policy) = scope(ctx);
    Ok(Reply::Int(sessions.end(&id, &policy, ctx.now).into()))
}

/// SESSION.ROTATE id: the new id, or nil.
pub fn rotate(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let Some(id) = SessionId::parse(args[1]) else {
        return Ok(Reply::Nil);
    };
    let (sessions, policy) = scope(ctx);
    Ok(sessions
        .rotate(&id, &policy, ctx.now)
        .map_or(Reply::Nil, id_reply))
}

/// SESSION.RECOVER id: a new id for a session ended within the window, or nil.
pub fn recover(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let Some(id) = SessionId::parse(args[1]) else {
        return Ok(Reply::Nil);
    };
    let (sessions, policy) = scope(ctx);
    Ok(sessions
        .recover(&id, &policy, ctx.now)?
        .map_or(Reply::Nil, id_reply))
}

/// SESSION.LIST user [WITHINFO]
pub fn list(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let with_info = match args.get(2) {
        None => false,
        Some(option) if is(option, "WITHINFO") && args.len() == 3 => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    let (sessions, policy) = scope(ctx);
    let ids = sessions.list(args[1], &policy, ctx.now);
    if !with_info {
        return Ok(Reply::Array(ids.into_iter().map(id_reply).collect()));
    }
    Ok(Reply::Array(
        ids.iter()
            .filter_map(|id| sessions.inspect(id, &policy, ctx.now, describe))
            .collect(),
    ))
}

/// SESSION.ENDALL user [EXCEPT id]: how many it ended.
pub fn endall(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let except = match &args[2..] {
        [] => None,
        [option, id] if is(option, "EXCEPT") => SessionId::parse(id),
        _ => return Err(CommandError::Syntax),
    };
    let (sessions, policy) = scope(ctx);
    let ended = sessions.end_all(args[1], except.as_ref(), &policy, ctx.now);
    Ok(Reply::Int(ended as i64))
}

/// SESSION.COUNT [user]
pub fn count(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if args.len() > 2 {
        return Err(CommandError::Syntax);
    }
    let (sessions, policy) = scope(ctx);
    let count = sessions.count(args.get(1).copied(), &policy, ctx.now);
    Ok(Reply::Int(count as i64))
}

/// SESSION.STATS
pub fn stats(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let (sessions, _) = scope(ctx);
    Ok(Reply::Map(
        stats_fields(&sessions.stats())
            .into_iter()
            .map(|(name, value)| (Reply::text(name), Reply::Int(value as i64)))
            .collect(),
    ))
}

/// The SESSION.STATS counters by name, also shown in INFO's `sessions` section.
pub fn stats_fields(stats: &StatsSnapshot) -> [(&'static str, u64); 11] {
    [
        ("active", stats.active),
        ("users_active", stats.users_active),
        ("peak_active", stats.peak_active),
        ("created_total", stats.created_total),
        ("ended_total", stats.ended_total),
        ("expired_total", stats.expired_total),
        ("evicted_total", stats.evicted_total),
        ("rotated_total", stats.rotated_total),
        ("recovered_total", stats.recovered_total),
        ("recoverable", stats.recoverable),
        ("avg_duration_ms", stats.avg_duration_ms),
    ]
}

/// SESSION.CLEANUP [IDLE s] [FORCE] [DRYRUN]
pub fn cleanup(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let (sessions, policy) = scope(ctx);
    let mut idle_ms = policy.idle_timeout_ms;
    let (mut force, mut dry_run) = (false, false);
    let mut i = 1;
    while i < args.len() {
        if is(args[i], "IDLE") && i + 1 < args.len() {
            idle_ms = seconds(args[i + 1], "IDLE", "session.cleanup")? * 1000;
            i += 2;
        } else if is(args[i], "FORCE") {
            force = true;
            i += 1;
        } else if is(args[i], "DRYRUN") {
            dry_run = true;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let ids = sessions.cleanup(idle_ms, force, dry_run, &policy, ctx.now);
    if dry_run {
        Ok(Reply::Array(ids.into_iter().map(id_reply).collect()))
    } else {
        Ok(Reply::Int(ids.len() as i64))
    }
}
