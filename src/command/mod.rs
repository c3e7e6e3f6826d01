//! Commands: the table (`table.rs`), dispatch (this file) and one module per family.
//!
//! Dispatch follows Redis's order of checks: unknown command, arity, authentication,
//! subscribe-mode restrictions, then the handler. Every handler has the same shape:
//! `fn(&mut Context, &[&[u8]]) -> CommandResult`, where the arguments include the command name.

pub mod args;
pub mod connection;
pub mod hash;
pub mod help;
pub mod keys;
pub mod list;
pub mod long_double;
pub mod member_scan;
pub mod namespace;
pub mod pubsub;
pub mod server;
pub mod session;
pub mod set;
pub mod string;
pub mod table;
pub mod transaction;
pub mod zset;

use crate::protocol::Reply;
use crate::server::monitor::Fed;
use crate::server::{ClientState, ServerState, secrets};
use crate::store::{Database, eviction};

pub use table::{CommandSpec, Flags, lookup};

/// What a handler returns: a reply, or an error that becomes a Redis error reply.
pub type CommandResult = Result<Reply, CommandError>;

/// A command that cannot be carried out; `Display` is the exact Redis error text.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The argument count does not fit the command's arity.
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// Options that do not parse or do not go together.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument that should be an integer is not one, or overflows.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument that should be a float is not one.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// The key holds a different type than the command works on.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// The key the command needs does not exist.
    #[error("ERR no such key")]
    NoSuchKey,
    /// A database index outside `0..databases`.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// Any other `ERR` error; the text follows `ERR `.
    #[error("ERR {0}")]
    Err(String),
    /// An error with its own code (`NOAUTH ...`, `WRONGPASS ...`), given in full.
    #[error("{0}")]
    Coded(String),
}

impl From<crate::server::NamespaceError> for CommandError {
    fn from(error: crate::server::NamespaceError) -> Self {
        CommandError::Err(error.to_string())
    }
}

impl From<crate::store::value::WrongType> for CommandError {
    fn from(_: crate::store::value::WrongType) -> Self {
        CommandError::WrongType
    }
}

impl CommandError {
    /// An `ERR` error with this text.
    pub fn err(text: impl Into<String>) -> Self {
        CommandError::Err(text.into())
    }
}

/// Everything a handler may touch: the server, the calling client, and the time of the call.
pub struct Context<'a> {
    /// Shared server state.
    pub server: &'a ServerState,
    /// The connection running the command.
    pub client: &'a mut ClientState,
    /// Unix milliseconds at the start of the command; one clock reading per command.
    pub now: u64,
}

impl Context<'_> {
    /// The database the client has selected.
    pub fn db(&self) -> &Database {
        self.client.database()
    }

    /// Database `index` of the client's namespace.
    pub fn db_at(&self, index: usize) -> Result<&Database, CommandError> {
        self.client
            .namespace()
            .database(index)
            .ok_or(CommandError::DbIndexOutOfRange)
    }
}

/// Runs one request and returns its reply.
pub fn execute(ctx: &mut Context, args: &[&[u8]]) -> Reply {
    let Some(name) = args.first() else {
        return Reply::Silent;
    };
    let Some(spec) = lookup(name) else {
        return transaction::refuse(ctx, None, unknown_command(name, &args[1..]));
    };
    if spec.flags.contains(Flags::PROTECTED)
        && let Err(error) = check_arity(spec, args.len()).and_then(|()| allow_protected(ctx))
    {
        return transaction::refuse(ctx, Some(spec), error.to_string());
    }
    let checked = resolve_subcommand(spec, args).and_then(|spec| admit(ctx, spec).map(|()| spec));
    let spec = match checked {
        Ok(spec) => spec,
        Err(error) => return transaction::refuse(ctx, Some(spec), error.to_string()),
    };
    if !spec.flags.contains(Flags::TRANSACTION_CONTROL) && ctx.client.queue_command(spec, args) {
        return Reply::status("QUEUED");
    }
    if spec.flags.contains(Flags::RUNS_ALONE) {
        return run(ctx, spec, args);
    }
    let _gate = ctx.server.store.gate().enter();
    run(ctx, spec, args)
}

/// Runs a command that passed dispatch's checks, counting it for INFO and the metrics.
fn run(ctx: &mut Context, spec: &'static CommandSpec, args: &[&[u8]]) -> Reply {
    ctx.client.record_command(spec, ctx.now);
    let server = ctx.server;
    let started = quanta::Instant::now();
    let result = (spec.handler)(ctx, args);
    let took = started.elapsed();
    if let Some(metrics) = &server.metrics {
        metrics.note(spec, took);
    }
    let (slower_than, max_len) = server.live.slowlog();
    if slower_than >= 0
        && took.as_micros() >= slower_than as u128
        && !spec.flags.contains(Flags::SKIP_SLOWLOG)
    {
        let handle = ctx.client.handle();
        let client = (handle.addr.to_string(), handle.info().name);
        let secrets = secrets::secret_positions(args);
        server.slowlog.record(args, &secrets, took, client, max_len);
    }
    // Operator commands are not shown, as in Redis: they reach past the namespace.
    if server.monitors.any() && !spec.flags.contains(Flags::ADMIN) {
        let fed = Fed {
            namespace: ctx.client.namespace().id(),
            db: ctx.client.db_index(),
            peer: ctx.client.handle().addr,
            args,
            secrets: &secrets::secret_positions(args),
        };
        server.monitors.feed(&fed, server.hub.output_limit());
    }
    match result {
        Ok(reply) => reply,
        Err(error) => Reply::Error(error.to_string()),
    }
}

