//! sessiond's configuration: defaults, the config file, `--directive` flags, and `CONFIG GET/SET`.
//!
//! Everything a parameter needs — its name, its Redis alias, whether `CONFIG SET` may change it,
//! how to parse it and how `CONFIG GET` prints it — lives in one row of `PARAMS`. The file
//! parser, the command-line parser, [`Config::get`] and [`Config::set`] all read that table, so
//! a new parameter is one new row. The two repeatable directives, `user` and `namespace`, are
//! not parameters (Redis has no `CONFIG GET` for them) and are handled beside the table.
//!
//! Values are parsed and printed as Redis 7 does: integers strictly (no sign `+`, no leading
//! zeros), memory values with `k`/`kb`/`m`/`mb`/`g`/`gb` units, booleans `yes`/`no`, enums by
//! name, all case-insensitive; `CONFIG GET` prints memory values as plain byte counts. `CONFIG
//! SET` errors carry Redis's exact wording, checked against a real `redis-server` 7.0.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use thiserror::Error;

use crate::glob::glob_match;
use crate::keyspace_events::NotifyFlags;
use crate::split_args::split_args;
use crate::store::eviction::EvictionPolicy;

use Mutability::{Runtime, StartUp};

/// The whole server configuration, typed. `Config::default()` is the configuration of a server
/// started with no arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Addresses to listen on (`bind`), IP literals.
    pub bind: Vec<String>,
    /// TCP port for clients (`port`); 0 asks the OS for a free port, or, with a `tls-port`,
    /// serves no plain TCP at all (as in Redis).
    pub port: u16,
    /// TLS port for clients (`tls-port`); 0 serves no TLS.
    pub tls_port: u16,
    /// The server's certificate chain, PEM (`tls-cert-file`).
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of that certificate, PEM (`tls-key-file`).
    pub tls_key_file: Option<PathBuf>,
    /// The CA certificates client certificates are checked against, PEM (`tls-ca-cert-file`).
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Whether TLS clients must present a certificate (`tls-auth-clients`).
    pub tls_auth_clients: TlsAuthClients,
    /// Refuse non-loopback clients while no password is set (`protected-mode`).
    pub protected_mode: bool,
    /// Password of the default user (`requirepass`); `None` means no password.
    pub requirepass: Option<String>,
    /// Named users (`user`, repeatable), in the order given.
    pub users: Vec<UserSpec>,
    /// Databases per namespace (`databases`).
    pub databases: usize,
    /// Most clients connected at once (`maxclients`); lowered at start-up to what the
    /// open-file limit holds.
    pub maxclients: usize,
    /// Who may run DEBUG (`enable-debug-command`).
    pub enable_debug_command: ProtectedAction,
    /// Connections the kernel may queue before they are accepted (`tcp-backlog`).
    pub tcp_backlog: u32,
    /// Close clients idle this many seconds; 0 never (`timeout`).
    pub timeout: u64,
    /// Largest bulk string a client may send, in bytes (`proto-max-bulk-len`).
    pub proto_max_bulk_len: u64,
    /// Memory limit in bytes; 0 means none (`maxmemory`).
    pub maxmemory: u64,
    /// What goes when memory is over the limit (`maxmemory-policy`).
    pub maxmemory_policy: EvictionPolicy,
    /// Keys sampled per eviction (`maxmemory-samples`).
    pub maxmemory_samples: u64,
    /// Commands running at least this many microseconds are logged; -1 logs none
    /// (`slowlog-log-slower-than`).
    pub slowlog_log_slower_than: i64,
    /// Entries the slow log keeps (`slowlog-max-len`).
    pub slowlog_max_len: u64,
    /// How much output may wait for a client, by class (`client-output-buffer-limit`).
    pub output_limits: OutputLimits,
    /// Directory for the append-only files (`dir`).
    pub dir: PathBuf,
    /// Whether writes are logged to the AOF (`appendonly`).
    pub appendonly: bool,
    /// When the AOF is fsynced (`appendfsync`).
    pub appendfsync: AppendFsync,
    /// Rewrite the AOF when it grew by this percentage since the last rewrite; 0 never
    /// (`auto-aof-rewrite-percentage`).
    pub auto_aof_rewrite_percentage: u32,
    /// No automatic rewrite below this AOF size in bytes (`auto-aof-rewrite-min-size`).
    pub auto_aof_rewrite_min_size: u64,
    /// Start up with a torn last AOF record truncated instead of refusing (`aof-load-truncated`).
    pub aof_load_truncated: bool,
    /// Background task frequency in Hz, kept within 1..=500 as Redis does (`hz`).
    pub hz: u32,
    /// Which keyspace notifications are published (`notify-keyspace-events`).
    pub notify_keyspace_events: NotifyFlags,
    /// Port of the Prometheus `/metrics` endpoint; 0 turns it off (`metrics-port`).
    pub metrics_port: u16,
    /// How much the server logs (`loglevel`).
    pub loglevel: LogLevel,
    /// Namespaces declared with their policy options (`namespace`, repeatable), in order.
    pub namespaces: Vec<NamespaceSpec>,
    /// Runtime worker threads (`threads`); defaults to half the cores (at least one), leaving
    /// the rest to the clients beside it and to the aof and expiry threads.
    pub threads: usize,
    /// Keyspace shards per database (`shards`); defaults to 16 × the number of cores.
    pub shards: usize,
    /// Hashes with more fields than this leave the packed encoding (`hash-max-listpack-entries`).
    pub hash_max_listpack_entries: usize,
    /// Hashes with a longer field or value leave the packed encoding (`hash-max-listpack-value`).
    pub hash_max_listpack_value: usize,
    /// Sets of integers larger than this leave the intset encoding (`set-max-intset-entries`).
    pub set_max_intset_entries: usize,
    /// Sets with more members than this leave the packed encoding (`set-max-listpack-entries`).
    pub set_max_listpack_entries: usize,
    /// Sets with a longer member leave the packed encoding (`set-max-listpack-value`).
    pub set_max_listpack_value: usize,
    /// Sorted sets with more members than this leave the packed encoding
    /// (`zset-max-listpack-entries`).
    pub zset_max_listpack_entries: usize,
    /// Sorted sets with a longer member leave the packed encoding (`zset-max-listpack-value`).
    pub zset_max_listpack_value: usize,
    /// List node size: positive = entries per node, -1..=-5 = 4 KiB..64 KiB per node
    /// (`list-max-listpack-size`).
    pub list_max_listpack_size: i32,
    /// The config file this configuration was loaded from, made absolute.
    pub config_file: Option<PathBuf>,
}

/// A `user NAME PASSWORD NAMESPACE[,NAMESPACE...]|*` directive: a login and where it may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    /// The user name given to `AUTH user password`.
    pub name: String,
    /// The user's password.
    pub password: String,
    /// The namespaces the user may use; the first of a list is where `AUTH` puts it.
    pub namespaces: NamespaceAccess,
}

/// Which namespaces a user may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceAccess {
    /// `*`: every namespace, including creating, reconfiguring and dropping them.
    All,
    /// Only these, in the order given.
    List(Vec<String>),
}

/// A `namespace NAME [option value ...]` directive: a namespace and its policy overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceSpec {
    /// The namespace's name.
    pub name: String,
    /// Validated policy options (lower-case names, values as written), in the order first
    /// given; options left out keep their defaults. See [`NAMESPACE_OPTIONS`].
    pub options: Vec<(String, String)>,
}

/// `appendfsync`: when the append-only file is flushed to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// fsync before acknowledging every write.
    Always,
    /// fsync once a second.
    EverySec,
    /// Leave flushing to the OS.
    No,
}

impl AppendFsync {
    /// Names in Redis's order (which its error message lists).
    const CHOICES: &'static [(&'static str, AppendFsync)] = &[
        ("everysec", AppendFsync::EverySec),
        ("always", AppendFsync::Always),
        ("no", AppendFsync::No),
    ];

    /// The name `CONFIG GET appendfsync` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

impl fmt::Display for AppendFsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `enable-debug-command`: who may run a command that can harm the server (DEBUG), as Redis
/// 7 asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectedAction {
    /// Nobody.
    No,
    /// Every client.
    Yes,
    /// Clients connecting from 127.0.0.1 or ::1.
    Local,
}

impl ProtectedAction {
    /// Names in Redis's order.
    const CHOICES: &'static [(&'static str, ProtectedAction)] = &[
        ("no", ProtectedAction::No),
        ("yes", ProtectedAction::Yes),
        ("local", ProtectedAction::Local),
    ];

    /// The name `CONFIG GET` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectedAction::No => "no",
            ProtectedAction::Yes => "yes",
            ProtectedAction::Local => "local",
        }
    }

    /// Whether a client connected from a local address (`local`) or not may.
    pub fn allows(self, local: bool) -> bool {
        match self {
            ProtectedAction::No => false,
            ProtectedAction::Yes => true,
            ProtectedAction::Local => local,
        }
    }
}

/// `tls-auth-clients`: whether a TLS client must show a certificate signed by the
/// `tls-ca-cert-file` CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// No certificate is asked for.
    No,
    /// A client without a valid certificate fails the handshake (Redis's default).
    Yes,
    /// A certificate is asked for; clients without one are served, one that does not verify
    /// fails the handshake.
    Optional,
}

impl TlsAuthClients {
    /// Names in Redis's order (which its error message lists).
    const CHOICES: &'static [(&'static str, TlsAuthClients)] = &[
        ("no", TlsAuthClients::No),
        ("yes", TlsAuthClients::Yes),
        ("optional", TlsAuthClients::Optional),
    ];

    /// The name `CONFIG GET tls-auth-clients` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsAuthClients::No => "no",
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
        }
    }
}

