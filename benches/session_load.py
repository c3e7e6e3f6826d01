"""Writes N session-shaped commands in RESP, for `redis-cli --pipe`.

Usage: session_load.py KIND N FILE. Every record has the same 4 fields, 114 bytes of names
and values (user_id, a 32-character csrf token, created_at, last_path). KIND:
  redis            HSET sess:<i> <fields>; EXPIRE sess:<i> 1800
  redis+index      as redis, plus SADD user:<i> sess:<i> (a per-user set)
  sessiond-1user   SESSION.CREATE user IDLE 1800 DATA <fields>
  sessiond-users   SESSION.CREATE user<i> IDLE 1800 DATA <fields>
"""
import secrets
import sys

KINDS = ("redis", "redis+index", "sessiond-1user", "sessiond-users")


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def main():
    kind, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if kind not in KINDS:
        sys.exit(f"session_load.py: unknown kind {kind!r}, expected one of {', '.join(KINDS)}")
    with open(path, "wb") as f:
        batch = []
        for i in range(n):
            fields = (b"user_id", b"42", b"csrf", secrets.token_hex(16).encode(),
                      b"created_at", b"1732352400",
                      b"last_path", b"/account/orders/2026/11?page=3&sort=desc")
            key = b"sess:%09d" % i
            if kind.startswith("redis"):
                batch.append(resp(b"HSET", key, *fields) + resp(b"EXPIRE", key, b"1800"))
                if kind == "redis+index":
                    batch.append(resp(b"SADD", b"user:%d" % i, key))
            else:
                user = b"user" if kind == "sessiond-1user" else b"user%d" % i
                batch.append(resp(b"SESSION.CREATE", user, b"IDLE", b"1800", b"DATA", *fields))
            if len(batch) >= 10000:
                f.write(b"".join(batch))
                batch = []
        f.write(b"".join(batch))


main()
