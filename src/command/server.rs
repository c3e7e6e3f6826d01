//! Server commands: INFO CONFIG COMMAND TIME LASTSAVE DEBUG and the HELP of containers.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::connection::COMPATIBLE_REDIS_VERSION;
use super::table::{COMMANDS, CommandSpec, lookup};
use super::{CommandError, CommandResult, Context};
use super::{args, session};
use crate::config::{Config, ConfigError, SetRefusal};
use crate::memory::AllocatorStats;
use crate::persistence::RewriteError;
use crate::protocol::Reply;
use crate::server::{open_files, stats};
use crate::store::shard::Deadlines;

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
type InfoRender = fn(&Context) -> String;

/// Every INFO section, in Redis's order, then sessiond's own `sessions`. All of them are
/// default sections, so plain INFO, `default`, `all` and `everything` show the same: Redis's
/// only non-default ones, `commandstats` and `latencystats`, are not kept, as they would take
/// a clock reading and a shared counter per command.
const INFO_SECTIONS: [(&str, InfoRender); 12] = [
    ("server", info_server),
    ("clients", info_clients),
    ("memory", info_memory),
    ("persistence", info_persistence),
    ("stats", info_stats),
    ("replication", info_replication),
    ("cpu", info_cpu),
    ("modules", info_modules),
    ("errorstats", info_errorstats),
    ("cluster", info_cluster),
    ("keyspace", info_keyspace),
    ("sessions", info_sessions),
];

/// INFO [section ...]: the named sections (case-insensitive), or every one for none,
/// `default`, `all` or `everything`; unknown names add nothing.
pub fn info(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let requested: BTreeSet<String> = args[1..]
        .iter()
        .map(|arg| args::text(arg).to_ascii_lowercase())
        .collect();
    let all = requested.is_empty()
        || ["all", "default", "everything"]
            .iter()
            .any(|s| requested.contains(*s));
    let text = INFO_SECTIONS
        .iter()
        .filter(|(name, _)| all || requested.contains(*name))
        .map(|(_, render)| render(ctx))
        .collect::<Vec<_>>()
        .join("\r\n");
    Ok(Reply::Verbatim(text))
}

/// `# Title` and a `name:value` line per field, each ending in CRLF.
fn section(title: &str, fields: &[(impl AsRef<str>, String)]) -> String {
    let mut text = format!("# {title}\r\n");
    for (name, value) in fields {
        let _ = write!(text, "{}:{value}\r\n", name.as_ref());
    }
    text
}

