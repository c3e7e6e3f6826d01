//! Server commands: INFO CONFIG COMMAND TIME LASTSAVE DEBUG and the HELP of containers.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::connection::COMPATIBLE_REDIS_VERSION;
use super::table::{COMMANDS, CommandSpec, lookup};
use super::{CommandError, CommandResult, Context};
use super::{args, session};
use crate::persistence::RewriteError;
use crate::protocol::Reply;

/// `<CONTAINER> HELP`: what its subcommands do.
pub fn help(_ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let container = args::text(args[0]).to_ascii_lowercase();
    let mut lines = vec![Reply::status(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        container.to_ascii_uppercase()
    ))];
    lines.extend(
        super::help::lines(&container)
            .iter()
            .map(|line| Reply::status(*line)),
    );
    Ok(Reply::Array(lines))
}

/// Renders one INFO section.
type InfoSection = fn(&Context) -> String;

/// INFO [section ...]
pub fn info(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let requested: BTreeSet<String> = args[1..]
        .iter()
        .map(|arg| args::text(arg).to_ascii_lowercase())
        .collect();
    let all = requested.is_empty()
        || ["all", "default", "everything"]
            .iter()
            .any(|s| requested.contains(*s));
    let sections: [(&str, InfoSection); 8] = [
        ("server", info_server),
        ("clients", info_clients),
        ("memory", info_memory),
        ("persistence", info_persistence),
        ("stats", info_stats),
        ("replication", info_replication),
        ("keyspace", info_keyspace),
        ("sessions", info_sessions),
    ];
    let text = sections
        .iter()
        .filter(|(name, _)| all || requested.contains(*name))
        .map(|(_, render)| render(ctx))
        .collect::<Vec<_>>()
        .join("\r\n");
    Ok(Reply::Verbatim(text))
}

fn section(title: &str, fields: &[(impl AsRef<str>, String)]) -> String {
    let mut text = format!("# {title}\r\n");
    for (name, value) in fields {
        let _ = write!(text, "{}:{value}\r\n", name.as_ref());
    }
    text
}

fn info_server(ctx: &Context) -> String {
    let config = ctx.server.config.read();
    let uptime = ctx.server.started.elapsed().as_secs();
    let config_file = config
        .config_file
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    section(
        "Server",
        &[
            ("redis_version", COMPATIBLE_REDIS_VERSION.into()),
            ("sessiond_version", env!("CARGO_PKG_VERSION").into()),
            ("redis_mode", "standalone".into()),
            ("os", std::env::consts::OS.into()),
            ("arch_bits", (usize::BITS).to_string()),
            ("multiplexing_api", "epoll".into()),
            ("process_id", std::process::id().to_string()),
            ("run_id", ctx.server.run_id.clone()),
            (
                "tcp_port",
                ctx.server
                    .tcp_port
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .to_string(),
            ),
            ("server_time_usec", (ctx.now * 1000).to_string()),
            ("uptime_in_seconds", uptime.to_string()),
            ("uptime_in_days", (uptime / 86_400).to_string()),
            ("hz", config.hz.to_string()),
            ("executable", executable()),
            ("config_file", config_file),
        ],
    )
}

fn executable() -> String {
    std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_default()
}

fn info_clients(ctx: &Context) -> String {
    let pubsub_clients = ctx
        .server
        .clients
        .all()
        .iter()
        .filter(|handle| handle.info().is_pubsub())
        .count();
    section(
        "Clients",
        &[
            ("connected_clients", ctx.server.clients.count().to_string()),
            (
                "maxclients",
                ctx.server.config.read().maxclients.to_string(),
            ),
            ("blocked_clients", "0".into()),
            ("pubsub_clients", pubsub_clients.to_string()),
        ],
    )
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    UNITS
        .iter()
        .find(|(_, size)| bytes >= *size)
        .map_or(format!("{bytes}B"), |(unit, size)| {
            format!("{:.2}{unit}", bytes as f64 / *size as f64)
        })
}

fn info_memory(ctx: &Context) -> String {
    let rss = crate::server::resident_bytes();
    let maxmemory = ctx.server.config.read().maxmemory;
    section(
        "Memory",
        &[
            ("used_memory", rss.to_string()),
            ("used_memory_human", human_bytes(rss)),
            ("used_memory_rss", rss.to_string()),
            ("used_memory_rss_human", human_bytes(rss)),
            ("maxmemory", maxmemory.to_string()),
            ("maxmemory_human", human_bytes(maxmemory)),
            ("maxmemory_policy", "noeviction".into()),
            ("mem_allocator", "libc".into()),
        ],
    )
}

