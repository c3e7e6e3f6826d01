#!/usr/bin/env python3
"""Writes seeds of the `aof_record` fuzz target into fuzz/corpus/aof_record/ from the AOF
directories a real server wrote (`sessiond --appendonly yes --appendfsync always`, driven
with redis-cli through strings, expiry, SWAPDB, FLUSHDB/FLUSHALL, sessions created, changed,
rotated, ended and recovered, namespaces created, configured and dropped, then a
BGREWRITEAOF for a base of packed session records).

Usage: aof_seeds.py AOF_DIR [AOF_DIR ...]

Seeds: every record alone (frame and payload), every payload alone, each file's records
back to back, each whole file (header included), and a torn and a zero-filled tail.
"""

import os
import struct
import sys

HEADER_LEN = 20


def records(body):
    at = 0
    while at + 8 <= len(body):
        (length,) = struct.unpack_from("<I", body, at)
        yield body[at : at + 8 + length]
        at += 8 + length


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "corpus", "aof_record")
    os.makedirs(out, exist_ok=True)
    seeds = {}
    for index, directory in enumerate(sys.argv[1:]):
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".aof"):
                continue
            data = open(os.path.join(directory, name), "rb").read()
            tag = "%d-%s" % (index, name.replace("appendonly.aof.", "").replace(".aof", ""))
            body = data[HEADER_LEN:]
            seeds["file-" + tag] = data
            seeds["records-" + tag] = body
            recs = list(records(body))
            for n, record in enumerate(recs):
                seeds["record-%s-%02d-kind%d" % (tag, n, record[8])] = record
                seeds["payload-%s-%02d-kind%d" % (tag, n, record[8])] = record[8:]
            if recs:
                seeds["torn-" + tag] = body[: len(body) - len(recs[-1]) // 2]
                seeds["zeros-" + tag] = body + b"\0" * 24
    for name, data in seeds.items():
        if data:
            with open(os.path.join(out, "seed-" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