/// Picks the subcommand's entry for container commands (CLIENT, CONFIG, ...).
fn resolve_subcommand(
    spec: &'static CommandSpec,
    args: &[&[u8]],
) -> Result<&'static CommandSpec, CommandError> {
    if spec.subcommands.is_empty() {
        return check_arity(spec, args.len()).map(|()| spec);
    }
    let Some(sub) = args.get(1) else {
        // A container alone runs its own handler where its arity allows it (COMMAND).
        return check_arity(spec, args.len()).map(|()| spec);
    };
    let found = spec
        .subcommands
        .iter()
        .find(|candidate| candidate.short_name().as_bytes().eq_ignore_ascii_case(sub));
    match found {
        Some(found) => check_arity(found, args.len()).map(|()| found),
        None => Err(CommandError::err(format!(
            "unknown subcommand '{}'. Try {} HELP.",
            truncate_for_error(sub, 128),
            spec.name.to_ascii_uppercase()
        ))),
    }
}

fn check_arity(spec: &CommandSpec, argc: usize) -> Result<(), CommandError> {
    let argc = argc as i32;
    let fits = if spec.arity >= 0 {
        argc == spec.arity
    } else {
        argc >= -spec.arity
    };
    if fits {
        Ok(())
    } else {
        Err(CommandError::WrongArity(spec.name.to_string()))
    }
}

/// Whether `enable-debug-command` lets this client run DEBUG; checked before a subcommand
/// is looked for and before authentication, as Redis checks its `protected` commands.
fn allow_protected(ctx: &Context) -> Result<(), CommandError> {
    let setting = ctx.server.config.read().enable_debug_command;
    if setting.allows(crate::server::is_local(ctx.client.handle().addr)) {
        return Ok(());
    }
    Err(CommandError::err(
        "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
         you can run it from a local connection, otherwise you need to set this option in the \
         configuration file, and then restart the server.",
    ))
}

/// Authentication, permission and subscribe-mode checks that come before the handler.
/// Operator commands (flag `admin`: CONFIG, CLIENT LIST/KILL, DEBUG, SESSION.NAMESPACE
/// CREATE/CONFIG/DROP) need a `*` user: they reach past the connection's namespace.
fn admit(ctx: &Context, spec: &CommandSpec) -> Result<(), CommandError> {
    if !ctx.client.is_authenticated() && !spec.flags.contains(Flags::NO_AUTH) {
        return Err(CommandError::Coded(
            "NOAUTH Authentication required.".into(),
        ));
    }
    let user = ctx.client.user();
    if spec.flags.contains(Flags::ADMIN) && !user.is_admin() {
        return Err(CommandError::Coded(format!(
            "NOPERM User {} has no permissions to run the '{}' command",
            user.name(),
            spec.name
        )));
    }
    let maxmemory = ctx.server.live.maxmemory();
    if maxmemory > 0 && ctx.server.memory.is_over(maxmemory) {
        let (policy, samples) = ctx.server.live.eviction();
        let excess = ctx.server.memory.used() - maxmemory;
        let freed = eviction::evict(&ctx.server.store, policy, samples, excess);
        ctx.server.memory.note_freed(freed);
        if spec.flags.contains(Flags::DENYOOM) && ctx.server.memory.is_over(maxmemory) {
            return Err(CommandError::Coded(
                "OOM command not allowed when used memory > 'maxmemory'.".into(),
            ));
        }
    }
    if ctx.client.is_monitoring()
        && (spec.flags.contains(Flags::READONLY) || spec.flags.contains(Flags::WRITE))
    {
        return Err(CommandError::err(
            "Replica can't interact with the keyspace",
        ));
    }
    if ctx.client.in_resp2_subscribe_mode() && !spec.flags.contains(Flags::SUBSCRIBE_CONTEXT) {
        return Err(CommandError::err(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        )));
    }
    Ok(())
}

/// Redis's reply to a command it does not know, quoting up to 128 characters of arguments.
fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut quoted = String::new();
    for arg in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push_str(&format!("'{}' ", truncate_for_error(arg, room)));
    }
    let text = format!(
        "ERR unknown command '{}', with args beginning with: {quoted}",
        truncate_for_error(name, 128)
    );
    text.replace(['\r', '\n'], " ")
}

/// At most `max` bytes of an argument, as text, for quoting in an error message.
fn truncate_for_error(arg: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(max)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_text_matches_redis() {
        assert_eq!(
            unknown_command(b"foo", &[b"a", b"b"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            unknown_command(b"foo", &[]),
            "ERR unknown command 'foo', with args beginning with: "
        );
    }
}
