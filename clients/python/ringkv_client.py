"""A small ringkv client in Python, on the code the Thrift compiler generates
from idl/kv.thrift (see docs/clients.md):

    thrift --gen py -out GEN_DIR idl/kv.thrift
    python3 clients/python/ringkv_client.py GEN_DIR HOST PORT < commands

It reads commands, one per line, words split on spaces:

    put KEY VALUE LEVEL [TTL_SECONDS]     (LEVEL ANY too, for put and delete)
    get KEY LEVEL                        (LEVEL SERIAL: the latest linearizable value)
    mget KEY [KEY...] LEVEL              (1 to 100 keys in one call, getMany)
    delete KEY LEVEL
    batch put KEY VALUE | delete KEY ... LEVEL   (one logged batch, 1 to 100 keys)
    scan START STOP LEVEL PAGE_SIZE      (- for an empty START or STOP)
    cas KEY EXPECTED NEW [LEVEL]         (- for an absent EXPECTED; LEVEL QUORUM or ALL)

and prints one JSON object per command: {"ok": true, ...} or
{"ok": false, "error": "InvalidRequest", "message": "..."}. Keys and values
are UTF-8 text. The test suite runs it against real nodes
(test/integration/python-client.test.ts).
"""
import json
import sys
import uuid

sys.path.insert(0, sys.argv[1])

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

from kv import KeyValue  # noqa: E402
from kv.ttypes import BatchWrite, InvalidRequest, Level, TimedOut, Unavailable  # noqa: E402


def level(name):
    if name.upper() not in Level._NAMES_TO_VALUES:
        raise ValueError(f'unknown consistency level "{name}"; use ANY, ONE, TWO, THREE, QUORUM, ALL or SERIAL')
    return Level._NAMES_TO_VALUES[name.upper()]


def bound(word):
    return b"" if word == "-" else word.encode()


def put(client, key, value, lvl, ttl=None):
    if ttl is None:
        ts = client.put(key.encode(), value.encode(), level(lvl))
    else:
        ts = client.putWithTtl(key.encode(), value.encode(), level(lvl), int(ttl))
    return {"ts": ts}


def delete(client, key, lvl):
    return {"ts": client.remove(key.encode(), level(lvl))}


def get(client, key, lvl):
    r = client.get(key.encode(), level(lvl))
    return {"found": r.found, "value": r.value.decode() if r.found else None}


def mget(client, *words):
    """The keys, then the level: one getMany, one entry per key in the order given."""
    if len(words) < 2:
        raise ValueError("mget takes one or more keys, then a level")
    keys, lvl = words[:-1], words[-1]
    results = client.getMany([k.encode() for k in keys], level(lvl))
    return {"entries": [{"key": k, "found": r.found, "value": r.value.decode() if r.found else None} for k, r in zip(keys, results)]}


def batch(client, *words):
    """[unlogged] put KEY VALUE and delete KEY writes, then the level: one logged batch, all or nothing
    in the end (unlogged: no batch log, so a failure may leave it applied in part)."""
    unlogged = len(words) > 0 and words[0] == "unlogged"
    first = 1 if unlogged else 0
    if len(words) < first + 3:
        raise ValueError("batch takes one or more writes, then a level")
    writes, i, end = [], first, len(words) - 1
    while i < end:
        if words[i] == "put" and i + 2 < end:
            writes.append(BatchWrite(key=words[i + 1].encode(), value=words[i + 2].encode()))
            i += 3
        elif words[i] == "delete" and i + 1 < end:
            writes.append(BatchWrite(key=words[i + 1].encode(), remove=True))
            i += 2
        else:
            raise ValueError(f'batch write {len(writes) + 1}: expected put KEY VALUE or delete KEY at "{words[i]}"')
    # A logged batch leaves the flag out (None): the frame an older node has always had.
    ts = client.batch(writes, level(words[-1]), True if unlogged else None)
    return {"ts": ts, "writes": len(writes), **({"unlogged": True} if unlogged else {})}


def scan(client, start, stop, lvl, page_size):
    """Every live key of [START, STOP), page by page, following the cursor."""
    entries, cursor, pages = [], b"", 0
    while True:
        r = client.scan(bound(start), bound(stop), level(lvl), int(page_size), cursor)
        pages += 1
        entries += [{"key": e.key.decode(), "value": e.value.decode()} for e in r.entries]
        if not r.more:
            return {"entries": entries, "pages": pages}
        cursor = r.cursor


def changes(client, start, stop):
    """This node's change feed of [START, STOP), from the beginning of its log until it has caught up."""
    found, incarnation, after, pages = [], 0, 0, 0
    while True:
        p = client.changes(bound(start), bound(stop), incarnation, after, 1000, 0)
        pages += 1
        found += [{"key": c.key.decode(), "value": None if c.deleted else c.value.decode()} for c in p.changes]
        incarnation, after = p.incarnation, p.position
        if p.caughtUp:
            return {"changes": found, "pages": pages}


# Attempts of one cas when its reply is lost (TimedOut): each with the same
# request id, so that a cas that was applied answers applied=true on a retry
# instead of applying twice.
CAS_ATTEMPTS = 3


def cas(client, key, expected, new, lvl="QUORUM"):
    request_id = uuid.uuid4().hex
    absent = expected == "-"
    for attempt in range(1, CAS_ATTEMPTS + 1):
        try:
            r = client.cas(key.encode(), absent, b"" if absent else expected.encode(), new.encode(), request_id, level(lvl))
            break
        except TimedOut:
            if attempt == CAS_ATTEMPTS:
                raise
    now = r.current
    return {"applied": r.applied, "value": now.value.decode() if now.found else None}


# The commands this client knows, by name: a function of the client and the
# command's words.
COMMANDS = {"put": put, "get": get, "mget": mget, "delete": delete, "batch": batch, "scan": scan, "cas": cas, "changes": changes}


def run(client, words):
    op = words[0]
    try:
        return {"ok": True, "op": op, **COMMANDS[op](client, *words[1:])}
    except (InvalidRequest, Unavailable, TimedOut) as e:
        return {"ok": False, "op": op, "error": type(e).__name__, "message": e.message}
    except ValueError as e:  # refused here, before anything was sent
        return {"ok": False, "op": op, "error": "InvalidRequest", "message": str(e)}


def main():
    host, port = sys.argv[2], int(sys.argv[3])
    transport = TTransport.TFramedTransport(TSocket.TSocket(host, port))
    client = KeyValue.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    try:
        for line in sys.stdin:
            words = line.split()
            if words:
                print(json.dumps(run(client, words)), flush=True)
    finally:
        transport.close()


if __name__ == "__main__":
    main()
