#!/usr/bin/env python3
"""Writes the hand-made seeds of the `request` fuzz target into fuzz/corpus/request/.

Each seed is one connection's input: RESP multibulk requests, inline commands (quotes and
escapes included), pipelines, RESP3 after HELLO 3, and a few malformed frames. The corpus
committed next to it is these seeds after fuzzing and `cargo fuzz cmin`; run this only to
start a corpus afresh.
"""

import os
import sys


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


def pipeline(*commands):
    return b"".join(resp(*c) for c in commands)


# The harness replaces an argument "@sid" by the id the last SESSION.CREATE, ROTATE or
# RECOVER returned (ids are random, so an input cannot name one otherwise).
SID = "@sid"
UNKNOWN = "5b096fae-b80b-4a37-800e-db6d61fef44f"

SEEDS = {
    "ping": resp("PING"),
    "ping-msg": resp("PING", "hello"),
    "echo": resp("ECHO", "binary\x00\r\nsafe"),
    "set-get": pipeline(("SET", "k", "v"), ("GET", "k")),
    "set-options": pipeline(
        ("SET", "k", "v", "EX", "100"),
        ("SET", "k", "w", "PX", "5000", "NX"),
        ("SET", "k", "x", "XX", "GET", "KEEPTTL"),
        ("SET", "k", "y", "EXAT", "4102444800"),
        ("SET", "k", "z", "PXAT", "4102444800000", "GET"),
        ("TTL", "k"),
        ("PTTL", "k"),
        ("EXPIRETIME", "k"),
    ),
    "strings": pipeline(
        ("MSET", "a", "1", "b", "2"),
        ("MGET", "a", "b", "c"),
        ("INCR", "a"),
        ("INCRBY", "a", "-5"),
        ("DECRBY", "b", "9223372036854775807"),
        ("INCRBYFLOAT", "a", "1.5e3"),
        ("APPEND", "b", "tail"),
        ("STRLEN", "b"),
        ("GETRANGE", "b", "-3", "-1"),
        ("SETRANGE", "c", "10", "pad"),
        ("GETEX", "c", "PERSIST"),
        ("GETDEL", "c"),
        ("GETSET", "a", "new"),
        ("SETNX", "a", "x"),
        ("MSETNX", "x", "1", "y", "2"),
        ("SETEX", "e", "10", "v"),
        ("PSETEX", "e", "1000", "v"),
    ),
    "keys": pipeline(
        ("SET", "user:1", "a"),
        ("SET", "user:2", "b"),
        ("KEYS", "user:*"),
        ("SCAN", "0", "MATCH", "user:[12]", "COUNT", "10", "TYPE", "string"),
        ("EXISTS", "user:1", "user:3"),
        ("TYPE", "user:1"),
        ("RENAME", "user:1", "user:9"),
        ("RENAMENX", "user:2", "user:9"),
        ("COPY", "user:9", "copy", "DB", "3", "REPLACE"),
        ("MOVE", "user:2", "1"),
        ("SWAPDB", "0", "1"),
        ("SELECT", "1"),
        ("DBSIZE",),
        ("RANDOMKEY",),
        ("EXPIRE", "user:2", "100", "NX"),
        ("PEXPIREAT", "user:2", "1", "GT"),
        ("PERSIST", "user:2"),
        ("TOUCH", "user:2"),
        ("OBJECT", "ENCODING", "user:2"),
        ("OBJECT", "FREQ", "user:2"),
        ("UNLINK", "user:2"),
        ("DEL", "user:9", "copy"),
        ("FLUSHDB", "ASYNC"),
        ("FLUSHALL", "SYNC"),
    ),
    "hello3": pipeline(
        ("HELLO", "3"),
        ("SET", "k", "1.5"),
        ("INCRBYFLOAT", "k", "2"),
        ("CONFIG", "GET", "maxmemory*"),
        ("CLIENT", "INFO"),
        ("INFO", "server"),
        ("SESSION.CREATE", "alice", "DATA", "cart", "3"),
        ("SESSION.STATS",),
        ("COMMAND", "INFO", "get"),
    ),
    "hello-auth": pipeline(
        ("HELLO", "3", "AUTH", "fuzzer", "fuzzpass", "SETNAME", "conn"),
        ("SESSION.NAMESPACE", "USE", "shop"),
        ("SESSION.CREATE", "bob", "IDLE", "60", "DATA", "k", "v"),
        ("SESSION.CREATE", "bob"),
        ("SESSION.CREATE", "bob"),
        ("SESSION.CREATE", "bob"),
        ("SESSION.COUNT",),
        ("HELLO", "2"),
    ),
    "auth": pipeline(
        ("AUTH", "wrong"),
        ("AUTH", "fuzzer", "fuzzpass"),
        ("AUTH", "default", "nopass"),
        ("CONFIG", "SET", "requirepass", "secret"),
        ("AUTH", "secret"),
        ("RESET",),
    ),
    "sessions": pipeline(
        ("SESSION.CREATE", "alice", "IDLE", "1800", "ABSOLUTE", "86400", "DATA", "cart", "3", "theme", "dark"),
        ("SESSION.CREATE", "alice"),
        ("SESSION.LIST", "alice", "WITHINFO"),
        ("SESSION.COUNT", "alice"),
        ("SESSION.LIST", "alice"),
        ("SESSION.STATS",),
        ("SESSION.CLEANUP", "IDLE", "0", "DRYRUN"),
        ("SESSION.CLEANUP", "FORCE"),
    ),
    "session-id-ops": pipeline(
        ("SESSION.CREATE", "alice", "DATA", "cart", "3"),
        ("SESSION.GET", SID),
        ("SESSION.GET", SID, "cart"),
        ("SESSION.PEEK", SID),
        ("SESSION.SET", SID, "f", "v"),
        ("SESSION.CAS", SID, "2", "f", "w"),
        ("SESSION.UNSET", SID, "f"),
        ("SESSION.TOUCH", SID),
        ("SESSION.TTL", SID),
        ("SESSION.INFO", SID),
        ("SESSION.ROTATE", SID),
        ("SESSION.END", SID),
        ("SESSION.RECOVER", SID),
        ("SESSION.ROTATE", SID),
        ("SESSION.ENDALL", "alice", "EXCEPT", SID),
    ),
    "session-unknown-id": pipeline(
        ("SESSION.GET", UNKNOWN),
        ("SESSION.INFO", UNKNOWN),
        ("SESSION.END", "not-an-id"),
    ),
    "namespaces": pipeline(
        ("SESSION.NAMESPACE", "CREATE", "tenant", "idle-timeout", "60",
         "max-sessions-per-user", "2", "on-limit", "reject"),
        ("SESSION.NAMESPACE", "CONFIG", "tenant", "recovery-window", "30"),
        ("SESSION.NAMESPACE", "INFO", "tenant"),
        ("SESSION.NAMESPACE", "LIST"),
        ("SESSION.NAMESPACE", "USE", "tenant"),
        ("SESSION.CREATE", "u"),
        ("SESSION.CREATE", "u"),
        ("SESSION.CREATE", "u"),
        ("SESSION.NAMESPACE", "USE", "default"),
        ("SESSION.NAMESPACE", "DROP", "tenant"),
        ("SESSION.NAMESPACE", "HELP"),
    ),
    "pubsub": pipeline(
        ("SUBSCRIBE", "news", "sport"),
        ("PSUBSCRIBE", "n*"),
        ("PING",),
        ("GET", "k"),
        ("PUBLISH", "news", "hi"),
        ("PUNSUBSCRIBE",),
        ("UNSUBSCRIBE",),
        ("PUBSUB", "CHANNELS", "*"),
        ("PUBSUB", "NUMSUB", "news"),
        ("PUBSUB", "NUMPAT"),
    ),
    "pubsub-resp3": pipeline(
        ("HELLO", "3"),
        ("SUBSCRIBE", "news"),
        ("GET", "k"),
        ("PUBLISH", "news", "hi"),
    ),
    "keyspace-events": pipeline(
        ("CONFIG", "SET", "notify-keyspace-events", "KEA"),
        ("PSUBSCRIBE", "__key*__:*"),
        ("SET", "k", "v"),
        ("EXPIRE", "k", "0"),
    ),
    "server": pipeline(
        ("INFO",),
        ("INFO", "everything"),
        ("TIME",),
        ("LASTSAVE",),
        ("COMMAND", "COUNT"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "se*"),
        ("COMMAND", "DOCS", "set"),
        ("CONFIG", "GET", "*"),
        ("CONFIG", "SET", "maxmemory", "10mb", "hz", "50"),
        ("CONFIG", "RESETSTAT"),
        ("CONFIG", "HELP"),
        ("BGREWRITEAOF",),
        ("DEBUG", "SLEEP", "0.001"),
        ("CLIENT", "LIST"),
        ("CLIENT", "SETNAME", "me"),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "ID"),
        ("CLIENT", "SETINFO", "lib-name", "fuzz"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "HELP"),
        ("SHUTDOWN", "NOSAVE"),
    ),
    "client-kill": pipeline(("CLIENT", "KILL", "ID", "1"), ("PING",)),
    "quit": pipeline(("QUIT",), ("PING",)),
    "errors": pipeline(
        ("NOSUCHCOMMAND", "a", "b"),
        ("GET",),
        ("CLIENT", "NOSUCH"),
        ("CONFIG", "SET", "nosuch", "1"),
        ("SELECT", "99"),
        ("INCR", "notanumber"),
    ),
    "empty-and-null": b"*0\r\n*-1\r\n*-5\r\n\r\n" + resp("PING"),
    "partial": resp("SET", "k", "v")[:-5],
    "bad-bulk-length": b"*1\r\n$-1\r\n",
    "bad-type": b"*1\r\n:5\r\n",
    "too-big-count": b"*1048577\r\n",
    "too-big-bulk": b"*1\r\n$1048577\r\n",
    "not-a-number": b"*x\r\n",
    "inline": b"PING\r\nSET k v\r\nGET k\r\n",
    "inline-quotes": b"SET q \"hello world\\n\\x41\"\r\nSET r 'it''s'\r\nGET q\r\n",
    "inline-unbalanced": b"SET q \"oops\r\n",
    "inline-lf-only": b"ECHO a\nECHO b\n",
    "mixed": b"PING\r\n" + resp("ECHO", "x") + b"  GET   k  \r\n",
    "multi-exec": pipeline(("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("EXEC",), ("DISCARD",)),
    "inline-sessions": b"SESSION.CREATE 'al ice' DATA \"k\\x00\" v\r\nSESSION.GET @sid\r\n",
    "sorted-sets": pipeline(
        ("CONFIG", "SET", "zset-max-listpack-entries", "2"),
        ("ZADD", "z", "1", "a", "-inf", "b", "0x1p3", "c", "-0", "d"),
        ("ZADD", "z", "GT", "CH", "INCR", "inf", "a"),
        ("ZADD", "z", "INCR", "-inf", "a"),
        ("ZINCRBY", "z", "1e308", "c"),
        ("ZRANGE", "z", "-9223372036854775808", "9223372036854775807", "REV", "WITHSCORES"),
        ("ZRANGE", "z", "(1", "+inf", "BYSCORE", "REV", "LIMIT", "5", "-1"),
        ("ZRANGE", "z", "[a", "(", "BYLEX", "LIMIT", "-9223372036854775808", "1"),
        ("ZREVRANGEBYSCORE", "z", "", "(", "WITHSCORES", "LIMIT", "1", "9223372036854775807"),
        ("ZREMRANGEBYRANK", "z", "-1", "-9223372036854775808"),
        ("ZREMRANGEBYSCORE", "z", "-inf", "(nan"),
        ("ZPOPMAX", "z", "9223372036854775807"),
        ("ZSCAN", "z", "18446744073709551615", "COUNT", "9223372036854775807"),
        ("ZADD", "z", "NX", "XX", "GT", "LT", "1", "a"),
        ("CONFIG", "SET", "zset-max-listpack-entries", "128"),
    ),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "corpus", "request")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