fn info_persistence(ctx: &Context) -> String {
    let journal = ctx.server.store.journal();
    let stats = &journal.stats;
    let load = |value: &std::sync::atomic::AtomicU64| value.load(Ordering::Relaxed);
    let enabled = journal.is_active();
    let rewrite_started = load(&stats.rewrite_started_at);
    let current_rewrite_s = if rewrite_started == 0 {
        -1
    } else {
        (ctx.now.saturating_sub(rewrite_started) / 1000) as i64
    };
    let last_rewrite_s =
        if load(&stats.rewrites) == 0 && !stats.last_rewrite_failed.load(Ordering::Relaxed) {
            -1
        } else {
            (load(&stats.last_rewrite_ms) / 1000) as i64
        };
    let status = |failed: bool| if failed { "err" } else { "ok" };
    let mut fields = vec![
        ("loading", "0".into()),
        ("async_loading", "0".into()),
        ("rdb_changes_since_last_save", "0".into()),
        ("rdb_bgsave_in_progress", "0".into()),
        ("rdb_last_bgsave_status", "ok".into()),
        ("aof_enabled", u8::from(enabled).to_string()),
        (
            "aof_rewrite_in_progress",
            u8::from(journal.is_rewriting()).to_string(),
        ),
        ("aof_rewrite_scheduled", "0".into()),
        ("aof_last_rewrite_time_sec", last_rewrite_s.to_string()),
        (
            "aof_current_rewrite_time_sec",
            current_rewrite_s.to_string(),
        ),
        (
            "aof_last_bgrewrite_status",
            status(stats.last_rewrite_failed.load(Ordering::Relaxed)).into(),
        ),
        ("aof_rewrites", load(&stats.rewrites).to_string()),
        // A failed write stops the server, so a running one has written every record.
        ("aof_last_write_status", "ok".into()),
    ];
    if enabled {
        fields.extend([
            ("aof_current_size", load(&stats.current_size).to_string()),
            ("aof_base_size", load(&stats.base_size).to_string()),
            ("aof_pending_rewrite", "0".into()),
            ("aof_buffer_length", journal.buffered().to_string()),
            ("aof_fsync", journal.fsync().as_str().into()),
            ("aof_last_fsync_us", load(&stats.last_fsync_us).to_string()),
            (
                "aof_last_fsync_time",
                (load(&stats.last_fsync_at) / 1000).to_string(),
            ),
        ]);
    }
    section("Persistence", &fields)
}

fn info_stats(ctx: &Context) -> String {
    let stats = &ctx.server.stats;
    section(
        "Stats",
        &[
            (
                "total_connections_received",
                stats.connections().to_string(),
            ),
            ("total_commands_processed", stats.commands().to_string()),
            ("rejected_connections", stats.rejected().to_string()),
            ("expired_keys", ctx.server.store.expired_keys().to_string()),
            ("evicted_keys", "0".into()),
            ("keyspace_hits", "0".into()),
            ("keyspace_misses", "0".into()),
            (
                "pubsub_channels",
                ctx.server
                    .hub
                    .channels(ctx.client.namespace().id(), None)
                    .len()
                    .to_string(),
            ),
            (
                "pubsub_patterns",
                ctx.server
                    .hub
                    .pattern_count(ctx.client.namespace().id())
                    .to_string(),
            ),
        ],
    )
}

fn info_replication(ctx: &Context) -> String {
    section(
        "Replication",
        &[
            ("role", "master".into()),
            ("connected_slaves", "0".into()),
            ("master_replid", ctx.server.run_id.clone()),
            ("master_repl_offset", "0".into()),
        ],
    )
}

/// The connection's namespace: its name, policy and SESSION.STATS counters.
fn info_sessions(ctx: &Context) -> String {
    let namespace = ctx.client.namespace();
    let mut fields = vec![("namespace", namespace.name().to_string())];
    for (name, value) in namespace.policy().options() {
        fields.push((name, value));
    }
    for (name, value) in session::stats_fields(&namespace.sessions().stats()) {
        fields.push((name, value.to_string()));
    }
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(name, value)| (name.replace('-', "_"), value))
        .collect();
    section("Sessions", &fields)
}

fn info_keyspace(ctx: &Context) -> String {
    let mut text = "# Keyspace\r\n".to_string();
    for db in ctx.client.namespace().databases() {
        let (mut keys, mut expires, mut ttl_sum) = (0u64, 0u64, 0u64);
        for shard in db.lock_all() {
            for (_, entry) in shard.iter(ctx.now) {
                keys += 1;
                if let Some(deadline) = entry.expires_at() {
                    expires += 1;
                    ttl_sum += deadline.saturating_sub(ctx.now);
                }
            }
        }
        if keys > 0 {
            let avg_ttl = ttl_sum.checked_div(expires).unwrap_or(0);
            let _ = write!(
                text,
                "db{}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n",
                db.index()
            );
        }
    }
    text
}

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let patterns: Vec<String> = args[2..].iter().map(|arg| args::text(arg)).collect();
    let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let pairs = ctx.server.config.read().get_many(&patterns);
    Ok(Reply::Map(
        pairs
            .into_iter()
            .map(|(name, value)| (Reply::text(name), Reply::text(value)))
            .collect(),
    ))
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing, duplicates refused.
pub fn config_set(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity("config|set".into()));
    }
    let texts: Vec<String> = args[2..].iter().map(|arg| args::text(arg)).collect();
    let pairs: Vec<(&str, &str)> = texts
        .chunks(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
        .collect();
    let mut config = ctx.server.config.write();
    let was_appendonly = config.appendonly;
    config
        .set_many(&pairs)
        .map_err(|error| CommandError::Coded(error.to_string()))?;
    ctx.server.live.refresh(&config);
    crate::server::persistence::apply_settings(&ctx.server.store, &config);
    if config.appendonly != was_appendonly {
        let turned =
            crate::server::persistence::set_appendonly(ctx.server, config.appendonly, config.hz);
        if let Err(error) = turned {
            config.appendonly = was_appendonly;
            return Err(CommandError::err(format!(
                "cannot change appendonly: {error}"
            )));
        }
    }
    ctx.server
        .hub
        .set_notify_flags(config.notify_keyspace_events);
    Ok(Reply::Ok)
}