/// `loglevel`: how much the server logs, from most to least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything, for development.
    Debug,
    /// Much rarely useful information.
    Verbose,
    /// Moderately verbose, what production wants.
    Notice,
    /// Only very important or critical messages.
    Warning,
    /// No logging at all (Redis 7.2's `nothing`).
    Nothing,
}

impl LogLevel {
    /// Names in Redis's order (which its error message lists).
    const CHOICES: &'static [(&'static str, LogLevel)] = &[
        ("debug", LogLevel::Debug),
        ("verbose", LogLevel::Verbose),
        ("notice", LogLevel::Notice),
        ("warning", LogLevel::Warning),
        ("nothing", LogLevel::Nothing),
    ];

    /// The name `CONFIG GET loglevel` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Nothing => "nothing",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value was refused. The texts are Redis 7's, so they can end a `CONFIG SET` error.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum InvalidValue {
    /// Not a plain decimal integer.
    #[error("argument couldn't be parsed into an integer")]
    NotInteger,
    /// Not a byte count with an optional unit.
    #[error("argument must be a memory value")]
    NotMemory,
    /// A number outside the parameter's range.
    #[error("argument must be between {min} and {max} inclusive")]
    OutOfRange {
        /// Smallest value allowed.
        min: i128,
        /// Largest value allowed.
        max: i128,
    },
    /// Not `yes` or `no`.
    #[error("argument must be 'yes' or 'no'")]
    NotYesNo,
    /// Not one of an enum's names (listed, comma-separated).
    #[error("argument(s) must be one of the following: {0}")]
    NotOneOf(String),
    /// A character that is not a keyspace event class.
    #[error("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    EventClass,
    /// `save` was given anything but `""`: sessiond has no snapshots.
    #[error("Invalid save parameters")]
    Save,
    /// An address that is not an IP literal.
    #[error("'{0}' is not an IP address")]
    NotIpAddress(String),
    /// An empty value where one is required.
    #[error("argument must not be empty")]
    Empty,
    /// A namespace name that is empty or contains `,` or `*`.
    #[error("'{0}' is not a valid namespace name (it must be non-empty, without ',' or '*')")]
    NamespaceName(String),
    /// `user default ...`: the default user is configured with `requirepass` instead.
    #[error("'default' is the default user; set its password with requirepass")]
    DefaultUser,
    /// A malformed `client-output-buffer-limit`, in Redis's words.
    #[error("{0}")]
    BufferLimit(&'static str),
}

/// How much output may wait for one client of a class before it is disconnected: more than
/// `hard` bytes at any moment, or more than `soft` bytes for `soft_seconds` on end (0 = no
/// such limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Bytes that close the client at once.
    pub hard: u64,
    /// Bytes that close the client when exceeded for `soft_seconds`.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// An [`OutputLimit`] that CONFIG SET changes while connections read it, without a lock.
#[derive(Debug, Default)]
pub struct SharedOutputLimit([std::sync::atomic::AtomicU64; 3]);

impl SharedOutputLimit {
    /// The limit in force.
    pub fn load(&self) -> OutputLimit {
        let [hard, soft, seconds] = &self.0;
        let load = |value: &std::sync::atomic::AtomicU64| value.load(Ordering::Relaxed);
        OutputLimit {
            hard: load(hard),
            soft: load(soft),
            soft_seconds: load(seconds),
        }
    }

    /// Puts `limit` in force.
    pub fn store(&self, limit: OutputLimit) {
        let [hard, soft, seconds] = &self.0;
        hard.store(limit.hard, Ordering::Relaxed);
        soft.store(limit.soft, Ordering::Relaxed);
        seconds.store(limit.soft_seconds, Ordering::Relaxed);
    }
}

/// `client-output-buffer-limit`: one limit per client class, with Redis's defaults. Replicas
/// do not exist in sessiond; their class is kept so that Redis configs load unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    /// Clients without subscriptions.
    pub normal: OutputLimit,
    /// Replicas (`slave` or `replica`).
    pub replica: OutputLimit,
    /// Clients with a subscription.
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            normal: OutputLimit::default(),
            replica: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputLimits {
    /// As `CONFIG GET` shows it: `normal H S T slave H S T pubsub H S T`.
    fn to_config(self) -> String {
        [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ]
        .iter()
        .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Applies `CLASS HARD SOFT SECONDS` groups; classes not named keep their limits (so an
    /// empty value changes nothing, as in Redis).
    fn apply(&mut self, value: &str) -> Result<(), InvalidValue> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err(InvalidValue::BufferLimit(
                "Wrong number of arguments in buffer limit configuration.",
            ));
        }
        let mut updated = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut updated.normal,
                "slave" | "replica" => &mut updated.replica,
                "pubsub" => &mut updated.pubsub,
                _ => {
                    return Err(InvalidValue::BufferLimit(
                        "Invalid client class specified in buffer limit configuration.",
                    ));
                }
            };
            let limit = || -> Option<OutputLimit> {
                Some(OutputLimit {
                    hard: parse_memory(group[1])?,
                    soft: parse_memory(group[2])?,
                    soft_seconds: group[3].parse().ok()?,
                })
            };
            *class = limit().ok_or(InvalidValue::BufferLimit(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ))?;
        }
        *self = updated;
        Ok(())
    }
}

/// Why a `CONFIG SET` was refused, in Redis's words.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SetRefusal {
    /// The parameter exists but only takes effect at start-up.
    #[error("can't set immutable config")]
    Immutable,
    /// The same parameter was named twice in one `CONFIG SET`.
    #[error("duplicate parameter")]
    Duplicate,
    /// The value does not parse or is out of range.
    #[error(transparent)]
    Invalid(InvalidValue),
    /// `maxclients` over what the open-file limit can be raised to hold.
    #[error(
        "The operating system is not able to handle the specified number of clients, try \
         with {fits}"
    )]
    TooManyClients {
        /// How many clients fit.
        fits: usize,
    },
}

/// Why a namespace policy option was refused (start-up or `SESSION.NAMESPACE CREATE|CONFIG`).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NamespaceOptionError {
    /// Not one of [`NAMESPACE_OPTIONS`].
    #[error("unknown namespace option '{0}' (options: {options})", options = NAMESPACE_OPTIONS.join(", "))]
    Unknown(String),
    /// A known option with a bad value.
    #[error("invalid value '{value}' for '{option}': {reason}")]
    Invalid {
        /// The option, lower-case.
        option: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: InvalidValue,
    },
}

/// What is wrong with one directive of a config file or of the command line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Problem {
    /// Neither a parameter, an alias, `user` nor `namespace`.
    #[error("unknown directive '{0}'")]
    UnknownDirective(String),
    /// Too many or too few arguments.
    #[error("wrong number of arguments for '{directive}': expected {expected}")]
    WrongArgCount {
        /// The directive, lower-case.
        directive: String,
        /// What it takes, e.g. `1 argument`.
        expected: &'static str,
    },
    /// A value that does not parse or is out of range.
    #[error("invalid value '{value}' for '{directive}': {reason}")]
    InvalidValue {
        /// The directive, lower-case.
        directive: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: InvalidValue,
    },
    /// A bad option in a `namespace` directive.
    #[error("namespace '{namespace}': {error}")]
    NamespaceOption {
        /// The namespace being declared.
        namespace: String,
        /// What is wrong with the option.
        error: NamespaceOptionError,
    },
    /// A quoted argument that is not closed, or a closing quote followed by more text.
    #[error("Unbalanced quotes in configuration line")]
    UnbalancedQuotes,
    /// An argument whose bytes (after `\xHH` escapes) are not UTF-8.
    #[error("argument is not valid UTF-8")]
    NotUtf8,
    /// A command-line argument that belongs to no `--directive`.
    #[error("unexpected argument '{0}' (directives are given as --name value ...)")]
    UnexpectedArgument(String),
}

/// A configuration error. Start-up variants say where the problem is; `CONFIG SET` variants
/// display as the complete Redis error reply text, `ERR ` prefix included.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file '{}': {source}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A bad line in the config file.
    #[error("{file}:{line}: {problem}")]
    File {
        /// The file's path as given.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: Box<Problem>,
    },
    /// A bad `--directive` on the command line.
    #[error("command line: {0}")]
    CommandLine(Box<Problem>),
    /// `CONFIG SET` of a parameter that does not exist.
    #[error("ERR Unknown option or number of arguments for CONFIG SET - '{0}'")]
    UnknownOption(String),
    /// `CONFIG SET` refused for a known parameter (named as the client spelled it).
    #[error("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")]
    SetFailed {
        /// The parameter as the client wrote it.
        name: String,
        /// Why.
        reason: SetRefusal,
    },
}

/// Whether `CONFIG SET` may change a parameter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mutability {
    /// Read at start-up only.
    StartUp,
    /// Changeable at run time.
    Runtime,
}

/// How many arguments a parameter takes as a directive.
#[derive(Clone, Copy)]
enum Arity {
    /// Exactly one.
    One,
    /// One or more, joined with spaces into one value (as `CONFIG SET bind "a b"` takes them).
    OneOrMore,
}

/// One configuration parameter: the single place that knows its name, alias, mutability, and
/// how its value is parsed into and printed from [`Config`].
struct Param {
    /// The canonical name, lower-case.
    name: &'static str,
    /// Redis's older name for the same setting (the `ziplist` spellings).
    alias: Option<&'static str>,
    /// Whether `CONFIG SET` may change it.
    mutability: Mutability,
    /// Arguments it takes in a file or after a `--flag`.
    arity: Arity,
    /// Prints the value as `CONFIG GET` shows it.
    get: fn(&Config) -> String,
    /// Parses a value and stores it.
    set: fn(&mut Config, &str) -> Result<(), InvalidValue>,
}

