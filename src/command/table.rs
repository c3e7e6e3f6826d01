//! The command table: every command as data (name, arity, flags, key positions, handler).
//!
//! Dispatch, authentication, subscribe-mode checks and `COMMAND INFO` all read this one table.
//! Arity follows Redis: positive = exact argument count including the name, negative = minimum.

use std::collections::HashMap;
use std::sync::LazyLock;

use foldhash::fast::RandomState;

use super::{
    CommandResult, Context, connection, hash, keys, list, namespace, pubsub, server, session, set,
    string, transaction, zset,
};

/// A command's implementation.
pub type Handler = fn(&mut Context, &[&[u8]]) -> CommandResult;

/// Command properties, as `COMMAND INFO` reports them, plus sessiond's own markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// Changes data.
    pub const WRITE: Flags = Flags(1);
    /// Only reads data.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory use (refused under `maxmemory` pressure).
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// For operators.
    pub const ADMIN: Flags = Flags(1 << 3);
    /// Part of pub/sub.
    pub const PUBSUB: Flags = Flags(1 << 4);
    /// Not allowed in scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    /// Allowed while loading data.
    pub const LOADING: Flags = Flags(1 << 6);
    /// Allowed on a stale replica.
    pub const STALE: Flags = Flags(1 << 7);
    /// Constant time.
    pub const FAST: Flags = Flags(1 << 8);
    /// Allowed before authentication.
    pub const NO_AUTH: Flags = Flags(1 << 9);
    /// Allowed in RESP2 subscribe mode (internal; not reported).
    pub const SUBSCRIBE_CONTEXT: Flags = Flags(1 << 10);
    /// Runs at once after MULTI instead of being queued (internal; not reported).
    pub const TRANSACTION_CONTROL: Flags = Flags(1 << 11);
    /// Takes the transaction gate itself, exclusively: EXEC (internal; not reported).
    pub const RUNS_ALONE: Flags = Flags(1 << 12);
    /// Refused unless `enable-debug-command` allows the client (internal; Redis 7.0 does
    /// not report its `protected` flag).
    pub const PROTECTED: Flags = Flags(1 << 13);
    /// Never shown in the slow log: EXEC, whose commands are logged one by one (internal;
    /// Redis 7.0 does not report its `no-slowlog` flag either).
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 14);
    /// Its keys are found by reading its arguments (SINTERCARD's `numkeys`), not at fixed
    /// positions, which it reports as 0.
    pub const MOVABLE_KEYS: Flags = Flags(1 << 15);

    const NAMES: [(Flags, &'static str); 11] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::MOVABLE_KEYS, "movablekeys"),
    ];

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two flag sets.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The names `COMMAND INFO` lists.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }
}

/// One command or subcommand.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name; subcommands are written `container|sub` as Redis does.
    pub name: &'static str,
    /// Argument count including the name (negative: at least that many).
    pub arity: i32,
    /// Properties.
    pub flags: Flags,
    /// Position of the first key argument (0 = no keys).
    pub first_key: i32,
    /// Position of the last key argument (-1 = the last argument).
    pub last_key: i32,
    /// Distance between key arguments.
    pub step: i32,
    /// The implementation; containers never run theirs, dispatch picks a subcommand.
    pub handler: Handler,
    /// Subcommands of a container command (CLIENT, CONFIG, ...).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// The name a subcommand is called by (`setname` for `client|setname`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }
}

const W: Flags = Flags::WRITE;
const R: Flags = Flags::READONLY;
const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WDF: Flags = WD.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const RF: Flags = Flags::READONLY.with(Flags::FAST);
const ADMIN: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
const CONN: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);
const CONN_FAST: Flags = CONN.with(Flags::FAST);
const PUBSUB: Flags = Flags::PUBSUB
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
const SUBSCRIPTION: Flags = PUBSUB.with(Flags::SUBSCRIBE_CONTEXT);
const TX: Flags = Flags::TRANSACTION_CONTROL;
const NONE: Flags = Flags(0);

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        handler,
        subcommands: &[],
    }
}