/// The fields of a section, in order.
type InfoFields = Vec<(&'static str, String)>;

/// Fields whose value is always `value` in sessiond, for features it does not have.
fn info_constants(value: &str, names: &[&'static str]) -> InfoFields {
    names
        .iter()
        .map(|name| (*name, value.to_string()))
        .collect()
}

fn info_server(ctx: &Context) -> String {
    let config = ctx.server.config.read();
    let uptime = ctx.server.started.elapsed().as_secs();
    let config_file = config
        .config_file
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let tcp_port = ctx.server.tcp_port.load(Ordering::Relaxed);
    section(
        "Server",
        &[
            ("redis_version", COMPATIBLE_REDIS_VERSION.into()),
            // Not built from Redis's git tree: Redis's own values for such a build.
            ("redis_git_sha1", "00000000".into()),
            ("redis_git_dirty", "0".into()),
            ("redis_build_id", info_build_id()),
            ("sessiond_version", env!("CARGO_PKG_VERSION").into()),
            ("redis_mode", "standalone".into()),
            ("os", stats::os_description()),
            ("arch_bits", (usize::BITS).to_string()),
            // std's Instant reads clock_gettime(CLOCK_MONOTONIC).
            ("monotonic_clock", "POSIX clock_gettime".into()),
            ("multiplexing_api", "epoll".into()),
            // Rust's atomics follow the C11 memory model.
            ("atomicvar_api", "c11-builtin".into()),
            // What Redis reports when a compiler other than GCC built it.
            ("gcc_version", "0.0.0".into()),
            ("process_id", std::process::id().to_string()),
            ("process_supervised", "no".into()),
            ("run_id", ctx.server.run_id.clone()),
            ("tcp_port", tcp_port.to_string()),
            ("server_time_usec", now_us.to_string()),
            ("uptime_in_seconds", uptime.to_string()),
            ("uptime_in_days", (uptime / 86_400).to_string()),
            ("hz", config.hz.to_string()),
            ("configured_hz", config.hz.to_string()),
            // Redis's LRU clock: seconds, in 24 bits.
            ("lru_clock", ((ctx.now / 1000) & 0xff_ffff).to_string()),
            ("executable", executable()),
            ("config_file", config_file),
            // Every worker thread reads, runs and writes; there are no separate I/O threads.
            ("io_threads_active", "0".into()),
        ],
    )
}

/// A build id in Redis's hex form: a checksum of the version and the target it was built for.
fn info_build_id() -> String {
    let build = format!(
        "sessiond-{}-{}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    format!("{:x}", crc32c::crc32c(build.as_bytes()))
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
    let peaks = ctx.server.stats.buffer_peaks();
    let mut fields = vec![
        ("connected_clients", ctx.server.clients.count().to_string()),
        // No cluster bus.
        ("cluster_connections", "0".into()),
        (
            "maxclients",
            ctx.server.config.read().maxclients.to_string(),
        ),
        ("client_recent_max_input_buffer", peaks.input.to_string()),
        ("client_recent_max_output_buffer", peaks.output.to_string()),
    ];
    // No blocking commands (BLPOP, WAIT...) and no CLIENT TRACKING.
    fields.extend(info_constants(
        "0",
        &["blocked_clients", "tracking_clients"],
    ));
    fields.push(("pubsub_clients", pubsub_clients.to_string()));
    fields.extend(info_constants(
        "0",
        &[
            "clients_in_timeout_table",
            "total_blocking_keys",
            "total_blocking_keys_on_nokey",
        ],
    ));
    section("Clients", &fields)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    UNITS
        .iter()
        .find(|(_, size)| bytes >= *size)
        .map_or(format!("{bytes}B"), |(unit, size)| {
            format!("{:.2}{unit}", bytes as f64 / *size as f64)
        })
}

/// `part / whole` with two decimals, as Redis prints ratios (0 when `whole` is 0).
fn info_ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.00".into();
    }
    format!("{:.2}", part as f64 / whole as f64)
}

/// `part` as a percentage of `whole`, as Redis prints them (`12.50%`).
fn info_percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.00%".into();
    }
    format!("{:.2}%", part as f64 * 100.0 / whole as f64)
}

/// `used_memory` is what jemalloc counts as allocated (as `maxmemory` and the memory metric
/// see it), `used_memory_rss` the process's resident size.
fn info_memory(ctx: &Context) -> String {
    let allocator = crate::memory::allocator_stats();
    let rss = crate::server::resident_bytes();
    let mut fields = info_memory_usage(ctx, allocator, rss);
    let system = stats::total_system_memory();
    fields.push(("total_system_memory", system.to_string()));
    fields.push(("total_system_memory_human", human_bytes(system)));
    fields.extend(info_memory_scripting());
    let maxmemory = ctx.server.config.read().maxmemory;
    fields.push(("maxmemory", maxmemory.to_string()));
    fields.push(("maxmemory_human", human_bytes(maxmemory)));
    let policy = ctx.server.config.read().maxmemory_policy;
    fields.push(("maxmemory_policy", policy.as_str().into()));
    fields.extend(info_memory_fragmentation(allocator, rss));
    fields.extend(info_memory_buffers(ctx));
    section("Memory", &fields)
}

/// Use, peak, and the split into start-up overhead and data. The overhead is what the server
/// took before it loaded data, plus the AOF buffer; the rest counts as dataset.
fn info_memory_usage(ctx: &Context, allocator: AllocatorStats, rss: u64) -> InfoFields {
    let used = allocator.allocated;
    let stats = &ctx.server.stats;
    let peak = stats.note_memory(used);
    let startup = stats.startup_memory();
    let overhead = startup + ctx.server.store.journal().buffered();
    let dataset = used.saturating_sub(overhead);
    let net = used.saturating_sub(startup).max(1);
    vec![
        ("used_memory", used.to_string()),
        ("used_memory_human", human_bytes(used)),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", human_bytes(rss)),
        ("used_memory_peak", peak.to_string()),
        ("used_memory_peak_human", human_bytes(peak)),
        ("used_memory_peak_perc", info_percent(used, peak)),
        ("used_memory_overhead", overhead.to_string()),
        ("used_memory_startup", startup.to_string()),
        ("used_memory_dataset", dataset.to_string()),
        ("used_memory_dataset_perc", info_percent(dataset, net)),
        ("allocator_allocated", allocator.allocated.to_string()),
        ("allocator_active", allocator.active.to_string()),
        ("allocator_resident", allocator.resident.to_string()),
    ]
}

