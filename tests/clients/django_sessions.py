"""Django's cache-backed sessions on its Redis cache backend (redis-py underneath), against
sessiond: the command sequences a Django site sends for create, read, touch, regenerate
(cycle_key, at login), destroy (flush, at logout) and clear. Also redis-py on its own, in
RESP2 and RESP3, including the CLIENT SETINFO it sends on connect and the SESSION.* commands.

Run by tests/client_libraries.rs with SESSIOND_PORT set; exits non-zero on the first failed
check. Needs `python3 -m pip install -r tests/clients/requirements.txt`.
"""

import os
import sys

import django
import redis
from django.conf import settings

PORT = int(os.environ["SESSIOND_PORT"])
URL = f"redis://127.0.0.1:{PORT}/3"
AGE = 1209600  # Django's default SESSION_COOKIE_AGE, two weeks

settings.configure(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": URL,
            "KEY_PREFIX": "site",
        }
    },
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    SESSION_COOKIE_AGE=AGE,
    INSTALLED_APPS=["django.contrib.sessions"],
)
django.setup()

from django.contrib.sessions.backends.cache import KEY_PREFIX, SessionStore  # noqa: E402
from django.core.cache import cache  # noqa: E402


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def cache_key(session_key):
    """The key Django's cache writes for a session: KEY_PREFIX:version:prefix+id."""
    return f"site:1:{KEY_PREFIX}{session_key}"


def django_sessions(raw):
    # create: a new key with SET NX EX (cache.add), until one is free
    store = SessionStore()
    store["user_id"] = 42
    store["cart"] = ["book", "pen"]
    store.create()
    first_key = store.session_key
    check(first_key is not None and len(first_key) == 32, "create gives a session key")
    check(raw.exists(cache_key(first_key)) == 1, "create stores the session under its cache key")
    ttl = raw.ttl(cache_key(first_key))
    check(AGE - 5 <= ttl <= AGE, f"the session expires in SESSION_COOKIE_AGE ({ttl} s)")

    # read: GET, unpickled
    loaded = SessionStore(session_key=first_key)
    check(loaded["user_id"] == 42 and loaded["cart"] == ["book", "pen"], "read returns the data")
    check(SessionStore().exists(first_key), "exists (EXISTS) finds it")

    # write: SET EX with the new data
    loaded["cart"].append("lamp")
    loaded.modified = True
    loaded.save()
    check(SessionStore(session_key=first_key)["cart"] == ["book", "pen", "lamp"], "save persists")

    # touch: EXPIRE (what the cache does when a session's expiry is refreshed)
    raw.expire(cache_key(first_key), 60)
    check(cache.touch(f"{KEY_PREFIX}{first_key}", AGE), "touch (EXPIRE) refreshes the expiry")
    check(raw.ttl(cache_key(first_key)) > 60, "after touch the expiry is back to the full age")

    # regenerate: cycle_key at login copies the data to a new key and deletes the old one
    loaded.cycle_key()
    second_key = loaded.session_key
    check(second_key != first_key, "cycle_key gives a new key")
    check(raw.exists(cache_key(first_key)) == 0, "cycle_key deletes the old key")
    check(SessionStore(session_key=second_key)["user_id"] == 42, "cycle_key keeps the data")

    # an unknown or forged key is a fresh, empty session
    check(SessionStore(session_key="x" * 32).load() == {}, "an unknown key loads nothing")

    # destroy: flush at logout deletes the key and starts an empty session
    loaded.flush()
    check(raw.exists(cache_key(second_key)) == 0, "flush deletes the session")
    check(loaded.session_key is None, "flush leaves no key behind")

    # set_many / get_many: MSET and EXPIREs in a MULTI/EXEC pipeline, then MGET
    cache.set_many({"a": 1, "b": [2]}, timeout=30)
    check(cache.get_many(["a", "b", "c"]) == {"a": 1, "b": [2]}, "set_many (MULTI/EXEC) and get_many")
    check(0 < raw.ttl("site:1:b") <= 30, "set_many's EXPIRE ran inside the transaction")

    # clear: FLUSHDB of the cache's database, which leaves other databases alone
    other = redis.Redis(port=PORT, db=0)
    other.set("unrelated", "kept")
    for _ in range(5):
        SessionStore().create()
    check(len(raw.keys(f"site:1:{KEY_PREFIX}*")) == 5, "five sessions exist")
    cache.clear()
    check(raw.dbsize() == 0, "cache.clear (FLUSHDB) empties the cache's database")
    check(other.get("unrelated") == b"kept", "and leaves database 0 alone")
    other.delete("unrelated")