/// A command with subcommands; it runs `handler` itself only when called alone and `arity`
/// allows that (COMMAND), otherwise dispatch picks the subcommand.
const fn container(
    name: &'static str,
    arity: i32,
    handler: Handler,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: NONE,
        first_key: 0,
        last_key: 0,
        step: 0,
        handler,
        subcommands,
    }
}

const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const KEY_ALL: (i32, i32, i32) = (1, -1, 1);
const KEY_PAIRS: (i32, i32, i32) = (1, -1, 2);
const KEY12: (i32, i32, i32) = (1, 2, 1);

/// SLOWLOG's flags in Redis: for operators, but allowed in scripts.
const SLOWLOG_FLAGS: Flags = Flags::ADMIN.with(Flags::LOADING).with(Flags::STALE);

static MEMORY: &[CommandSpec] = &[
    cmd("memory|usage", -3, R, (2, 2, 1), keys::memory_usage),
    cmd("memory|help", 2, CONN, NO_KEYS, server::help),
];

static SLOWLOG: &[CommandSpec] = &[
    cmd(
        "slowlog|get",
        -2,
        SLOWLOG_FLAGS,
        NO_KEYS,
        server::slowlog_get,
    ),
    cmd(
        "slowlog|len",
        2,
        SLOWLOG_FLAGS,
        NO_KEYS,
        server::slowlog_len,
    ),
    cmd(
        "slowlog|reset",
        2,
        SLOWLOG_FLAGS,
        NO_KEYS,
        server::slowlog_reset,
    ),
    cmd("slowlog|help", 2, CONN, NO_KEYS, server::help),
];

static CLIENT: &[CommandSpec] = &[
    cmd("client|id", 2, CONN, NO_KEYS, connection::client_id),
    cmd(
        "client|getname",
        2,
        CONN,
        NO_KEYS,
        connection::client_getname,
    ),
    cmd(
        "client|setname",
        3,
        CONN,
        NO_KEYS,
        connection::client_setname,
    ),
    cmd(
        "client|setinfo",
        4,
        CONN,
        NO_KEYS,
        connection::client_setinfo,
    ),
    cmd("client|list", -2, ADMIN, NO_KEYS, connection::client_list),
    cmd("client|info", 2, CONN, NO_KEYS, connection::client_info),
    cmd("client|kill", -3, ADMIN, NO_KEYS, connection::client_kill),
    cmd(
        "client|no-evict",
        3,
        ADMIN,
        NO_KEYS,
        connection::client_flag_toggle,
    ),
    cmd(
        "client|no-touch",
        3,
        CONN,
        NO_KEYS,
        connection::client_flag_toggle,
    ),
    cmd("client|help", 2, CONN, NO_KEYS, server::help),
];

static CONFIG: &[CommandSpec] = &[
    cmd("config|get", -3, ADMIN, NO_KEYS, server::config_get),
    cmd("config|set", -4, ADMIN, NO_KEYS, server::config_set),
    cmd(
        "config|resetstat",
        2,
        ADMIN,
        NO_KEYS,
        server::config_resetstat,
    ),
    cmd("config|help", 2, CONN, NO_KEYS, server::help),
];

static COMMAND: &[CommandSpec] = &[
    cmd("command|count", 2, CONN, NO_KEYS, server::command_count),
    cmd("command|info", -2, CONN, NO_KEYS, server::command_info),
    cmd("command|docs", -2, CONN, NO_KEYS, server::command_docs),
    cmd("command|list", -2, CONN, NO_KEYS, server::command_list),
    cmd("command|help", 2, CONN, NO_KEYS, server::help),
];

