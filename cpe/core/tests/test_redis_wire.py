"""The hot paths' Redis client (cpe/core/redis_wire.py) against the real Redis (REDIS_URL; CI sets
it, skipped without it): replies, scripts, a connection per thread and per process, and what it
does when its connection is killed (CLIENT KILL, as a Redis restart does to every socket) or
Redis cannot be reached."""

import os
import threading
import uuid

import pytest
import redis

from cpe.core import redis_wire

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL (CI does)")
UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1

# Adds ARGV[1] to a counter only once per token: idempotent, as every hot script is.
ADD_ONCE = redis_wire.Script(
    """
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return redis.call('GET', KEYS[1]) end
return tostring(redis.call('INCRBY', KEYS[1], ARGV[1]))
"""
)


@pytest.fixture
def keys():
    p = f"test-wire-{uuid.uuid4().hex[:12]}:"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    found = list(r.scan_iter(match=p + "*"))
    if found:
        r.delete(*found)


@pytest.fixture
def wire():
    """A wire of its own (not the process's shared one), closed after the test."""
    w = redis_wire.Wire(REDIS_URL)
    yield w
    w.close()


def _my_id(w) -> int:
    return w.call(["CLIENT", "ID"], idempotent=True)


def _kill(**how):
    """Kill connections from another connection, as an operator or a restart would."""
    other = redis.Redis.from_url(REDIS_URL)
    args = []
    for k, v in how.items():
        args += [k.upper(), str(v)]
    return other.execute_command("CLIENT", "KILL", *args)


def test_replies_and_the_selected_database(wire, keys):
    assert wire.call(["SET", keys + "a", "值"], idempotent=False) == b"OK"
    assert wire.call(["GET", keys + "a"], idempotent=True) == "值".encode()
    assert wire.call(["GET", keys + "missing"], idempotent=True) is None
    assert wire.call(["RPUSH", keys + "l", "x", "y"], idempotent=False) == 2
    assert wire.call(["LRANGE", keys + "l", 0, -1], idempotent=True) == [b"x", b"y"]
    db = int(REDIS_URL.rsplit("/", 1)[1] or 0)
    assert redis.Redis.from_url(REDIS_URL).get(keys + "a") == "值".encode()  # the URL's db
    assert f"db={db}".encode() in wire.call(["CLIENT", "INFO"], idempotent=True)


def test_a_script_is_loaded_when_redis_does_not_know_it(wire, keys):
    redis.Redis.from_url(REDIS_URL).script_flush()
    assert wire.evalsha(ADD_ONCE, [keys + "n", keys + "t"], [5, "a"], idempotent=True) == b"5"
    assert wire.evalsha(ADD_ONCE, [keys + "n", keys + "t"], [5, "a"], idempotent=True) == b"5"
    with pytest.raises(redis_wire.ReplyError):  # an error reply, raised; the connection stays usable
        wire.evalsha(redis_wire.Script("return redis.call('NO-SUCH')"), [], [], idempotent=True)
    assert wire.call(["PING"], idempotent=True) == b"PONG"


def test_evalsha_by_url_gives_the_same_replies_over_redis_py(keys):
    """A URL the wire does not speak (here the same Redis through redis-py) answers alike."""
    via_wire = redis_wire.evalsha(REDIS_URL, ADD_ONCE, [keys + "n", keys + "t"], [2, "a"], idempotent=True)
    redis_wire._wires["fallback://"] = None
    redis_wire._clients["fallback://"] = redis.Redis.from_url(REDIS_URL)
    try:
        via_py = redis_wire.evalsha(
            "fallback://", ADD_ONCE, [keys + "n", keys + "t"], [2, "a"], idempotent=True
        )
    finally:
        redis_wire._wires.pop("fallback://")
        redis_wire._clients.pop("fallback://")
    assert via_wire == via_py == b"2"


# The killing filters an operator or a restart uses, each narrowed (filters AND) to this test's
# own connection: the Redis is shared with other processes, whose connections must live.
@pytest.mark.parametrize(
    "how",
    [{}, {"type": "normal"}, {"type": "normal", "skipme": "yes"}],
    ids=["by-id", "type-normal", "skipme-yes"],
)
def test_a_killed_connection_is_replaced_before_the_command_is_written(wire, keys, how):
    """The next command, even one that must not run twice, runs once on a new connection: the
    dead socket is seen (end of file) before anything is written to it."""
    before = _my_id(wire)
    assert _kill(id=before, **how) == 1
    assert wire.call(["INCR", keys + "n"], idempotent=False) == 1
    assert _my_id(wire) != before
    assert redis.Redis.from_url(REDIS_URL).get(keys + "n") == b"1"


def _break_after_send(monkeypatch):
    """The next command is written, then the connection breaks before its reply is read (Redis
    ran it; the client cannot know)."""
    real = redis_wire.Wire._send
    broken = []

    def send(c, data):
        if not broken and isinstance(data, bytes):
            broken.append(data)
            c[0].sendall(data)
            c[0].recv(1 << 16)  # its reply arrives, and is lost with the connection
            c[0].close()
            raise ConnectionResetError("connection reset by peer")
        return real(c, data)

    monkeypatch.setattr(redis_wire.Wire, "_send", staticmethod(send))
    return broken


def test_a_break_after_writing_is_retried_only_for_an_idempotent_command(wire, keys, monkeypatch):
    r = redis.Redis.from_url(REDIS_URL)
    wire.call(["PING"], idempotent=True)
    broken = _break_after_send(monkeypatch)
    with pytest.raises(redis_wire.Unavailable):
        wire.call(["INCR", keys + "n"], idempotent=False)  # not sent again: it may have run
    assert broken and r.get(keys + "n") == b"1"

    broken.clear()
    reply = wire.evalsha(ADD_ONCE, [keys + "m", keys + "t"], [7, "x"], idempotent=True)
    assert broken and reply == b"7" and r.get(keys + "m") == b"7"  # sent twice, applied once


def test_unreachable_redis_raises_unavailable_at_once():
    w = redis_wire.Wire(UNREACHABLE)
    with pytest.raises(redis_wire.Unavailable):
        w.call(["PING"], idempotent=True)
    with pytest.raises(redis_wire.UNAVAILABLE):
        redis_wire.client(UNREACHABLE).ping()


def test_a_connection_per_thread(wire):
    ids = []

    def run():
        ids.append(_my_id(wire))
        wire.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids + [_my_id(wire)])) == 4


def test_a_forked_child_opens_its_own_connection(wire):
    parent = _my_id(wire)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its inherited socket is the parent's, never used
        try:
            os.write(write, str(_my_id(wire)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = int(os.read(read, 64) or 0)
    os.waitpid(pid, 0)
    os.close(read)
    assert child and child != parent
    assert _my_id(wire) == parent  # the parent's connection is untouched