/// sessiond runs no Lua scripts and no functions.
fn info_memory_scripting() -> InfoFields {
    let mut fields = info_constants("0", &["used_memory_lua", "used_memory_vm_eval"]);
    fields.push(("used_memory_lua_human", human_bytes(0)));
    fields.extend(info_constants(
        "0",
        &[
            "used_memory_scripts_eval",
            "number_of_cached_scripts",
            "number_of_functions",
            "number_of_libraries",
            "used_memory_vm_functions",
            "used_memory_vm_total",
        ],
    ));
    fields.push(("used_memory_vm_total_human", human_bytes(0)));
    fields.extend(info_constants(
        "0",
        &["used_memory_functions", "used_memory_scripts"],
    ));
    fields.push(("used_memory_scripts_human", human_bytes(0)));
    fields
}

/// Redis's fragmentation ratios and byte differences, from jemalloc's totals and the
/// process's resident size.
fn info_memory_fragmentation(allocator: AllocatorStats, rss: u64) -> InfoFields {
    let AllocatorStats {
        allocated,
        active,
        resident,
    } = allocator;
    let bytes = |more: u64, less: u64| (more as i64 - less as i64).to_string();
    vec![
        ("allocator_frag_ratio", info_ratio(active, allocated)),
        ("allocator_frag_bytes", bytes(active, allocated)),
        ("allocator_rss_ratio", info_ratio(resident, active)),
        ("allocator_rss_bytes", bytes(resident, active)),
        ("rss_overhead_ratio", info_ratio(rss, resident)),
        ("rss_overhead_bytes", bytes(rss, resident)),
        ("mem_fragmentation_ratio", info_ratio(rss, allocated)),
        ("mem_fragmentation_bytes", bytes(rss, allocated)),
    ]
}

/// Buffers outside the dataset: only the AOF's exists (no replicas, no cluster), and memory
/// is freed at once (no lazy free, no defragmentation).
fn info_memory_buffers(ctx: &Context) -> InfoFields {
    let aof_buffer = ctx.server.store.journal().buffered().to_string();
    let mut fields = vec![("mem_not_counted_for_evict", aof_buffer.clone())];
    fields.extend(info_constants(
        "0",
        &[
            "mem_replication_backlog",
            "mem_total_replication_buffers",
            "mem_clients_slaves",
            "mem_cluster_links",
        ],
    ));
    fields.push(("mem_aof_buffer", aof_buffer));
    fields.push(("mem_allocator", "jemalloc-5.3.1".into()));
    fields.extend(info_constants(
        "0",
        &[
            "active_defrag_running",
            "lazyfree_pending_objects",
            "lazyfreed_objects",
        ],
    ));
    fields
}

/// The start time: sessiond writes no snapshots (as LASTSAVE says).
fn info_last_save(ctx: &Context) -> u64 {
    (ctx.now / 1000).saturating_sub(ctx.server.started.elapsed().as_secs())
}

/// sessiond persists with the AOF only and never forks: the snapshot and fork fields have
/// Redis's values for a server that never saved one.
fn info_persistence(ctx: &Context) -> String {
    let mut fields = info_constants("0", &["loading", "async_loading"]);
    fields.extend(info_constants(
        "0",
        &[
            "current_cow_peak",
            "current_cow_size",
            "current_cow_size_age",
        ],
    ));
    fields.push(("current_fork_perc", "0.00".into()));
    fields.extend(info_constants(
        "0",
        &[
            "current_save_keys_processed",
            "current_save_keys_total",
            "rdb_changes_since_last_save",
            "rdb_bgsave_in_progress",
        ],
    ));
    fields.push(("rdb_last_save_time", info_last_save(ctx).to_string()));
    fields.push(("rdb_last_bgsave_status", "ok".into()));
    fields.extend(info_constants(
        "-1",
        &["rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec"],
    ));
    fields.extend(info_constants(
        "0",
        &[
            "rdb_saves",
            "rdb_last_cow_size",
            "rdb_last_load_keys_expired",
            "rdb_last_load_keys_loaded",
        ],
    ));
    fields.extend(info_persistence_aof(ctx));
    section("Persistence", &fields)
}