/// CONFIG RESETSTAT
pub fn config_resetstat(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    ctx.server.stats.reset();
    Ok(Reply::Ok)
}

/// COMMAND: the INFO of every command.
pub fn command_all(_ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Array(
        COMMANDS.iter().map(command_description).collect(),
    ))
}

/// COMMAND COUNT
pub fn command_count(_ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Int(COMMANDS.len() as i64))
}

/// COMMAND LIST
pub fn command_list(_ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Array(
        COMMANDS.iter().map(|spec| Reply::text(spec.name)).collect(),
    ))
}

/// COMMAND INFO [name ...]: nil for unknown names.
pub fn command_info(_ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    if args.len() == 2 {
        return Ok(Reply::Array(
            COMMANDS.iter().map(command_description).collect(),
        ));
    }
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|name| lookup(name).map_or(Reply::NilArray, command_description))
            .collect(),
    ))
}

/// Redis 7's COMMAND INFO entry: name, arity, flags, key positions, categories, tips, key
/// specs, subcommands.
fn command_description(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Int(i64::from(spec.arity)),
        Reply::Set(spec.flags.names().map(Reply::status).collect()),
        Reply::Int(i64::from(spec.first_key)),
        Reply::Int(i64::from(spec.last_key)),
        Reply::Int(i64::from(spec.step)),
        Reply::Set(Vec::new()),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(spec.subcommands.iter().map(command_description).collect()),
    ])
}

/// COMMAND DOCS [name ...]: a short document per command, enough for clients that probe it.
pub fn command_docs(_ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let specs: Vec<&CommandSpec> = if args.len() == 2 {
        COMMANDS.iter().collect()
    } else {
        args[2..].iter().filter_map(|name| lookup(name)).collect()
    };
    Ok(Reply::Map(
        specs
            .into_iter()
            .map(|spec| {
                let doc = Reply::Map(vec![
                    (
                        Reply::text("summary"),
                        Reply::text(format!("The {} command", spec.name)),
                    ),
                    (Reply::text("since"), Reply::text("1.0.0")),
                    (Reply::text("group"), Reply::text("generic")),
                ]);
                (Reply::text(spec.name), doc)
            })
            .collect(),
    ))
}

/// TIME: seconds and microseconds.
pub fn time(_ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::text(now.as_secs().to_string()),
        Reply::text(now.subsec_micros().to_string()),
    ]))
}

/// LASTSAVE: sessiond writes no snapshots, so this is the start time.
pub fn lastsave(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let uptime = ctx.server.started.elapsed().as_secs();
    Ok(Reply::Int((ctx.now / 1000).saturating_sub(uptime) as i64))
}

/// BGREWRITEAOF: compacts the AOF in the background.
pub fn bgrewriteaof(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    match crate::persistence::rewrite::start(ctx.server.store.clone()) {
        Ok(()) => Ok(Reply::Status(
            "Background append only file rewriting started".into(),
        )),
        Err(RewriteError::Disabled) => Err(CommandError::err(
            "the AOF is off (appendonly no); BGREWRITEAOF has nothing to rewrite",
        )),
        Err(error) => Err(CommandError::err(error.to_string())),
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the server as SIGTERM does (the AOF
/// flushed and fsynced, exit 0), closing this connection without a reply, as Redis does.
/// There are no snapshots, so NOSAVE and SAVE change nothing, nor do NOW and FORCE.
pub fn shutdown(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    for arg in &args[1..] {
        if args::is(arg, "ABORT") {
            return Err(CommandError::err("No shutdown in progress."));
        }
        if !["NOSAVE", "SAVE", "NOW", "FORCE"]
            .iter()
            .any(|o| args::is(arg, o))
        {
            return Err(CommandError::Syntax);
        }
    }
    ctx.server.shutdown.notify_one();
    ctx.client.close_after_reply();
    Ok(Reply::Silent)
}

/// DEBUG SLEEP seconds: delays this connection's reply (for tests).
pub fn debug_sleep(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let seconds = args::float(args[2])?;
    if seconds > 0.0 {
        ctx.client
            .pause(Duration::from_secs_f64(seconds.min(3600.0)));
    }
    Ok(Reply::Ok)
}
