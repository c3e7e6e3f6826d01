//! The text of `<CONTAINER> HELP`, in Redis's words, for the subcommands sessiond supports.

/// Help lines after the `<CONTAINER> <subcommand> ...` header; empty for unknown containers.
pub fn lines(container: &str) -> &'static [&'static str] {
    match container {
        "object" => OBJECT,
        "client" => CLIENT,
        "config" => CONFIG,
        "command" => COMMAND,
        "pubsub" => PUBSUB,
        "debug" => DEBUG,
        "slowlog" => SLOWLOG,
        "memory" => MEMORY,
        "session.namespace" => SESSION_NAMESPACE,
        _ => &[],
    }
}

const PRINTS_THIS_HELP: [&str; 2] = ["HELP", "    Prints this help."];

const OBJECT: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const MEMORY: &[&str] = &[
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const SLOWLOG: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const CLIENT: &[&str] = &[
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const CONFIG: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const COMMAND: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const PUBSUB: &[&str] = &[
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const DEBUG: &[&str] = &[
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];

const SESSION_NAMESPACE: &[&str] = &[
    "USE <name>",
    "    Switch this connection to namespace <name>, database 0.",
    "CREATE <name> [<option> <value> ...]",
    "    Create namespace <name> with policy options (needs a user with *).",
    "CONFIG <name> <option> <value> [<option> <value> ...]",
    "    Change policy options of namespace <name>, all or none (needs a user with *).",
    "INFO [<name>]",
    "    Return the name, policy, databases holding keys, key count and active",
    "    sessions and users of a namespace (default: the current one).",
    "LIST",
    "    Return the namespaces this user may use.",
    "DROP <name>",
    "    Discard namespace <name> and its data, disconnecting its clients (needs a",
    "    user with *).",
    PRINTS_THIS_HELP[0],
    PRINTS_THIS_HELP[1],
];