/// The AOF fields; sizes and buffers only while it is on, as in Redis.
fn info_persistence_aof(ctx: &Context) -> InfoFields {
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
    // Rewrites run on a thread, and there are no modules: nothing forks.
    fields.extend(info_constants(
        "0",
        &[
            "aof_last_cow_size",
            "module_fork_in_progress",
            "module_fork_last_cow_size",
        ],
    ));
    if enabled {
        fields.extend([
            ("aof_current_size", load(&stats.current_size).to_string()),
            ("aof_base_size", load(&stats.base_size).to_string()),
            ("aof_pending_rewrite", "0".into()),
            ("aof_buffer_length", journal.buffered().to_string()),
            ("aof_fsync", journal.fsync().as_str().into()),
            ("aof_fsyncs", load(&stats.fsyncs).to_string()),
            ("aof_last_fsync_us", load(&stats.last_fsync_us).to_string()),
            (
                "aof_last_fsync_time",
                (load(&stats.last_fsync_at) / 1000).to_string(),
            ),
        ]);
    }
    fields
}

fn info_stats(ctx: &Context) -> String {
    let stats = &ctx.server.stats;
    let rates = stats.rates();
    let mut fields = vec![
        (
            "total_connections_received",
            stats.connections().to_string(),
        ),
        ("total_commands_processed", stats.commands().to_string()),
        ("instantaneous_ops_per_sec", rates.ops_per_sec.to_string()),
        ("total_net_input_bytes", stats.input_bytes().to_string()),
        ("total_net_output_bytes", stats.output_bytes().to_string()),
        // No replicas: no replication traffic, no syncs.
        ("total_net_repl_input_bytes", "0".into()),
        ("total_net_repl_output_bytes", "0".into()),
        (
            "instantaneous_input_kbps",
            format!("{:.2}", rates.input_kbps),
        ),
        (
            "instantaneous_output_kbps",
            format!("{:.2}", rates.output_kbps),
        ),
        ("instantaneous_input_repl_kbps", "0.00".into()),
        ("instantaneous_output_repl_kbps", "0.00".into()),
        ("rejected_connections", stats.rejected().to_string()),
    ];
    fields.extend(info_constants(
        "0",
        &["sync_full", "sync_partial_ok", "sync_partial_err"],
    ));
    fields.extend(info_stats_expiry(ctx));
    fields.extend(info_stats_features(ctx));
    fields.extend(info_stats_io(ctx));
    section("Stats", &fields)
}

/// Expiry and eviction. The timing wheel has no time cap per pass; clients are never
/// evicted, and key eviction is not timed.
fn info_stats_expiry(ctx: &Context) -> InfoFields {
    // The wheel removes keys at their deadline, so none linger past it to be counted stale.
    let stale = "0.00".to_string();
    let mut fields = vec![
        ("expired_keys", ctx.server.store.expired_keys().to_string()),
        ("evicted_keys", ctx.server.store.evicted_keys().to_string()),
        ("expired_stale_perc", stale),
        ("expired_time_cap_reached_count", "0".into()),
        (
            "expire_cycle_cpu_milliseconds",
            ctx.server.stats.expiry_cpu_ms().to_string(),
        ),
    ];
    fields.extend(info_constants(
        "0",
        &[
            "evicted_clients",
            "total_eviction_exceeded_time",
            "current_eviction_exceeded_time",
        ],
    ));
    fields
}

/// Lookups, pub/sub, and features sessiond lacks: key hits and misses are not counted (that
/// would take a shared counter per lookup); no sharded pub/sub, forks, MIGRATE, replicas,
/// defragmentation or CLIENT TRACKING.
fn info_stats_features(ctx: &Context) -> InfoFields {
    let namespace = ctx.client.namespace().id();
    let hub = &ctx.server.hub;
    let mut fields = info_constants("0", &["keyspace_hits", "keyspace_misses"]);
    fields.extend([
        (
            "pubsub_channels",
            hub.channels(namespace, None).len().to_string(),
        ),
        ("pubsub_patterns", hub.pattern_count(namespace).to_string()),
    ]);
    fields.extend(info_constants(
        "0",
        &[
            "pubsubshard_channels",
            "latest_fork_usec",
            "total_forks",
            "migrate_cached_sockets",
            "slave_expires_tracked_keys",
            "active_defrag_hits",
            "active_defrag_misses",
            "active_defrag_key_hits",
            "active_defrag_key_misses",
            "total_active_defrag_time",
            "current_active_defrag_time",
            "tracking_total_keys",
            "tracking_total_items",
            "tracking_total_prefixes",
        ],
    ));
    fields
}