impl Param {
    /// A one-argument parameter without alias.
    const fn new(
        name: &'static str,
        mutability: Mutability,
        get: fn(&Config) -> String,
        set: fn(&mut Config, &str) -> Result<(), InvalidValue>,
    ) -> Param {
        Param {
            name,
            alias: None,
            mutability,
            arity: Arity::One,
            get,
            set,
        }
    }

    /// The same parameter, also known as `alias`.
    const fn alias(self, alias: &'static str) -> Param {
        Param {
            alias: Some(alias),
            ..self
        }
    }

    /// The same parameter, taking several arguments.
    const fn variadic(self) -> Param {
        Param {
            arity: Arity::OneOrMore,
            ..self
        }
    }

    /// The parameter's names: canonical first, then the alias.
    fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.alias)
    }
}

/// Largest value of a `usize` parameter whose Redis range ends at `LONG_MAX`.
const SIZE_MAX: i64 = if usize::MAX as u128 > i64::MAX as u128 {
    i64::MAX
} else {
    usize::MAX as i64
};

/// Every `CONFIG GET`/`CONFIG SET` parameter, in `CONFIG GET` order, with Redis's ranges.
#[rustfmt::skip]
static PARAMS: &[Param] = &[
    Param::new("bind", StartUp, |c| c.bind.join(" "),
        |c, v| parse_bind(v).map(|a| c.bind = a)).variadic(),
    Param::new("port", StartUp, |c| c.port.to_string(),
        |c, v| integer(v, 0, 65535).map(|n| c.port = n as u16)),
    Param::new("tls-port", StartUp, |c| c.tls_port.to_string(),
        |c, v| integer(v, 0, 65535).map(|n| c.tls_port = n as u16)),
    Param::new("tls-cert-file", Runtime, |c| path_or_empty(&c.tls_cert_file),
        |c, v| { c.tls_cert_file = optional_path(v); Ok(()) }),
    Param::new("tls-key-file", Runtime, |c| path_or_empty(&c.tls_key_file),
        |c, v| { c.tls_key_file = optional_path(v); Ok(()) }),
    Param::new("tls-ca-cert-file", Runtime, |c| path_or_empty(&c.tls_ca_cert_file),
        |c, v| { c.tls_ca_cert_file = optional_path(v); Ok(()) }),
    Param::new("tls-auth-clients", Runtime, |c| c.tls_auth_clients.as_str().into(),
        |c, v| one_of(v, TlsAuthClients::CHOICES).map(|a| c.tls_auth_clients = a)),
    Param::new("protected-mode", Runtime, |c| yes_no(c.protected_mode),
        |c, v| boolean(v).map(|b| c.protected_mode = b)),
    Param::new("requirepass", Runtime, |c| c.requirepass.clone().unwrap_or_default(),
        |c, v| { c.requirepass = (!v.is_empty()).then(|| v.to_string()); Ok(()) }),
    Param::new("databases", StartUp, |c| c.databases.to_string(),
        |c, v| integer(v, 1, i32::MAX.into()).map(|n| c.databases = n as usize)),
    Param::new("tcp-backlog", StartUp, |c| c.tcp_backlog.to_string(),
        |c, v| integer(v, 0, i32::MAX.into()).map(|n| c.tcp_backlog = n as u32)),
    Param::new("maxclients", Runtime, |c| c.maxclients.to_string(),
        |c, v| integer(v, 1, u32::MAX.into()).map(|n| c.maxclients = n as usize)),
    Param::new("enable-debug-command", StartUp, |c| c.enable_debug_command.as_str().into(),
        |c, v| one_of(v, ProtectedAction::CHOICES).map(|p| c.enable_debug_command = p)),
    Param::new("timeout", Runtime, |c| c.timeout.to_string(),
        |c, v| integer(v, 0, i32::MAX.into()).map(|n| c.timeout = n as u64)),
    Param::new("proto-max-bulk-len", Runtime, |c| c.proto_max_bulk_len.to_string(),
        |c, v| memory(v, 1024 * 1024, i64::MAX as u64).map(|n| c.proto_max_bulk_len = n)),
    Param::new("maxmemory", Runtime, |c| c.maxmemory.to_string(),
        |c, v| memory(v, 0, u64::MAX).map(|n| c.maxmemory = n)),
    Param::new("maxmemory-policy", Runtime, |c| c.maxmemory_policy.as_str().into(),
        |c, v| one_of(v, EvictionPolicy::CHOICES).map(|p| c.maxmemory_policy = p)),
    Param::new("maxmemory-samples", Runtime, |c| c.maxmemory_samples.to_string(),
        |c, v| integer(v, 1, 64).map(|n| c.maxmemory_samples = n as u64)),
    Param::new("slowlog-log-slower-than", Runtime, |c| c.slowlog_log_slower_than.to_string(),
        |c, v| integer(v, -1, i64::MAX).map(|n| c.slowlog_log_slower_than = n)),
    Param::new("slowlog-max-len", Runtime, |c| c.slowlog_max_len.to_string(),
        |c, v| integer(v, 0, i64::MAX).map(|n| c.slowlog_max_len = n as u64)),
    Param::new("dir", StartUp, |c| absolute(&c.dir),
        |c, v| non_empty(v).map(|d| c.dir = PathBuf::from(d))),
    Param::new("appendonly", Runtime, |c| yes_no(c.appendonly),
        |c, v| boolean(v).map(|b| c.appendonly = b)),
    Param::new("appendfsync", Runtime, |c| c.appendfsync.as_str().into(),
        |c, v| one_of(v, AppendFsync::CHOICES).map(|f| c.appendfsync = f)),
    Param::new("auto-aof-rewrite-percentage", Runtime, |c| c.auto_aof_rewrite_percentage.to_string(),
        |c, v| integer(v, 0, i32::MAX.into()).map(|n| c.auto_aof_rewrite_percentage = n as u32)),
    Param::new("auto-aof-rewrite-min-size", Runtime, |c| c.auto_aof_rewrite_min_size.to_string(),
        |c, v| memory(v, 0, i64::MAX as u64).map(|n| c.auto_aof_rewrite_min_size = n)),
    Param::new("aof-load-truncated", Runtime, |c| yes_no(c.aof_load_truncated),
        |c, v| boolean(v).map(|b| c.aof_load_truncated = b)),
    Param::new("hz", Runtime, |c| c.hz.to_string(),
        |c, v| integer(v, 0, i32::MAX.into()).map(|n| c.hz = (n as u32).clamp(1, 500))),
    Param::new("client-output-buffer-limit", Runtime, |c| c.output_limits.to_config(),
        |c, v| c.output_limits.apply(v)).variadic(),
    Param::new("notify-keyspace-events", Runtime, |c| c.notify_keyspace_events.to_string(),
        |c, v| NotifyFlags::parse(v).map(|f| c.notify_keyspace_events = f).ok_or(InvalidValue::EventClass)),
    Param::new("metrics-port", StartUp, |c| c.metrics_port.to_string(),
        |c, v| integer(v, 0, 65535).map(|n| c.metrics_port = n as u16)),
    Param::new("loglevel", Runtime, |c| c.loglevel.as_str().into(),
        |c, v| one_of(v, LogLevel::CHOICES).map(|l| c.loglevel = l)),
    Param::new("threads", StartUp, |c| c.threads.to_string(),
        |c, v| integer(v, 1, 1024).map(|n| c.threads = n as usize)),
    Param::new("shards", StartUp, |c| c.shards.to_string(),
        |c, v| integer(v, 1, 65536).map(|n| c.shards = n as usize)),
    Param::new("save", Runtime, |_| String::new(),
        |_, v| if v.is_empty() { Ok(()) } else { Err(InvalidValue::Save) }),
    Param::new("hash-max-listpack-entries", Runtime, |c| c.hash_max_listpack_entries.to_string(),
        |c, v| integer(v, 0, SIZE_MAX).map(|n| c.hash_max_listpack_entries = n as usize))
        .alias("hash-max-ziplist-entries"),
    Param::new("hash-max-listpack-value", Runtime, |c| c.hash_max_listpack_value.to_string(),
        |c, v| memory(v, 0, SIZE_MAX as u64).map(|n| c.hash_max_listpack_value = n as usize))
        .alias("hash-max-ziplist-value"),
    Param::new("set-max-intset-entries", Runtime, |c| c.set_max_intset_entries.to_string(),
        |c, v| integer(v, 0, SIZE_MAX).map(|n| c.set_max_intset_entries = n as usize)),
    Param::new("set-max-listpack-entries", Runtime, |c| c.set_max_listpack_entries.to_string(),
        |c, v| integer(v, 0, SIZE_MAX).map(|n| c.set_max_listpack_entries = n as usize)),
    Param::new("set-max-listpack-value", Runtime, |c| c.set_max_listpack_value.to_string(),
        |c, v| memory(v, 0, SIZE_MAX as u64).map(|n| c.set_max_listpack_value = n as usize)),
    Param::new("zset-max-listpack-entries", Runtime, |c| c.zset_max_listpack_entries.to_string(),
        |c, v| integer(v, 0, SIZE_MAX).map(|n| c.zset_max_listpack_entries = n as usize))
        .alias("zset-max-ziplist-entries"),
    Param::new("zset-max-listpack-value", Runtime, |c| c.zset_max_listpack_value.to_string(),
        |c, v| memory(v, 0, SIZE_MAX as u64).map(|n| c.zset_max_listpack_value = n as usize))
        .alias("zset-max-ziplist-value"),
    Param::new("list-max-listpack-size", Runtime, |c| c.list_max_listpack_size.to_string(),
        |c, v| integer(v, i32::MIN.into(), i32::MAX.into()).map(|n| c.list_max_listpack_size = n as i32))
        .alias("list-max-ziplist-size"),
];

