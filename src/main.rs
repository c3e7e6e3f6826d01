//! The `sessiond` binary: parses the command line and configuration, then serves; or runs
//! an operator subcommand (`check-aof`, `ping`) named by the first argument.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sessiond::config::{Config, LogLevel};
use tikv_jemallocator::Jemalloc;

/// jemalloc: its statistics give INFO and `maxmemory` the bytes in use, and it holds up
/// better than glibc's malloc under many threads allocating small values.
#[global_allocator]
static ALLOCATOR: Jemalloc = Jemalloc;

/// jemalloc's options, a C string it reads at start-up (`_RJEM_MALLOC_CONF` in the
/// environment still wins).
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);

// SAFETY: the pointer is to a static string that nothing writes.
unsafe impl Sync for MallocConf {}

/// Background threads return freed pages to the OS (Redis turns them on too, with
/// `jemalloc-bg-thread yes`), within a second of their last use rather than jemalloc's
/// default ten: after a burst of writes RSS comes back to what the data takes (1M
/// session-shaped hashes: 286 -> 257 bytes per key by RSS, benches/memory.sh).
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: MallocConf = MallocConf(c"background_thread:true,dirty_decay_ms:1000".as_ptr());

/// What `sessiond --help` says about the subcommands, which are dispatched before clap sees
/// the serving command line (a config file name may be any word).
const SUBCOMMANDS_HELP: &str = "\
Subcommands:
  sessiond check-aof [--fix] DIR_OR_FILE
          Verify an append-only file (a directory with its manifest, or one file): every
          header, record and checksum. --fix truncates a torn tail of the last file.
  sessiond ping [--host H] [--port P] [--password PASS]
          Exit 0 when the server answers PING (a container health check).";

/// sessiond: a session store that speaks the Redis protocol.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_help = SUBCOMMANDS_HELP)]
struct Cli {
    /// An optional config file (redis.conf syntax), then `--directive value ...` overrides.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONFIG_FILE] [--directive value"
    )]
    args: Vec<String>,
}

/// Verify an append-only file: every header, record and checksum. Exits 0 when it is valid.
#[derive(Parser, Debug)]
#[command(name = "check-aof", bin_name = "sessiond check-aof", version)]
struct CheckAof {
    /// Truncate a torn tail of the last file (never corruption elsewhere).
    #[arg(long)]
    fix: bool,
    /// The AOF directory (read through its manifest) or a single AOF file.
    #[arg(value_name = "DIR_OR_FILE")]
    target: PathBuf,
}

/// Exit 0 when a sessiond (or any Redis-protocol server) answers PING.
#[derive(Parser, Debug)]
#[command(name = "ping", bin_name = "sessiond ping", version)]
struct Ping {
    /// The server's host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The server's port.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// AUTH with this password first (the default user's, `requirepass`).
    #[arg(long)]
    password: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|arg| arg.to_str()) {
        Some("check-aof") => check_aof(CheckAof::parse_from(&args[1..])),
        Some("ping") => ping(Ping::parse_from(&args[1..])),
        _ => serve(Cli::parse_from(args)),
    }
}

/// Runs `ping`: exit 0 when the server answers `+PONG`, 1 (saying why) otherwise.
fn ping(cli: Ping) -> ExitCode {
    match sessiond::health::ping(&cli.host, cli.port, cli.password.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sessiond ping {}:{}: {error}", cli.host, cli.port);
            ExitCode::FAILURE
        }
    }
}

/// Runs `check-aof`: exit 0 when the AOF is valid (after a fix, if one was asked for).
fn check_aof(cli: CheckAof) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match sessiond::persistence::check::run(&cli.target, cli.fix, &mut out) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("sessiond check-aof: cannot write the report: {error}");
            ExitCode::FAILURE
        }
    }
}

/// How many task polls a worker runs before it looks for new I/O, unless it runs out of tasks
/// first (tokio's default is 61). A worker's turn polls each ready connection twice (its
/// commands, then its replies after the journal write); a look for I/O in the middle of a
/// turn splits it, and each part then pays its own journal write, and under `always` its own
/// fsync. With 1024 the turns of up to 512 busy connections stay whole; the I/O driver is
/// still polled whenever the worker has nothing left to run.
const TASKS_BETWEEN_IO_POLLS: u32 = 1024;

/// Serves with the configuration from the command line.
fn serve(cli: Cli) -> ExitCode {
    let config = match Config::from_args(&cli.args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sessiond: {error}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.loglevel);
    log_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads.max(1))
        .event_interval(TASKS_BETWEEN_IO_POLLS)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sessiond: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sessiond::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stdout at the configured level, without colours when stdout is not a terminal.
fn init_logging(level: LogLevel) {
    use tracing::level_filters::LevelFilter;
    let filter = match level {
        LogLevel::Debug => LevelFilter::TRACE,
        LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Nothing => LevelFilter::OFF,
    };
    tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .init();
}

/// Logs every panic at error level, with its message and where it happened (and a backtrace
/// when `RUST_BACKTRACE` asks for one). A panic in a connection's handling closes only that
/// connection, so the server's log is where an operator learns of it.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let message = info.payload_as_str().unwrap_or("a panic without a message");
        let location = info
            .location()
            .map_or_else(String::new, |location| format!(" at {location}"));
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        tracing::error!("thread '{name}' panicked{location}: {message}{backtrace}");
    }));
}