/// Errors and socket I/O. No replies come from a master or an AOF being loaded (unexpected
/// errors), there is no RESTORE to sanitise, and no I/O threads.
fn info_stats_io(ctx: &Context) -> InfoFields {
    let stats = &ctx.server.stats;
    vec![
        ("unexpected_error_replies", "0".into()),
        ("total_error_replies", stats.error_replies().to_string()),
        ("dump_payload_sanitizations", "0".into()),
        ("total_reads_processed", stats.reads().to_string()),
        ("total_writes_processed", stats.writes().to_string()),
        ("io_threaded_reads_processed", "0".into()),
        ("io_threaded_writes_processed", "0".into()),
    ]
}

/// A standalone master without replicas or a backlog.
fn info_replication(ctx: &Context) -> String {
    let mut fields = vec![
        ("role", "master".to_string()),
        ("connected_slaves", "0".into()),
        ("master_failover_state", "no-failover".into()),
        ("master_replid", ctx.server.run_id.clone()),
        ("master_replid2", "0".repeat(40)),
        ("master_repl_offset", "0".into()),
        ("second_repl_offset", "-1".into()),
    ];
    fields.extend(info_constants(
        "0",
        &[
            "repl_backlog_active",
            "repl_backlog_size",
            "repl_backlog_first_byte_offset",
            "repl_backlog_histlen",
        ],
    ));
    section("Replication", &fields)
}

/// CPU seconds of the process and of its waited-for children.
fn info_cpu(_ctx: &Context) -> String {
    let cpu = stats::process_cpu();
    let seconds = |value: f64| format!("{value:.6}");
    section(
        "CPU",
        &[
            ("used_cpu_sys", seconds(cpu.system)),
            ("used_cpu_user", seconds(cpu.user)),
            ("used_cpu_sys_children", seconds(cpu.children_system)),
            ("used_cpu_user_children", seconds(cpu.children_user)),
        ],
    )
}

/// sessiond loads no modules: the section is empty, as in a Redis without any.
fn info_modules(_ctx: &Context) -> String {
    section("Modules", &InfoFields::new())
}

/// Error replies by code: `errorstat_ERR:count=3`.
fn info_errorstats(ctx: &Context) -> String {
    let fields: Vec<(String, String)> = ctx
        .server
        .stats
        .errors_by_code()
        .into_iter()
        .map(|(code, count)| (format!("errorstat_{code}"), format!("count={count}")))
        .collect();
    section("Errorstats", &fields)
}