static OBJECT: &[CommandSpec] = &[
    cmd("object|encoding", 3, R, (2, 2, 1), keys::object_encoding),
    cmd("object|refcount", 3, R, (2, 2, 1), keys::object_refcount),
    cmd("object|idletime", 3, R, (2, 2, 1), keys::object_idletime),
    cmd("object|freq", 3, R, (2, 2, 1), keys::object_freq),
    cmd("object|help", 2, CONN, NO_KEYS, server::help),
];

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    cmd("pubsub|channels", -2, PUBSUB, NO_KEYS, pubsub::channels),
    cmd("pubsub|numsub", -2, PUBSUB, NO_KEYS, pubsub::numsub),
    cmd("pubsub|numpat", 2, PUBSUB, NO_KEYS, pubsub::numpat),
    cmd("pubsub|help", 2, CONN, NO_KEYS, server::help),
];

static SESSION_NAMESPACE: &[CommandSpec] = &[
    cmd(
        "session.namespace|use",
        3,
        CONN_FAST,
        NO_KEYS,
        namespace::use_namespace,
    ),
    cmd(
        "session.namespace|create",
        -3,
        ADMIN,
        NO_KEYS,
        namespace::create,
    ),
    cmd(
        "session.namespace|config",
        -5,
        ADMIN,
        NO_KEYS,
        namespace::config,
    ),
    cmd("session.namespace|info", -2, CONN, NO_KEYS, namespace::info),
    cmd("session.namespace|list", 2, CONN, NO_KEYS, namespace::list),
    cmd("session.namespace|drop", 3, ADMIN, NO_KEYS, namespace::drop),
    cmd("session.namespace|help", 2, CONN, NO_KEYS, server::help),
];

static DEBUG: &[CommandSpec] = &[
    cmd("debug|sleep", 3, ADMIN, NO_KEYS, server::debug_sleep),
    cmd("debug|panic", 2, ADMIN, NO_KEYS, server::debug_panic),
];