/// The policy options a `namespace` directive (or `SESSION.NAMESPACE CREATE|CONFIG`) accepts.
pub const NAMESPACE_OPTIONS: &[&str] = &[
    "max-sessions-per-user",
    "on-limit",
    "idle-timeout",
    "absolute-timeout",
    "recovery-window",
    "max-session-bytes",
];

/// Longest timeout in seconds, so that it still fits in `i64` milliseconds.
const MAX_SECONDS: i64 = i64::MAX / 1000;

/// Finds a parameter by name or alias, ignoring case.
fn lookup(name: &str) -> Option<&'static Param> {
    PARAMS
        .iter()
        .find(|p| p.names().any(|n| n.eq_ignore_ascii_case(name)))
}

impl Default for Config {
    fn default() -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            bind: vec!["127.0.0.1".to_string()],
            port: 6379,
            tls_port: 0,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_auth_clients: TlsAuthClients::Yes,
            protected_mode: true,
            requirepass: None,
            users: Vec::new(),
            databases: 16,
            maxclients: 10_000,
            enable_debug_command: ProtectedAction::No,
            tcp_backlog: 511,
            timeout: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            maxmemory_samples: 5,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            dir: PathBuf::from("."),
            appendonly: true,
            appendfsync: AppendFsync::EverySec,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            aof_load_truncated: true,
            hz: 100,
            notify_keyspace_events: NotifyFlags::default(),
            output_limits: OutputLimits::default(),
            metrics_port: 9121,
            loglevel: LogLevel::Notice,
            namespaces: Vec::new(),
            threads: (cores / 2).max(1),
            shards: 16 * cores,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            config_file: None,
        }
    }
}

impl Config {
    /// The threshold of the packed list encoding (`list-max-listpack-size`).
    pub fn list_limits(&self) -> crate::store::ListLimits {
        crate::store::ListLimits {
            max_packed_size: self.list_max_listpack_size,
        }
    }

    /// The thresholds of the packed hash encoding (`hash-max-listpack-entries`, `-value`).
    pub fn hash_limits(&self) -> crate::store::HashLimits {
        crate::store::HashLimits {
            max_packed_entries: self.hash_max_listpack_entries,
            max_packed_value: self.hash_max_listpack_value,
        }
    }

    /// The thresholds of the compact set encodings (`set-max-intset-entries`,
    /// `set-max-listpack-entries`, `-value`).
    pub fn set_limits(&self) -> crate::store::SetLimits {
        crate::store::SetLimits {
            max_intset_entries: self.set_max_intset_entries,
            max_packed_entries: self.set_max_listpack_entries,
            max_packed_value: self.set_max_listpack_value,
        }
    }

    /// The thresholds of the packed sorted set encoding (`zset-max-listpack-entries`,
    /// `-value`).
    pub fn zset_limits(&self) -> crate::store::ZsetLimits {
        crate::store::ZsetLimits {
            max_packed_entries: self.zset_max_listpack_entries,
            max_packed_value: self.zset_max_listpack_value,
        }
    }

    /// Builds the configuration from `sessiond`'s arguments (without the program name):
    /// `[CONFIG_FILE] [--directive value ...]`. The file, if the first argument does not start
    /// with `--`, is applied first; each `--directive` takes the arguments up to the next `--`
    /// and is applied after it, so flags win. Errors name the file and line, or the command line.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut rest = args;
        if let Some((first, after)) = args.split_first()
            && !first.starts_with("--")
        {
            config.load_file(Path::new(first))?;
            rest = after;
        }
        while let Some((flag, after)) = rest.split_first() {
            let Some(name) = flag.strip_prefix("--") else {
                let problem = Problem::UnexpectedArgument(flag.clone());
                return Err(ConfigError::CommandLine(Box::new(problem)));
            };
            let count = after
                .iter()
                .position(|a| a.starts_with("--"))
                .unwrap_or(after.len());
            let (values, next) = after.split_at(count);
            config
                .apply(name, values)
                .map_err(|problem| ConfigError::CommandLine(Box::new(problem)))?;
            rest = next;
        }
        Ok(config)
    }

    /// Reads a redis.conf-syntax file and applies its directives in order.
    fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let at = |line: usize, problem: Problem| ConfigError::File {
            file: path.display().to_string(),
            line,
            problem: Box::new(problem),
        };
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = raw.trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let words = split_args(line)
                .ok_or(Problem::UnbalancedQuotes)
                .and_then(|words| {
                    words
                        .into_iter()
                        .map(|w| String::from_utf8(w).map_err(|_| Problem::NotUtf8))
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(|problem| at(index + 1, problem))?;
            if let Some((name, values)) = words.split_first() {
                self.apply(name, values).map_err(|p| at(index + 1, p))?;
            }
        }
        self.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.into()));
        Ok(())
    }

    /// Applies one directive from a file or the command line; mutability does not matter here.
    fn apply(&mut self, name: &str, values: &[String]) -> Result<(), Problem> {
        let directive = name.to_ascii_lowercase();
        match directive.as_str() {
            "user" => return self.add_user(values),
            "namespace" => return self.add_namespace(values),
            _ => {}
        }
        let param = lookup(&directive).ok_or_else(|| Problem::UnknownDirective(name.into()))?;
        let value = match (param.arity, values) {
            (Arity::One, [value]) => value.clone(),
            (Arity::OneOrMore, [_, ..]) => values.join(" "),
            (arity, _) => {
                return Err(Problem::WrongArgCount {
                    directive,
                    expected: match arity {
                        Arity::One => "1 argument",
                        Arity::OneOrMore => "1 or more arguments",
                    },
                });
            }
        };
        (param.set)(self, &value).map_err(|reason| Problem::InvalidValue {
            directive,
            value,
            reason,
        })
    }

    /// `user NAME PASSWORD NAMESPACE[,NAMESPACE...]|*`; a later definition of the same user
    /// replaces the earlier one, so a `--user` flag overrides the file.
    fn add_user(&mut self, values: &[String]) -> Result<(), Problem> {
        let [name, password, access] = values else {
            return Err(Problem::WrongArgCount {
                directive: "user".into(),
                expected: "NAME PASSWORD NAMESPACE[,NAMESPACE...]|*",
            });
        };
        let invalid = |value: &str, reason| Problem::InvalidValue {
            directive: "user".into(),
            value: value.into(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid(name, InvalidValue::Empty));
        }
        if name == "default" {
            return Err(invalid(name, InvalidValue::DefaultUser));
        }
        if password.is_empty() {
            return Err(invalid(password, InvalidValue::Empty));
        }
        let namespaces = if access == "*" {
            NamespaceAccess::All
        } else {
            let list = access
                .split(',')
                .map(|ns| check_namespace_name(ns).map(|()| ns.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|reason| invalid(access, reason))?;
            NamespaceAccess::List(list)
        };
        let user = UserSpec {
            name: name.clone(),
            password: password.clone(),
            namespaces,
        };
        match self.users.iter_mut().find(|u| u.name == user.name) {
            Some(existing) => *existing = user,
            None => self.users.push(user),
        }
        Ok(())
    }

    /// `namespace NAME [option value ...]`; declaring a namespace again adds to its options
    /// (a repeated option takes the later value), so a `--namespace` flag overrides the file.
    fn add_namespace(&mut self, values: &[String]) -> Result<(), Problem> {
        let Some((name, pairs)) = values.split_first() else {
            return Err(namespace_usage());
        };
        if pairs.len() % 2 != 0 {
            return Err(namespace_usage());
        }
        check_namespace_name(name).map_err(|reason| Problem::InvalidValue {
            directive: "namespace".into(),
            value: name.clone(),
            reason,
        })?;
        let index = match self.namespaces.iter().position(|ns| &ns.name == name) {
            Some(index) => index,
            None => {
                self.namespaces.push(NamespaceSpec {
                    name: name.clone(),
                    options: Vec::new(),
                });
                self.namespaces.len() - 1
            }
        };
        for pair in pairs.chunks_exact(2) {
            let (option, value) = (pair[0].to_ascii_lowercase(), &pair[1]);
            parse_namespace_option(&option, value).map_err(|error| Problem::NamespaceOption {
                namespace: name.clone(),
                error,
            })?;
            let options = &mut self.namespaces[index].options;
            match options.iter_mut().find(|(o, _)| *o == option) {
                Some(existing) => existing.1 = value.clone(),
                None => options.push((option, value.clone())),
            }
        }
        Ok(())
    }

    /// `CONFIG GET pattern`: `(name, value)` for every parameter (or alias) whose name matches
    /// the glob, case-insensitively, in table order. A pattern without glob characters is looked
    /// up directly and answered under the spelling the client used, as Redis does.
    pub fn get(&self, pattern: &str) -> Vec<(String, String)> {
        self.get_many(&[pattern])
    }

    /// `CONFIG GET pattern [pattern ...]` (Redis 7): the matches of each pattern in turn,
    /// each name at most once.
    pub fn get_many(&self, patterns: &[&str]) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str, param: &Param| {
            if !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                found.push((name.to_string(), (param.get)(self)));
            }
        };
        for pattern in patterns {
            if !pattern.contains(['*', '?', '[']) {
                if let Some(param) = lookup(pattern) {
                    add(pattern, param);
                }
                continue;
            }
            for param in PARAMS {
                for name in param.names() {
                    if glob_match(pattern.as_bytes(), name.as_bytes(), true) {
                        add(name, param);
                    }
                }
            }
        }
        found
    }

    /// `CONFIG SET name value` at run time. On error nothing changes and the error displays as
    /// Redis's full reply text.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.set_many(&[(name, value)])
    }

    /// `CONFIG SET name value [name value ...]` (Redis 7): all or nothing. Names are checked
    /// first, in order (unknown, immutable, duplicate — the first problem is reported), then the
    /// values; a bad value leaves the configuration as it was.
    pub fn set_many(&mut self, pairs: &[(&str, &str)]) -> Result<(), ConfigError> {
        let mut params: Vec<&'static Param> = Vec::with_capacity(pairs.len());
        for &(name, _) in pairs {
            let param = lookup(name).ok_or_else(|| ConfigError::UnknownOption(name.into()))?;
            let refusal = if param.mutability == StartUp {
                Some(SetRefusal::Immutable)
            } else if params.iter().any(|p| std::ptr::eq(*p, param)) {
                Some(SetRefusal::Duplicate)
            } else {
                None
            };
            if let Some(reason) = refusal {
                return Err(ConfigError::SetFailed {
                    name: name.into(),
                    reason,
                });
            }
            params.push(param);
        }
        let mut next = self.clone();
        for (param, &(name, value)) in params.iter().zip(pairs) {
            (param.set)(&mut next, value).map_err(|reason| ConfigError::SetFailed {
                name: name.to_ascii_lowercase(),
                reason: SetRefusal::Invalid(reason),
            })?;
        }
        *self = next;
        Ok(())
    }
}