/// sessiond has no cluster mode.
fn info_cluster(_ctx: &Context) -> String {
    section("Cluster", &[("cluster_enabled", "0".to_string())])
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

/// `dbN:keys=K,expires=E,avg_ttl=MS` for every database of the namespace with keys. As in
/// Redis, keys past their deadline not yet removed count; the counts are kept by the shards,
/// so INFO never walks the keys.
fn info_keyspace(ctx: &Context) -> String {
    let mut text = "# Keyspace\r\n".to_string();
    for db in ctx.client.namespace().databases() {
        let (mut keys, mut deadlines) = (0, Deadlines::default());
        for shard in db.lock_all() {
            keys += shard.len();
            let shard_deadlines = shard.deadlines();
            deadlines.count += shard_deadlines.count;
            deadlines.sum += shard_deadlines.sum;
        }
        if keys > 0 {
            let avg_deadline = deadlines.sum.checked_div(u128::from(deadlines.count));
            let avg_ttl = avg_deadline.map_or(0, |at| at.saturating_sub(u128::from(ctx.now)));
            let _ = write!(
                text,
                "db{}:keys={keys},expires={},avg_ttl={avg_ttl}\r\n",
                db.index(),
                deadlines.count
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
    let previous = config.clone();
    config
        .set_many(&pairs)
        .map_err(|error| CommandError::Coded(error.to_string()))?;
    if config.maxclients > previous.maxclients {
        let fits = open_files::fit_clients(config.maxclients).unwrap_or(previous.maxclients);
        if fits < config.maxclients {
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new maxclients \
                 setting. Restoring previous settings."
            );
            *config = previous;
            let refusal = ConfigError::SetFailed {
                name: "maxclients".into(),
                reason: SetRefusal::TooManyClients { fits },
            };
            return Err(CommandError::Coded(refusal.to_string()));
        }
    }
    let was_appendonly = previous.appendonly;
    if let Err(error) = reload_tls(ctx, &pairs, &config) {
        *config = previous;
        return Err(error);
    }
    ctx.server.live.refresh(&config);
    ctx.server.store.set_hash_limits(config.hash_limits());
    ctx.server.store.set_set_limits(config.set_limits());
    ctx.server.store.set_zset_limits(config.zset_limits());
    ctx.server.store.set_list_limits(config.list_limits());
    ctx.server.hub.set_output_limit(config.output_limits.pubsub);
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

/// Loads the TLS files again when CONFIG SET named a `tls-*` setting while TLS is served,
/// even an unchanged one, so that setting a file to itself picks up a renewed certificate, as
/// in Redis. Fails with Redis's reply (the cause goes to the log) when they do not load.
fn reload_tls(ctx: &Context, pairs: &[(&str, &str)], config: &Config) -> Result<(), CommandError> {
    let Some(tls) = &ctx.server.tls else {
        return Ok(());
    };
    let Some(name) = pairs
        .iter()
        .map(|&(name, _)| name.to_ascii_lowercase())
        .find(|name| crate::server::tls::RELOADED_BY.contains(&name.as_str()))
    else {
        return Ok(());
    };
    tls.reload(config).map_err(|error| {
        tracing::warn!("CONFIG SET {name}: {error}");
        CommandError::Coded(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update \
             TLS configuration. Check server logs."
        ))
    })
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

/// DEBUG PANIC: panics on purpose while holding every shard lock of the client's database,
/// to show that a panic in one connection's handling is contained.
///
/// Redis's DEBUG PANIC crashes the server. sessiond's takes down only this connection: it
/// is closed without a reply (what a client gets from any panic in its command's handling),
/// its registration and subscriptions are released, the panic is logged at error level,
/// and the shard locks are released as the panic unwinds, so every other client goes on.
pub fn debug_panic(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    let database = ctx.client.database();
    let _held = database.lock_all();
    panic!(
        "DEBUG PANIC: a panic on purpose, holding the {} shard locks of database {}",
        database.shard_count(),
        database.index()
    );
}

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all).
pub fn slowlog_get(ctx: &mut Context, args: &[&[u8]]) -> CommandResult {
    let count = match args {
        [_, _] => Some(10),
        [_, _, count] => {
            let count = args::int(count)
                .ok()
                .filter(|&n| n >= -1)
                .ok_or_else(|| CommandError::err("count should be greater than or equal to -1"))?;
            usize::try_from(count).ok()
        }
        _ => {
            return Err(CommandError::err(
                "unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
            ));
        }
    };
    let entries = ctx.server.slowlog.newest(count);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|entry| {
                Reply::Array(vec![
                    Reply::Int(entry.id as i64),
                    Reply::Int(entry.at as i64),
                    Reply::Int(entry.micros as i64),
                    Reply::bulks(entry.args),
                    Reply::bulk(entry.peer.as_bytes()),
                    Reply::bulk(entry.client_name.as_bytes()),
                ])
            })
            .collect(),
    ))
}

/// SLOWLOG LEN
pub fn slowlog_len(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    Ok(Reply::Int(ctx.server.slowlog.len() as i64))
}

/// SLOWLOG RESET
pub fn slowlog_reset(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    ctx.server.slowlog.reset();
    Ok(Reply::Ok)
}

/// MONITOR: from now on the client receives every command run in its namespace. A client
/// already monitoring gets no reply, as in Redis.
pub fn monitor(ctx: &mut Context, _args: &[&[u8]]) -> CommandResult {
    if ctx.client.is_monitoring() {
        return Ok(Reply::Silent);
    }
    let mailbox = ctx.client.handle().mailbox().clone();
    let namespace = ctx.client.namespace().id();
    ctx.server.monitors.add(ctx.client.id(), namespace, mailbox);
    ctx.client.set_monitoring(true);
    Ok(Reply::Ok)
}