/// Every command sessiond knows.
pub static COMMANDS: &[CommandSpec] = &[
    // connection
    cmd(
        "ping",
        -1,
        CONN_FAST.with(Flags::SUBSCRIBE_CONTEXT),
        NO_KEYS,
        connection::ping,
    ),
    cmd("echo", 2, CONN_FAST, NO_KEYS, connection::echo),
    cmd(
        "auth",
        -2,
        CONN_FAST.with(Flags::NO_AUTH),
        NO_KEYS,
        connection::auth,
    ),
    cmd(
        "hello",
        -1,
        CONN_FAST.with(Flags::NO_AUTH),
        NO_KEYS,
        connection::hello,
    ),
    cmd("select", 2, CONN_FAST, NO_KEYS, connection::select),
    cmd(
        "quit",
        -1,
        CONN_FAST
            .with(Flags::NO_AUTH)
            .with(Flags::SUBSCRIBE_CONTEXT)
            .with(Flags::TRANSACTION_CONTROL),
        NO_KEYS,
        connection::quit,
    ),
    cmd(
        "reset",
        1,
        CONN_FAST
            .with(Flags::NO_AUTH)
            .with(Flags::SUBSCRIBE_CONTEXT)
            .with(Flags::TRANSACTION_CONTROL),
        NO_KEYS,
        connection::reset,
    ),
    container("client", -2, server::help, CLIENT),
    // transactions
    cmd("multi", 1, CONN_FAST.with(TX), NO_KEYS, transaction::multi),
    cmd(
        "exec",
        1,
        CONN.with(TX)
            .with(Flags::RUNS_ALONE)
            .with(Flags::SKIP_SLOWLOG),
        NO_KEYS,
        transaction::exec,
    ),
    cmd(
        "discard",
        1,
        CONN_FAST.with(TX),
        NO_KEYS,
        transaction::discard,
    ),
    cmd("watch", -2, CONN_FAST.with(TX), KEY_ALL, transaction::watch),
    cmd("unwatch", 1, CONN_FAST, NO_KEYS, transaction::unwatch),
    // strings
    cmd("get", 2, RF, KEY1, string::get),
    cmd("set", -3, WD, KEY1, string::set),
    cmd("setnx", 3, WDF, KEY1, string::setnx),
    cmd("setex", 4, WD, KEY1, string::setex),
    cmd("psetex", 4, WD, KEY1, string::psetex),
    cmd("getex", -2, WF, KEY1, string::getex),
    cmd("getdel", 2, WF, KEY1, string::getdel),
    cmd("getset", 3, WDF, KEY1, string::getset),
    cmd("mget", -2, RF, KEY_ALL, string::mget),
    cmd("mset", -3, WD, KEY_PAIRS, string::mset),
    cmd("msetnx", -3, WD, KEY_PAIRS, string::msetnx),
    cmd("incr", 2, WDF, KEY1, string::incr),
    cmd("decr", 2, WDF, KEY1, string::decr),
    cmd("incrby", 3, WDF, KEY1, string::incrby),
    cmd("decrby", 3, WDF, KEY1, string::decrby),
    cmd("incrbyfloat", 3, WDF, KEY1, string::incrbyfloat),
    cmd("append", 3, WDF, KEY1, string::append),
    cmd("strlen", 2, RF, KEY1, string::strlen),
    cmd("getrange", 4, R, KEY1, string::getrange),
    cmd("substr", 4, R, KEY1, string::getrange),
    cmd("setrange", 4, WD, KEY1, string::setrange),
    // hashes
    cmd("hset", -4, WDF, KEY1, hash::hset),
    cmd("hsetnx", 4, WDF, KEY1, hash::hsetnx),
    cmd("hmset", -4, WDF, KEY1, hash::hmset),
    cmd("hget", 3, RF, KEY1, hash::hget),
    cmd("hmget", -3, RF, KEY1, hash::hmget),
    cmd("hgetall", 2, R, KEY1, hash::hgetall),
    cmd("hdel", -3, WF, KEY1, hash::hdel),
    cmd("hexists", 3, RF, KEY1, hash::hexists),
    cmd("hlen", 2, RF, KEY1, hash::hlen),
    cmd("hkeys", 2, R, KEY1, hash::hkeys),
    cmd("hvals", 2, R, KEY1, hash::hvals),
    cmd("hincrby", 4, WDF, KEY1, hash::hincrby),
    cmd("hincrbyfloat", 4, WDF, KEY1, hash::hincrbyfloat),
    cmd("hstrlen", 3, RF, KEY1, hash::hstrlen),
    cmd("hscan", -3, R, KEY1, hash::hscan),
    cmd("hrandfield", -2, R, KEY1, hash::hrandfield),
    // sets
    cmd("sadd", -3, WDF, KEY1, set::sadd),
    cmd("srem", -3, WF, KEY1, set::srem),
    cmd("smembers", 2, R, KEY1, set::smembers),
    cmd("sismember", 3, RF, KEY1, set::sismember),
    cmd("smismember", -3, RF, KEY1, set::smismember),
    cmd("scard", 2, RF, KEY1, set::scard),
    cmd("spop", -2, WF, KEY1, set::spop),
    cmd("srandmember", -2, R, KEY1, set::srandmember),
    cmd("sscan", -3, R, KEY1, set::sscan),
    cmd("sinter", -2, R, KEY_ALL, set::sinter),
    cmd("sunion", -2, R, KEY_ALL, set::sunion),
    cmd("sdiff", -2, R, KEY_ALL, set::sdiff),
    cmd("sinterstore", -3, WD, KEY_ALL, set::sinterstore),
    cmd("sunionstore", -3, WD, KEY_ALL, set::sunionstore),
    cmd("sdiffstore", -3, WD, KEY_ALL, set::sdiffstore),
    cmd("smove", 4, WF, KEY12, set::smove),
    cmd(
        "sintercard",
        -3,
        R.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        set::sintercard,
    ),
    // sorted sets
    cmd("zadd", -4, WDF, KEY1, zset::zadd),
    cmd("zincrby", 4, WDF, KEY1, zset::zincrby),
    cmd("zrem", -3, WF, KEY1, zset::zrem),
    cmd("zscore", 3, RF, KEY1, zset::zscore),
    cmd("zmscore", -3, RF, KEY1, zset::zmscore),
    cmd("zcard", 2, RF, KEY1, zset::zcard),
    cmd("zrank", 3, RF, KEY1, zset::zrank),
    cmd("zrevrank", 3, RF, KEY1, zset::zrevrank),
    cmd("zcount", 4, RF, KEY1, zset::zcount),
    cmd("zlexcount", 4, RF, KEY1, zset::zlexcount),
    cmd("zrange", -4, R, KEY1, zset::zrange),
    cmd("zrevrange", -4, R, KEY1, zset::zrevrange),
    cmd("zrangebyscore", -4, R, KEY1, zset::zrangebyscore),
    cmd("zrevrangebyscore", -4, R, KEY1, zset::zrevrangebyscore),
    cmd("zrangebylex", -4, R, KEY1, zset::zrangebylex),
    cmd("zrevrangebylex", -4, R, KEY1, zset::zrevrangebylex),
    cmd("zremrangebyscore", 4, W, KEY1, zset::zremrangebyscore),
    cmd("zremrangebyrank", 4, W, KEY1, zset::zremrangebyrank),
    cmd("zremrangebylex", 4, W, KEY1, zset::zremrangebylex),
    cmd("zpopmin", -2, WF, KEY1, zset::zpopmin),
    cmd("zpopmax", -2, WF, KEY1, zset::zpopmax),
    cmd("zscan", -3, R, KEY1, zset::zscan),
    // lists
    cmd("lpush", -3, WDF, KEY1, list::lpush),
    cmd("rpush", -3, WDF, KEY1, list::rpush),
    cmd("lpushx", -3, WDF, KEY1, list::lpushx),
    cmd("rpushx", -3, WDF, KEY1, list::rpushx),
    cmd("lpop", -2, WF, KEY1, list::lpop),
    cmd("rpop", -2, WF, KEY1, list::rpop),
    cmd("llen", 2, RF, KEY1, list::llen),
    cmd("lrange", 4, R, KEY1, list::lrange),
    cmd("lindex", 3, R, KEY1, list::lindex),
    cmd("lset", 4, WD, KEY1, list::lset),
    cmd("lrem", 4, W, KEY1, list::lrem),
    cmd("ltrim", 4, W, KEY1, list::ltrim),
    cmd("linsert", 5, WD, KEY1, list::linsert),
    cmd("lpos", -3, R, KEY1, list::lpos),
    cmd("lmove", 5, WD, KEY12, list::lmove),
    cmd("rpoplpush", 3, WD, KEY12, list::rpoplpush),
    // keys
    cmd("del", -2, W, KEY_ALL, keys::del),
    cmd("unlink", -2, WF, KEY_ALL, keys::del),
    cmd("exists", -2, RF, KEY_ALL, keys::exists),
    cmd("type", 2, RF, KEY1, keys::type_of),
    cmd("expire", -3, WF, KEY1, keys::expire),
    cmd("pexpire", -3, WF, KEY1, keys::pexpire),
    cmd("expireat", -3, WF, KEY1, keys::expireat),
    cmd("pexpireat", -3, WF, KEY1, keys::pexpireat),
    cmd("ttl", 2, RF, KEY1, keys::ttl),
    cmd("pttl", 2, RF, KEY1, keys::pttl),
    cmd("expiretime", 2, RF, KEY1, keys::expiretime),
    cmd("pexpiretime", 2, RF, KEY1, keys::pexpiretime),
    cmd("persist", 2, WF, KEY1, keys::persist),
    cmd("touch", -2, RF, KEY_ALL, keys::touch),
    cmd("keys", 2, R, NO_KEYS, keys::keys),
    cmd("scan", -2, R, NO_KEYS, keys::scan),
    cmd("rename", 3, W, KEY12, keys::rename),
    cmd("renamenx", 3, WF, KEY12, keys::renamenx),
    cmd("randomkey", 1, R, NO_KEYS, keys::randomkey),
    cmd("dbsize", 1, RF, NO_KEYS, keys::dbsize),
    cmd("flushdb", -1, W, NO_KEYS, keys::flushdb),
    cmd("flushall", -1, W, NO_KEYS, keys::flushall),
    cmd("copy", -3, WD, KEY12, keys::copy),
    cmd("move", 3, WF, KEY1, keys::move_key),
    cmd("swapdb", 3, WF, NO_KEYS, keys::swapdb),
    container("object", -2, server::help, OBJECT),
    // server
    cmd("info", -1, CONN, NO_KEYS, server::info),
    container("config", -2, server::help, CONFIG),
    container("command", -1, server::command_all, COMMAND),
    cmd("time", 1, CONN_FAST, NO_KEYS, server::time),
    cmd("lastsave", 1, CONN_FAST, NO_KEYS, server::lastsave),
    cmd("bgrewriteaof", 1, ADMIN, NO_KEYS, server::bgrewriteaof),
    cmd("shutdown", -1, ADMIN, NO_KEYS, server::shutdown),
    container("slowlog", -2, server::help, SLOWLOG),
    container("memory", -2, server::help, MEMORY),
    cmd("monitor", 1, ADMIN, NO_KEYS, server::monitor),
    CommandSpec {
        flags: Flags::PROTECTED,
        ..container("debug", -2, server::help, DEBUG)
    },
    // pub/sub
    cmd("subscribe", -2, SUBSCRIPTION, NO_KEYS, pubsub::subscribe),
    cmd(
        "unsubscribe",
        -1,
        SUBSCRIPTION,
        NO_KEYS,
        pubsub::unsubscribe,
    ),
    cmd("psubscribe", -2, SUBSCRIPTION, NO_KEYS, pubsub::psubscribe),
    cmd(
        "punsubscribe",
        -1,
        SUBSCRIPTION,
        NO_KEYS,
        pubsub::punsubscribe,
    ),
    cmd(
        "publish",
        3,
        PUBSUB.with(Flags::FAST),
        NO_KEYS,
        pubsub::publish,
    ),
    container("pubsub", -2, server::help, PUBSUB_SUBCOMMANDS),
    // sessions
    cmd("session.create", -2, WDF, NO_KEYS, session::create),
    cmd("session.get", -2, WF, NO_KEYS, session::get),
    cmd("session.peek", -2, RF, NO_KEYS, session::peek),
    cmd("session.set", -4, WDF, NO_KEYS, session::set),
    cmd("session.cas", -5, WDF, NO_KEYS, session::cas),
    cmd("session.unset", -3, WF, NO_KEYS, session::unset),
    cmd("session.touch", 2, WF, NO_KEYS, session::touch),
    cmd("session.ttl", 2, RF, NO_KEYS, session::ttl),
    cmd("session.info", 2, RF, NO_KEYS, session::info),
    cmd("session.end", 2, WF, NO_KEYS, session::end),
    cmd("session.rotate", 2, WF, NO_KEYS, session::rotate),
    cmd("session.recover", 2, WDF, NO_KEYS, session::recover),
    cmd("session.list", -2, R, NO_KEYS, session::list),
    cmd("session.endall", -2, W, NO_KEYS, session::endall),
    cmd("session.count", -1, RF, NO_KEYS, session::count),
    cmd("session.stats", 1, RF, NO_KEYS, session::stats),
    cmd("session.cleanup", -1, W, NO_KEYS, session::cleanup),
    container("session.namespace", -2, server::help, SESSION_NAMESPACE),
];

/// Commands by lower-case name; looked up on every request, so keyed by bytes with a fast hash.
static LOOKUP: LazyLock<HashMap<&'static [u8], &'static CommandSpec, RandomState>> =
    LazyLock::new(|| {
        COMMANDS
            .iter()
            .map(|spec| (spec.name.as_bytes(), spec))
            .collect()
    });

/// Finds a command by name, ignoring case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; 32];
    let lower = lower.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    LOOKUP.get(&*lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_rejects_unknown() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'x'; 100]).is_none());
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        assert_eq!(LOOKUP.len(), COMMANDS.len());
        for spec in COMMANDS {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            for sub in spec.subcommands {
                assert!(
                    sub.name.starts_with(&format!("{}|", spec.name)),
                    "{}",
                    sub.name
                );
            }
        }
    }
}
