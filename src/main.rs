//! The `sessiond` binary: parses the command line and configuration, then serves.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sessiond::config::{Config, LogLevel};

/// sessiond: a session store that speaks the Redis protocol.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// An optional config file (redis.conf syntax), then `--directive value ...` overrides.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONFIG_FILE] [--directive value"
    )]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_args(&cli.args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sessiond: {error}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.loglevel);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads.max(1))
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