/// The usage error of a `namespace` directive with a dangling option.
fn namespace_usage() -> Problem {
    Problem::WrongArgCount {
        directive: "namespace".into(),
        expected: "NAME [option value ...]",
    }
}

/// One namespace policy option with its value parsed (seconds and bytes as given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicySetting {
    /// `max-sessions-per-user`: 0 = no cap.
    MaxSessionsPerUser(u64),
    /// `on-limit`: what CREATE does over the cap.
    OnLimit(OnLimit),
    /// `idle-timeout` in seconds.
    IdleTimeout(u64),
    /// `absolute-timeout` in seconds; 0 = none.
    AbsoluteTimeout(u64),
    /// `recovery-window` in seconds; 0 = ended sessions are gone at once.
    RecoveryWindow(u64),
    /// `max-session-bytes`.
    MaxSessionBytes(u64),
}

/// `on-limit`: what a CREATE over the user's cap does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLimit {
    /// End the user's oldest session (reason `evicted`) to make room.
    EvictOldest,
    /// Refuse with `-SESSIONLIMIT`.
    Reject,
}

/// Parses one namespace policy option and its value: the names in [`NAMESPACE_OPTIONS`],
/// timeouts and counts as non-negative integers, `on-limit` as `evict-oldest` or `reject`,
/// `max-session-bytes` as a memory value. `option` must be lower-case.
pub fn parse_namespace_option(
    option: &str,
    value: &str,
) -> Result<PolicySetting, NamespaceOptionError> {
    let seconds = |v| integer(v, 0, MAX_SECONDS).map(|n| n as u64);
    let parsed = match option {
        "max-sessions-per-user" => {
            integer(value, 0, i64::MAX).map(|n| PolicySetting::MaxSessionsPerUser(n as u64))
        }
        "on-limit" => one_of(
            value,
            &[
                ("evict-oldest", OnLimit::EvictOldest),
                ("reject", OnLimit::Reject),
            ],
        )
        .map(PolicySetting::OnLimit),
        "idle-timeout" => seconds(value).map(PolicySetting::IdleTimeout),
        "absolute-timeout" => seconds(value).map(PolicySetting::AbsoluteTimeout),
        "recovery-window" => seconds(value).map(PolicySetting::RecoveryWindow),
        "max-session-bytes" => {
            memory(value, 0, i64::MAX as u64).map(PolicySetting::MaxSessionBytes)
        }
        _ => return Err(NamespaceOptionError::Unknown(option.into())),
    };
    parsed.map_err(|reason| NamespaceOptionError::Invalid {
        option: option.into(),
        value: value.into(),
        reason,
    })
}

/// A namespace name must be non-empty and free of `,` (the list separator of `user`) and `*`;
/// the same rule holds for `SESSION.NAMESPACE CREATE`.
pub fn check_namespace_name(name: &str) -> Result<(), InvalidValue> {
    if name.is_empty() || name.contains([',', '*']) {
        Err(InvalidValue::NamespaceName(name.into()))
    } else {
        Ok(())
    }
}

/// Parses a Redis memory value: digits then an optional unit, `b`, `k` (1000), `kb` (1024),
/// `m`, `mb`, `g`, `gb`, case-insensitive; `None` for anything else or on overflow. Like
/// Redis, an empty number counts as 0 (`""` and `"kb"` are 0).
pub fn parse_memory(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let number: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    number.checked_mul(multiplier)
}

/// Parses a strict decimal integer (Redis's `string2ll`: optional `-`, no `+`, no leading
/// zeros, no spaces) within `min..=max`.
fn integer(s: &str, min: i64, max: i64) -> Result<i64, InvalidValue> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (!digits.starts_with('0') || s == "0");
    let value: i64 = canonical
        .then(|| s.parse().ok())
        .flatten()
        .ok_or(InvalidValue::NotInteger)?;
    in_range(value.into(), min.into(), max.into()).map(|()| value)
}

/// Parses a memory value (see [`parse_memory`]) within `min..=max`.
fn memory(s: &str, min: u64, max: u64) -> Result<u64, InvalidValue> {
    let value = parse_memory(s).ok_or(InvalidValue::NotMemory)?;
    in_range(value.into(), min.into(), max.into()).map(|()| value)
}

/// Redis's range check and message.
fn in_range(value: i128, min: i128, max: i128) -> Result<(), InvalidValue> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(InvalidValue::OutOfRange { min, max })
    }
}

/// Parses `yes`/`no`, case-insensitive.
fn boolean(s: &str) -> Result<bool, InvalidValue> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(InvalidValue::NotYesNo)
    }
}

/// Refuses an empty value.
fn non_empty(s: &str) -> Result<&str, InvalidValue> {
    if s.is_empty() {
        Err(InvalidValue::Empty)
    } else {
        Ok(s)
    }
}

/// Prints a boolean as Redis does.
fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Parses one of an enum's names, case-insensitive.
fn one_of<T: Copy>(s: &str, choices: &[(&str, T)]) -> Result<T, InvalidValue> {
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, value)| value)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|&(name, _)| name).collect();
            InvalidValue::NotOneOf(names.join(", "))
        })
}

/// Parses a space-separated list of IP addresses.
fn parse_bind(s: &str) -> Result<Vec<String>, InvalidValue> {
    let addresses: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if addresses.is_empty() {
        return Err(InvalidValue::NotIpAddress(s.into()));
    }
    match addresses.iter().find(|a| a.parse::<IpAddr>().is_err()) {
        Some(bad) => Err(InvalidValue::NotIpAddress(bad.clone())),
        None => Ok(addresses),
    }
}

/// A file name directive's value: an empty one means none, as in Redis.
fn optional_path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// A file name as `CONFIG GET` shows it: as given, or empty when there is none.
fn path_or_empty(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(String::new, |path| path.display().to_string())
}