def redis_py(protocol):
    client = redis.Redis(port=PORT, protocol=protocol, decode_responses=True)
    check(client.ping() is True, f"RESP{protocol}: PING")
    info = client.client_info()
    check(info.get("lib-name") == "redis-py", f"RESP{protocol}: CLIENT SETINFO lib-name arrived")
    check(info.get("lib-ver") == redis.__version__, f"RESP{protocol}: and lib-ver")
    check(str(info.get("resp")) == str(protocol), f"RESP{protocol}: the connection speaks it")

    session = client.execute_command("SESSION.CREATE", "alice", "DATA", "csrf", "t0k3n", "n", "1")
    check(len(session) == 36, f"RESP{protocol}: SESSION.CREATE returns an id")
    data = client.execute_command("SESSION.GET", session)
    as_dict = data if isinstance(data, dict) else dict(zip(data[::2], data[1::2]))
    check(as_dict == {"csrf": "t0k3n", "n": "1"}, f"RESP{protocol}: SESSION.GET returns the data")
    check(client.execute_command("SESSION.TOUCH", session) > 0, f"RESP{protocol}: SESSION.TOUCH")
    rotated = client.execute_command("SESSION.ROTATE", session)
    check(rotated != session, f"RESP{protocol}: SESSION.ROTATE gives a new id")
    check(client.execute_command("SESSION.GET", rotated) is not None, "the new id works")
    check(client.execute_command("SESSION.GET", session) is None, "the old id does not")
    listed = client.execute_command("SESSION.LIST", "alice")
    check(list(listed) == [rotated], f"RESP{protocol}: SESSION.LIST lists the live session")
    check(client.execute_command("SESSION.END", rotated) == 1, f"RESP{protocol}: SESSION.END")
    check(client.execute_command("SESSION.COUNT", "alice") == 0, "no active session is left")

    # a transaction, and an optimistic update with WATCH (redis-py's transaction helper)
    pipe = client.pipeline()  # transaction=True: MULTI ... EXEC
    pipe.set("views", 1).incrby("views", 41).get("views")
    check(pipe.execute() == [True, 42, "42"], f"RESP{protocol}: MULTI/EXEC pipeline")

    def bump(pipe):
        current = int(pipe.get("views"))
        if not hasattr(bump, "raced"):
            bump.raced = True
            client.set("views", 100)  # another writer: EXEC must abort and retry
        pipe.multi()
        pipe.set("views", current + 1)

    client.transaction(bump, "views")
    check(client.get("views") == "101", f"RESP{protocol}: WATCH aborted the raced EXEC, the retry won")
    client.delete("views")

    # the string and key commands cache and session libraries build on
    client.set("flask:s1", "payload", ex=300)
    check(client.get("flask:s1") == "payload", f"RESP{protocol}: SET EX / GET")
    check(client.getex("flask:s1", ex=600) == "payload", f"RESP{protocol}: GETEX")
    check(590 <= client.ttl("flask:s1") <= 600, f"RESP{protocol}: GETEX moved the expiry")
    keys = sorted(client.scan_iter(match="flask:*", count=10))
    check(keys == ["flask:s1"], f"RESP{protocol}: SCAN MATCH finds it")
    check(client.delete("flask:s1") == 1, f"RESP{protocol}: DEL")
    client.close()


def main():
    raw = redis.Redis(port=PORT, db=3)
    raw.flushdb()
    django_sessions(raw)
    for protocol in (2, 3):
        redis_py(protocol)
    print("all checks passed")


main()