/// `dir` as `CONFIG GET` shows it: absolute, as Redis does (it reports its working directory).
fn absolute(dir: &Path) -> String {
    std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A config file in the temp directory, removed when dropped.
    struct TempConf(PathBuf);

    impl TempConf {
        fn new(contents: &[u8]) -> TempConf {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "sessiond-config-test-{}-{}.conf",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, contents).expect("write temp config");
            TempConf(path)
        }

        fn arg(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for TempConf {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn load(contents: &str) -> Result<Config, String> {
        let file = TempConf::new(contents.as_bytes());
        Config::from_args(&[file.arg()]).map_err(|e| {
            let text = e.to_string();
            // Strip the temp path so tests can compare "LINE: problem".
            text.strip_prefix(&format!("{}:", file.arg()))
                .unwrap_or(&text)
                .to_string()
        })
    }

    fn loaded(contents: &str) -> Config {
        load(contents).unwrap_or_else(|e| panic!("{contents:?} should load: {e}"))
    }

    fn words(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|ws| {
            ws.into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect()
        })
    }

    fn set_error(config: &mut Config, name: &str, value: &str) -> String {
        match config.set(name, value) {
            Ok(()) => panic!("CONFIG SET {name} {value:?} should fail"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        let config = Config::from_args(&[]).expect("defaults");
        assert_eq!(config, Config::default());
        assert_eq!(config.bind, ["127.0.0.1"]);
        assert_eq!(config.port, 6379);
        assert_eq!(config.proto_max_bulk_len, 536_870_912);
        assert_eq!(config.auto_aof_rewrite_min_size, 67_108_864);
        assert_eq!(config.appendfsync, AppendFsync::EverySec);
        assert_eq!(config.loglevel, LogLevel::Notice);
        assert!(config.appendonly && config.protected_mode && config.aof_load_truncated);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(config.threads, (cores / 2).max(1));
        assert_eq!(config.shards, 16 * cores);
        assert_eq!(config.config_file, None);
    }

    /// The `masteruser` splits were recorded by loading each line into a real redis-server
    /// 7.0.15 and reading back `CONFIG GET masteruser`.
    #[test]
    fn splits_arguments_like_redis() {
        #[rustfmt::skip]
        let cases: &[(&str, &[&str])] = &[
            (r#"masteruser "a b\x41\n\t\\\"q\b\a""#, &["masteruser", "a bA\n\t\\\"q\x08\x07"]),
            (r"masteruser 'it\'s a\nb'", &["masteruser", "it's a\\nb"]),
            (r#"masteruser "\xZZ""#, &["masteruser", "xZZ"]),
            (r#"masteruser "\x4""#, &["masteruser", "x4"]),
            (r#"masteruser "\x4a\x4B""#, &["masteruser", "JK"]),
            (r#"masteruser a"""#, &["masteruser", "a"]),
            (r#"masteruser a"b c""#, &["masteruser", "ab c"]),
            ("masteruser a'b'", &["masteruser", "ab"]),
            (r#"masteruser """#, &["masteruser", ""]),
            (r#"masteruser "\q""#, &["masteruser", "q"]),
            ("  a\t\tb \x0b ", &["a", "b"]),
            ("", &[]),
        ];
        for &(line, expected) in cases {
            let expected: Vec<String> = expected.iter().map(|w| w.to_string()).collect();
            assert_eq!(words(line), Some(expected), "{line:?}");
        }
    }

    #[test]
    fn unbalanced_quotes_are_refused() {
        for line in [
            r#"requirepass "abc"#,
            "requirepass 'abc",
            r#"requirepass "abc"def"#,
            "requirepass 'abc'def",
            r#"requirepass "abc\""#,
            r#"requirepass "abc\"#,
        ] {
            assert_eq!(words(line), None, "{line:?}");
        }
        assert_eq!(
            load("port 6380\nrequirepass \"abc\n"),
            Err("2: Unbalanced quotes in configuration line".into())
        );
    }

    #[test]
    fn file_errors_name_the_file_and_line() {
        let file = TempConf::new(b"# comment\n\nport 6380\n  fooo bar\n");
        let err = Config::from_args(&[file.arg()]).expect_err("unknown directive");
        assert_eq!(
            err.to_string(),
            format!("{}:4: unknown directive 'fooo'", file.arg())
        );
        assert!(matches!(err, ConfigError::File { line: 4, .. }));
    }

    #[test]
    fn bad_values_and_argument_counts_are_refused_with_the_reason() {
        #[rustfmt::skip]
        let cases = [
            ("port abc", "1: invalid value 'abc' for 'port': argument couldn't be parsed into an integer"),
            ("port 70000", "1: invalid value '70000' for 'port': argument must be between 0 and 65535 inclusive"),
            ("timeout -1", "1: invalid value '-1' for 'timeout': argument must be between 0 and 2147483647 inclusive"),
            ("timeout 007", "1: invalid value '007' for 'timeout': argument couldn't be parsed into an integer"),
            ("maxmemory 1.5mb", "1: invalid value '1.5mb' for 'maxmemory': argument must be a memory value"),
            ("appendonly maybe", "1: invalid value 'maybe' for 'appendonly': argument must be 'yes' or 'no'"),
            ("appendfsync sometimes", "1: invalid value 'sometimes' for 'appendfsync': argument(s) must be one of the following: everysec, always, no"),
            ("notify-keyspace-events KEQ", "1: invalid value 'KEQ' for 'notify-keyspace-events': Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
            ("bind 127.0.0.1 localhost", "1: invalid value '127.0.0.1 localhost' for 'bind': 'localhost' is not an IP address"),
            ("databases 0", "1: invalid value '0' for 'databases': argument must be between 1 and 2147483647 inclusive"),
            ("shards 0", "1: invalid value '0' for 'shards': argument must be between 1 and 65536 inclusive"),
            ("dir \"\"", "1: invalid value '' for 'dir': argument must not be empty"),
            ("save \"3600 1\"", "1: invalid value '3600 1' for 'save': Invalid save parameters"),
            ("port 1 2", "1: wrong number of arguments for 'port': expected 1 argument"),
            ("Port", "1: wrong number of arguments for 'port': expected 1 argument"),
            ("bind", "1: wrong number of arguments for 'bind': expected 1 or more arguments"),
            ("masteruser x", "1: unknown directive 'masteruser'"),
            ("requirepass \"\\xff\"", "1: argument is not valid UTF-8"),
        ];
        for (line, expected) in cases {
            assert_eq!(load(line), Err(expected.to_string()), "{line:?}");
        }
    }

    #[test]
    fn directives_are_case_insensitive_and_lines_trimmed() {
        let config = loaded(
            "PORT 6380\r\n\tMaxMemory 1GB  \r\n   # indented comment\r\nHash-Max-Ziplist-Entries 7\n",
        );
        assert_eq!(config.port, 6380);
        assert_eq!(config.maxmemory, 1 << 30);
        assert_eq!(config.hash_max_listpack_entries, 7);
    }

    #[test]
    fn memory_units_are_redis_units() {
        #[rustfmt::skip]
        let cases = [
            ("0", Some(0)),
            ("123", Some(123)),
            ("1b", Some(1)),
            ("1k", Some(1000)),
            ("1K", Some(1000)),
            ("1kb", Some(1024)),
            ("1KB", Some(1024)),
            ("2m", Some(2_000_000)),
            ("2mb", Some(2 << 20)),
            ("1Gb", Some(1 << 30)),
            ("3g", Some(3_000_000_000)),
            ("007k", Some(7000)),
            ("", Some(0)),
            ("kb", Some(0)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("17179869184gb", None),
            ("1.5mb", None),
            ("-1", None),
            ("1 k", None),
            ("1t", None),
            ("+1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_memory(text), expected, "{text:?}");
        }
    }

    #[test]
    fn command_line_flags_override_the_file() {
        let file = TempConf::new(b"port 7000\nloglevel warning\nbind 10.0.0.1\n");
        let config = Config::from_args(&args(&[
            &file.arg(),
            "--port",
            "7001",
            "--bind",
            "127.0.0.1",
            "::1",
            "--save",
            "",
            "--notify-keyspace-events",
            "Ex",
        ]))
        .expect("valid");
        assert_eq!(config.port, 7001);
        assert_eq!(config.loglevel, LogLevel::Warning);
        assert_eq!(config.bind, ["127.0.0.1", "::1"]);
        assert_eq!(config.notify_keyspace_events.to_string(), "xE");
        assert_eq!(
            config.config_file,
            Some(std::path::absolute(&file.0).expect("absolute"))
        );
    }

    #[test]
    fn command_line_without_file_and_its_errors() {
        let config = Config::from_args(&args(&["--port", "0", "--list-max-listpack-size", "-5"]))
            .expect("valid");
        assert_eq!(config.port, 0);
        assert_eq!(config.list_max_listpack_size, -5);
        assert_eq!(config.config_file, None);
        #[rustfmt::skip]
        let cases: &[(&[&str], &str)] = &[
            (&["--port"], "command line: wrong number of arguments for 'port': expected 1 argument"),
            (&["--port", "1", "2"], "command line: wrong number of arguments for 'port': expected 1 argument"),
            (&["--prot", "1"], "command line: unknown directive 'prot'"),
            (&["--hz", "x"], "command line: invalid value 'x' for 'hz': argument couldn't be parsed into an integer"),
            (&["--port", "1", "stray", "--hz"], "command line: wrong number of arguments for 'port': expected 1 argument"),
        ];
        for &(list, expected) in cases {
            let err = Config::from_args(&args(list)).expect_err("invalid");
            assert_eq!(err.to_string(), expected, "{list:?}");
        }
        let file = TempConf::new(b"port 7000\n");
        let err = Config::from_args(&args(&[&file.arg(), "stray", "--port", "1"]))
            .expect_err("stray argument");
        assert_eq!(
            err.to_string(),
            "command line: unexpected argument 'stray' (directives are given as --name value ...)"
        );
        let missing = std::env::temp_dir().join("sessiond-no-such-file.conf");
        let err = Config::from_args(&[missing.display().to_string()]).expect_err("missing");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot read config file '{}': ",
                missing.display()
            )),
            "{text}"
        );
        assert!(matches!(err, ConfigError::Read { .. }));
    }

    #[test]
    fn users_repeat_and_later_definitions_replace() {
        let file =
            TempConf::new(b"user alice pw1 shop,blog\nuser admin 'p w' *\nuser alice pw2 shop\n");
        let config = Config::from_args(&args(&[&file.arg(), "--user", "bob", "pw3", "blog"]))
            .expect("valid");
        let users: Vec<(&str, &str, &NamespaceAccess)> = config
            .users
            .iter()
            .map(|u| (u.name.as_str(), u.password.as_str(), &u.namespaces))
            .collect();
        let shop = NamespaceAccess::List(vec!["shop".into()]);
        let blog = NamespaceAccess::List(vec!["blog".into()]);
        assert_eq!(
            users,
            [
                ("alice", "pw2", &shop),
                ("admin", "p w", &NamespaceAccess::All),
                ("bob", "pw3", &blog)
            ]
        );
        #[rustfmt::skip]
        let cases = [
            ("user alice pw", "1: wrong number of arguments for 'user': expected NAME PASSWORD NAMESPACE[,NAMESPACE...]|*"),
            ("user alice pw shop,,blog", "1: invalid value 'shop,,blog' for 'user': '' is not a valid namespace name (it must be non-empty, without ',' or '*')"),
            ("user alice pw shop,*", "1: invalid value 'shop,*' for 'user': '*' is not a valid namespace name (it must be non-empty, without ',' or '*')"),
            ("user alice \"\" shop", "1: invalid value '' for 'user': argument must not be empty"),
            ("user default pw *", "1: invalid value 'default' for 'user': 'default' is the default user; set its password with requirepass"),
        ];
        for (line, expected) in cases {
            assert_eq!(load(line), Err(expected.to_string()), "{line:?}");
        }
    }

    #[test]
    fn namespaces_repeat_and_merge_options() {
        let file = TempConf::new(
            b"namespace shop Max-Sessions-Per-User 5 on-limit reject\nnamespace blog\nnamespace shop idle-timeout 60\n",
        );
        let config = Config::from_args(&args(&[
            &file.arg(),
            "--namespace",
            "shop",
            "max-sessions-per-user",
            "3",
        ]))
        .expect("valid");
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|&(o, v)| (o.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            config.namespaces,
            [
                NamespaceSpec {
                    name: "shop".into(),
                    options: pairs(&[
                        ("max-sessions-per-user", "3"),
                        ("on-limit", "reject"),
                        ("idle-timeout", "60")
                    ]),
                },
                NamespaceSpec {
                    name: "blog".into(),
                    options: Vec::new(),
                },
            ]
        );
        #[rustfmt::skip]
        let cases = [
            ("namespace", "1: wrong number of arguments for 'namespace': expected NAME [option value ...]"),
            ("namespace shop idle-timeout", "1: wrong number of arguments for 'namespace': expected NAME [option value ...]"),
            ("namespace shop,x", "1: invalid value 'shop,x' for 'namespace': 'shop,x' is not a valid namespace name (it must be non-empty, without ',' or '*')"),
            ("namespace shop idle 5", "1: namespace 'shop': unknown namespace option 'idle' (options: max-sessions-per-user, on-limit, idle-timeout, absolute-timeout, recovery-window, max-session-bytes)"),
            ("namespace shop idle-timeout 5m", "1: namespace 'shop': invalid value '5m' for 'idle-timeout': argument couldn't be parsed into an integer"),
            ("namespace shop max-sessions-per-user -1", "1: namespace 'shop': invalid value '-1' for 'max-sessions-per-user': argument must be between 0 and 9223372036854775807 inclusive"),
            ("namespace shop on-limit drop", "1: namespace 'shop': invalid value 'drop' for 'on-limit': argument(s) must be one of the following: evict-oldest, reject"),
            ("namespace shop max-session-bytes lots", "1: namespace 'shop': invalid value 'lots' for 'max-session-bytes': argument must be a memory value"),
            ("namespace shop recovery-window 9223372036854776", "1: namespace 'shop': invalid value '9223372036854776' for 'recovery-window': argument must be between 0 and 9223372036854775 inclusive"),
        ];
        for (line, expected) in cases {
            assert_eq!(load(line), Err(expected.to_string()), "{line:?}");
        }
        assert_eq!(
            parse_namespace_option("max-session-bytes", "2kb"),
            Ok(PolicySetting::MaxSessionBytes(2048))
        );
        assert_eq!(
            parse_namespace_option("on-limit", "EVICT-OLDEST"),
            Ok(PolicySetting::OnLimit(OnLimit::EvictOldest))
        );
    }

    /// Formats recorded with `CONFIG GET` on a real redis-server 7.0.15.
    #[test]
    fn config_get_formats_like_redis() {
        let config = Config {
            bind: vec!["127.0.0.1".into(), "::1".into()],
            maxmemory: 1 << 30,
            ..Config::default()
        };
        let get = |pattern: &str| config.get(pattern);
        let one = |name: &str, value: &str| vec![(name.to_string(), value.to_string())];
        assert_eq!(get("maxmemory"), one("maxmemory", "1073741824"));
        assert_eq!(
            get("proto-max-bulk-len"),
            one("proto-max-bulk-len", "536870912")
        );
        assert_eq!(
            get("auto-aof-rewrite-min-size"),
            one("auto-aof-rewrite-min-size", "67108864")
        );
        assert_eq!(get("bind"), one("bind", "127.0.0.1 ::1"));
        assert_eq!(get("requirepass"), one("requirepass", ""));
        assert_eq!(get("appendonly"), one("appendonly", "yes"));
        assert_eq!(get("appendfsync"), one("appendfsync", "everysec"));
        assert_eq!(get("loglevel"), one("loglevel", "notice"));
        assert_eq!(
            get("notify-keyspace-events"),
            one("notify-keyspace-events", "")
        );
        assert_eq!(get("save"), one("save", ""));
        assert_eq!(
            get("list-max-ziplist-size"),
            one("list-max-ziplist-size", "-2")
        );
        assert_eq!(get("HZ"), one("HZ", "100"));
        assert_eq!(get("user"), []);
        assert_eq!(get("namespace"), []);
        assert_eq!(get("nosuch*"), []);
        let dir = get("dir");
        assert!(
            dir.len() == 1 && Path::new(&dir[0].1).is_absolute(),
            "{dir:?}"
        );
    }

    #[test]
    fn config_get_globs_in_table_order_without_duplicates() {
        let config = Config::default();
        let names = |patterns: &[&str]| -> Vec<String> {
            config
                .get_many(patterns)
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        };
        assert_eq!(
            names(&["hash-max-*"]),
            [
                "hash-max-listpack-entries",
                "hash-max-ziplist-entries",
                "hash-max-listpack-value",
                "hash-max-ziplist-value"
            ]
        );
        assert_eq!(
            names(&["*-MAX-ZIPLIST-*"]),
            [
                "hash-max-ziplist-entries",
                "hash-max-ziplist-value",
                "zset-max-ziplist-entries",
                "zset-max-ziplist-value",
                "list-max-ziplist-size"
            ]
        );
        assert_eq!(names(&["H?"]), ["hz"]);
        assert_eq!(names(&["*max*memory"]), ["maxmemory"]);
        assert_eq!(
            names(&["port", "hz", "port", "PORT", "p?rt"]),
            ["port", "hz"]
        );
        assert_eq!(names(&["time*"]), ["timeout"]);
        let everything = names(&["*"]);
        assert_eq!(everything.first().map(String::as_str), Some("bind"));
        let mut unique = everything.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), everything.len());
        assert_eq!(
            everything.len(),
            PARAMS.iter().map(|p| p.names().count()).sum()
        );
    }

    /// Every reply text below was produced by a real redis-server 7.0.15 for the same command,
    /// except `loglevel`, whose list ends in `nothing` as in Redis 7.2 (7.0 lacks that level).
    #[test]
    fn config_set_errors_are_redis_texts() {
        let mut config = Config::default();
        let prefix = |name: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - ")
        };
        #[rustfmt::skip]
        let cases = [
            ("foo", "bar", "ERR Unknown option or number of arguments for CONFIG SET - 'foo'".to_string()),
            ("FOOO", "1", "ERR Unknown option or number of arguments for CONFIG SET - 'FOOO'".to_string()),
            ("databases", "3", prefix("databases") + "can't set immutable config"),
            ("DATABASES", "3", prefix("DATABASES") + "can't set immutable config"),
            ("maxmemory", "abc", prefix("maxmemory") + "argument must be a memory value"),
            ("maxmemory", "-1", prefix("maxmemory") + "argument must be a memory value"),
            ("maxmemory", "1.5mb", prefix("maxmemory") + "argument must be a memory value"),
            ("timeout", "abc", prefix("timeout") + "argument couldn't be parsed into an integer"),
            ("timeout", "-1", prefix("timeout") + "argument must be between 0 and 2147483647 inclusive"),
            ("timeout", "2147483648", prefix("timeout") + "argument must be between 0 and 2147483647 inclusive"),
            ("timeout", "007", prefix("timeout") + "argument couldn't be parsed into an integer"),
            ("timeout", "+5", prefix("timeout") + "argument couldn't be parsed into an integer"),
            ("timeout", " 5", prefix("timeout") + "argument couldn't be parsed into an integer"),
            ("timeout", "-0", prefix("timeout") + "argument couldn't be parsed into an integer"),
            ("timeout", "99999999999999999999", prefix("timeout") + "argument couldn't be parsed into an integer"),
            ("maxclients", "abc", prefix("maxclients") + "argument couldn't be parsed into an integer"),
            ("maxclients", "0", prefix("maxclients") + "argument must be between 1 and 4294967295 inclusive"),
            ("maxclients", "4294967296", prefix("maxclients") + "argument must be between 1 and 4294967295 inclusive"),
            ("hz", "abc", prefix("hz") + "argument couldn't be parsed into an integer"),
            ("HZ", "abc", prefix("hz") + "argument couldn't be parsed into an integer"),
            ("hz", "-1", prefix("hz") + "argument must be between 0 and 2147483647 inclusive"),
            ("loglevel", "foo", prefix("loglevel") + "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"),
            ("appendfsync", "foo", prefix("appendfsync") + "argument(s) must be one of the following: everysec, always, no"),
            ("appendonly", "maybe", prefix("appendonly") + "argument must be 'yes' or 'no'"),
            ("protected-mode", "maybe", prefix("protected-mode") + "argument must be 'yes' or 'no'"),
            ("aof-load-truncated", "x", prefix("aof-load-truncated") + "argument must be 'yes' or 'no'"),
            ("notify-keyspace-events", "Q", prefix("notify-keyspace-events") + "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
            ("Notify-keyspace-events", "Q", prefix("notify-keyspace-events") + "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
            ("proto-max-bulk-len", "10", prefix("proto-max-bulk-len") + "argument must be between 1048576 and 9223372036854775807 inclusive"),
            ("proto-max-bulk-len", "9223372036854775808", prefix("proto-max-bulk-len") + "argument must be between 1048576 and 9223372036854775807 inclusive"),
            ("proto-max-bulk-len", "abc", prefix("proto-max-bulk-len") + "argument must be a memory value"),
            ("auto-aof-rewrite-percentage", "-1", prefix("auto-aof-rewrite-percentage") + "argument must be between 0 and 2147483647 inclusive"),
            ("auto-aof-rewrite-percentage", "abc", prefix("auto-aof-rewrite-percentage") + "argument couldn't be parsed into an integer"),
            ("auto-aof-rewrite-min-size", "abc", prefix("auto-aof-rewrite-min-size") + "argument must be a memory value"),
            ("auto-aof-rewrite-min-size", "18446744073709551615", prefix("auto-aof-rewrite-min-size") + "argument must be between 0 and 9223372036854775807 inclusive"),
            ("hash-max-listpack-entries", "abc", prefix("hash-max-listpack-entries") + "argument couldn't be parsed into an integer"),
            ("hash-max-listpack-entries", "-1", prefix("hash-max-listpack-entries") + "argument must be between 0 and 9223372036854775807 inclusive"),
            ("hash-max-listpack-entries", "9223372036854775808", prefix("hash-max-listpack-entries") + "argument couldn't be parsed into an integer"),
            ("hash-max-listpack-value", "-1", prefix("hash-max-listpack-value") + "argument must be a memory value"),
            ("hash-max-listpack-value", "18446744073709551615", prefix("hash-max-listpack-value") + "argument must be between 0 and 9223372036854775807 inclusive"),
            ("Hash-Max-Ziplist-Entries", "abc", prefix("hash-max-ziplist-entries") + "argument couldn't be parsed into an integer"),
            ("set-max-intset-entries", "abc", prefix("set-max-intset-entries") + "argument couldn't be parsed into an integer"),
            ("set-max-intset-entries", "-1", prefix("set-max-intset-entries") + "argument must be between 0 and 9223372036854775807 inclusive"),
            ("zset-max-listpack-entries", "abc", prefix("zset-max-listpack-entries") + "argument couldn't be parsed into an integer"),
            ("zset-max-listpack-value", "abc", prefix("zset-max-listpack-value") + "argument must be a memory value"),
            ("list-max-listpack-size", "abc", prefix("list-max-listpack-size") + "argument couldn't be parsed into an integer"),
            ("list-max-ziplist-size", "abc", prefix("list-max-ziplist-size") + "argument couldn't be parsed into an integer"),
            ("list-max-listpack-size", "99999999999", prefix("list-max-listpack-size") + "argument must be between -2147483648 and 2147483647 inclusive"),
            ("list-max-listpack-size", "-2147483649", prefix("list-max-listpack-size") + "argument must be between -2147483648 and 2147483647 inclusive"),
            ("save", "abc", prefix("save") + "Invalid save parameters"),
            ("tls-auth-clients", "maybe", prefix("tls-auth-clients") + "argument(s) must be one of the following: no, yes, optional"),
        ];
        for (name, value, expected) in cases {
            assert_eq!(
                set_error(&mut config, name, value),
                expected,
                "{name} {value:?}"
            );
        }
        assert_eq!(config, Config::default(), "failed sets must change nothing");
        for name in [
            "bind",
            "port",
            "tls-port",
            "dir",
            "metrics-port",
            "threads",
            "shards",
        ] {
            assert_eq!(
                set_error(&mut config, name, "1"),
                prefix(name) + "can't set immutable config"
            );
        }
    }

    #[test]
    fn config_set_accepts_what_redis_accepts() {
        let mut config = Config::default();
        let sets = [
            ("maxmemory", "1KB"),
            ("appendonly", "YES"),
            ("loglevel", "NOTICE"),
            ("appendfsync", "Always"),
            ("HZ", "20"),
            ("hash-max-ziplist-entries", "7"),
            ("hash-max-listpack-value", "1kb"),
            ("list-max-listpack-size", "-6"),
            ("requirepass", "s3cret"),
            ("notify-keyspace-events", "KEA"),
            ("save", ""),
            ("timeout", "0"),
        ];
        for (name, value) in sets {
            config
                .set(name, value)
                .unwrap_or_else(|e| panic!("{name} {value:?}: {e}"));
        }
        let get = |name: &str| config.get(name).pop().map(|(_, v)| v);
        assert_eq!(get("maxmemory").as_deref(), Some("1024"));
        assert_eq!(get("appendonly").as_deref(), Some("yes"));
        assert_eq!(get("appendfsync").as_deref(), Some("always"));
        assert_eq!(get("hz").as_deref(), Some("20"));
        assert_eq!(get("hash-max-listpack-entries").as_deref(), Some("7"));
        assert_eq!(get("hash-max-listpack-value").as_deref(), Some("1024"));
        assert_eq!(get("list-max-listpack-size").as_deref(), Some("-6"));
        assert_eq!(get("requirepass").as_deref(), Some("s3cret"));
        assert_eq!(get("notify-keyspace-events").as_deref(), Some("AKE"));
        config.set("requirepass", "").expect("clear password");
        assert_eq!(config.requirepass, None);
        config.set("hz", "0").expect("clamped");
        assert_eq!(config.hz, 1);
        config.set("hz", "1000").expect("clamped");
        assert_eq!(config.hz, 500);
    }

    #[test]
    fn tls_directives_load_print_and_clear() {
        let config = loaded(
            "tls-port 6380\ntls-cert-file /etc/tls/server.crt\ntls-key-file \"/etc/tls/my key.pem\"\n\
             tls-ca-cert-file ca.crt\ntls-auth-clients OPTIONAL\n",
        );
        assert_eq!(config.tls_port, 6380);
        assert_eq!(
            config.tls_key_file,
            Some(PathBuf::from("/etc/tls/my key.pem"))
        );
        assert_eq!(config.tls_auth_clients, TlsAuthClients::Optional);
        let get = |name: &str| config.get(name)[0].1.clone();
        assert_eq!(get("tls-cert-file"), "/etc/tls/server.crt");
        assert_eq!(get("tls-ca-cert-file"), "ca.crt");
        assert_eq!(get("tls-auth-clients"), "optional");
        let defaults = Config::default();
        assert_eq!(defaults.tls_port, 0);
        assert_eq!(defaults.tls_auth_clients, TlsAuthClients::Yes);
        assert_eq!(defaults.get("tls-key-file")[0].1, "");
        let mut cleared = config.clone();
        cleared
            .set_many(&[("tls-ca-cert-file", ""), ("tls-auth-clients", "no")])
            .expect("runtime settings");
        assert_eq!(cleared.tls_ca_cert_file, None);
        assert_eq!(cleared.tls_auth_clients, TlsAuthClients::No);
    }

    #[test]
    fn config_set_many_is_all_or_nothing() {
        let mut config = Config::default();
        let prefix = |name: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - ")
        };
        #[rustfmt::skip]
        let cases: &[(&[(&str, &str)], String)] = &[
            (&[("hz", "5"), ("timeout", "abc")], prefix("timeout") + "argument couldn't be parsed into an integer"),
            (&[("hz", "1"), ("hz", "2")], prefix("hz") + "duplicate parameter"),
            (&[("hz", "1"), ("HZ", "2")], prefix("HZ") + "duplicate parameter"),
            (&[("hash-max-ziplist-entries", "1"), ("hash-max-listpack-entries", "2")], prefix("hash-max-listpack-entries") + "duplicate parameter"),
            (&[("hz", "5"), ("fooo", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'fooo'".into()),
            (&[("fooo", "1"), ("databases", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'fooo'".into()),
            (&[("databases", "1"), ("fooo", "1")], prefix("databases") + "can't set immutable config"),
            (&[("hz", "5"), ("databases", "1")], prefix("databases") + "can't set immutable config"),
            (&[("timeout", "abc"), ("maxmemory", "xyz")], prefix("timeout") + "argument couldn't be parsed into an integer"),
        ];
        for (pairs, expected) in cases {
            let err = config.set_many(pairs).expect_err("invalid");
            assert_eq!(&err.to_string(), expected, "{pairs:?}");
        }
        assert_eq!(config, Config::default());
        config
            .set_many(&[("hz", "5"), ("timeout", "30")])
            .expect("valid");
        assert_eq!((config.hz, config.timeout), (5, 30));
    }

    #[test]
    fn every_value_config_get_prints_parses_back() {
        let mut config = loaded(
            "maxmemory 3gb\nbind 0.0.0.0 ::\nnotify-keyspace-events Egxn\nrequirepass \"a b\"\nloglevel nothing\n",
        );
        let before = config.clone();
        for param in PARAMS {
            let value = (param.get)(&config);
            (param.set)(&mut config, &value)
                .unwrap_or_else(|e| panic!("{} {value:?}: {e}", param.name));
        }
        assert_eq!(config.dir, std::path::absolute(".").expect("cwd"));
        config.dir = before.dir.clone();
        assert_eq!(config, before);
    }

    #[test]
    fn table_names_are_lowercase_unique_and_mutability_is_reported() {
        let mut names: Vec<&str> = PARAMS.iter().flat_map(Param::names).collect();
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn example_config_loads_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/sessiond.conf");
        let config =
            Config::from_args(&[path.display().to_string()]).expect("example config loads");
        let expected_namespaces = vec![NamespaceSpec {
            name: "default".into(),
            options: [
                ("max-sessions-per-user", "0"),
                ("on-limit", "evict-oldest"),
                ("idle-timeout", "1800"),
                ("absolute-timeout", "86400"),
                ("recovery-window", "3600"),
                ("max-session-bytes", "1mb"),
            ]
            .iter()
            .map(|&(o, v)| (o.to_string(), v.to_string()))
            .collect(),
        }];
        let expected = Config {
            config_file: Some(std::path::absolute(&path).expect("absolute")),
            namespaces: expected_namespaces,
            ..Config::default()
        };
        assert_eq!(config, expected);
    }
}
