"""Redis for the hot paths (infrastructure: no rules here). Two things, per process:

- `client(url)`: redis-py's client for the URL, made once per process (redis-py's pool notices a
  fork by itself);
- `wire(url)`: for `redis://` URLs, a plain socket per thread speaking RESP directly, for the few
  commands a hot path sends on every request (EVALSHA of its scripts). redis-py's general client
  costs ~100 µs of CPU per command there, this ~25. `evalsha(url, …)` takes the wire when there is
  one and redis-py otherwise (`rediss://`, `unix://`), with the same replies: bytes, int, None,
  lists of them.

A forked child (gunicorn's workers, Celery's) never uses its parent's sockets: each connection
remembers the process that opened it (`os.register_at_fork` below).

**Broken connections** (Redis restarted, `CLIENT KILL`, an idle timeout, a reset): the wire
reconnects and sends the command again once, only where that is safe.
- Before each command the socket is polled without waiting. A socket that is readable while no
  reply is due was closed by Redis (end of file) or holds stray bytes: it is replaced before
  anything is written, so the command goes out once, on the fresh connection. This is the case
  after a Redis restart or a `CLIENT KILL`: every pooled socket is found dead this way.
- A failure after the command was (partly) written (broken pipe, reset, end of file or a
  timeout while reading the reply) leaves unknown whether Redis ran it. It is sent again once on
  a fresh connection only when the caller says the command is idempotent (`idempotent=True`): a
  read, or a script written so that running it twice changes nothing more than running it once
  (the learning hot path's compare-and-set commit is: see cpe/learning/hotpath.py). Otherwise,
  and when the second try fails too, `Unavailable` is raised.
- Connecting fails (Redis unreachable): `Unavailable` at once; a request does not wait in a loop.
Callers catch `UNAVAILABLE` (this module's error and redis-py's connection and timeout errors)."""

import hashlib
import os
import select
import socket
import threading

import redis
from redis.connection import parse_url

TIMEOUT = 5.0  # seconds: connect, and wait for one reply
# Seconds after which a request refused because Redis could not be reached may be made again (the
# Retry-After of its 503): a Redis restart from its append-only file takes a few seconds.
RETRY_AFTER_SECONDS = 5


class Unavailable(ConnectionError):
    """Redis could not be reached, or the connection broke where the command may not be sent again."""


class ReplyError(RuntimeError):
    """Redis answered the command with an error."""


UNAVAILABLE = (Unavailable, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class Script:
    """A Lua script, by its SHA1 (EVALSHA; loaded on NOSCRIPT)."""

    __slots__ = ("source", "sha")

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


# --- the process (fork hooks) ---------------------------------------------------------------------
_pid = os.getpid()


def _forked():
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)

_clients: dict = {}
_wires: dict = {}


def client(url: str) -> redis.Redis:
    """redis-py's client for the URL, one per process (it holds a pool, not a connection)."""
    c = _clients.get(url)
    if c is None:
        c = _clients[url] = redis.Redis.from_url(url, health_check_interval=30)
    return c


def wire(url: str) -> "Wire | None":
    """The plain-socket client for a `redis://` URL (None for any other scheme)."""
    w = _wires.get(url, False)
    if w is False:
        w = _wires[url] = Wire(url) if url.startswith("redis://") else None
    return w


def evalsha(url: str, script: Script, keys, args, *, idempotent: bool):
    """Run the script on the URL's Redis: over the wire when there is one, else redis-py (whose
    own retries on a broken connection are safe only for idempotent scripts: every script the
    hot paths send is one)."""
    w = wire(url)
    if w is not None:
        return w.evalsha(script, keys, args, idempotent=idempotent)
    c = client(url)
    try:
        return c.evalsha(script.sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        c.script_load(script.source)
        return c.evalsha(script.sha, len(keys), *keys, *args)


class _Error(str):
    """An error reply, returned (not raised) by the reader."""


class Wire:
    """RESP over one socket per thread (and per process)."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT):
        self.params = parse_url(url)
        self.address = (self.params.get("host", "127.0.0.1"), self.params.get("port", 6379))
        self.timeout = timeout
        self.local = threading.local()

    # connections
    def _conn(self):
        """This thread's live connection: the open one unless Redis closed it, else a new one."""
        c = getattr(self.local, "conn", None)
        if c is not None and c[2] == _pid:
            if not c[3].poll(0):  # nothing to read while no reply is due: alive
                return c
            self.close()  # end of file (closed by Redis) or stray bytes: replaced before writing
        return self._connect()

    def _connect(self):
        self.local.conn = None  # a parent's connection (after a fork) is left to the parent
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            raise Unavailable(f"redis at {self.address[0]}:{self.address[1]}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        c = (sock, sock.makefile("rb"), _pid, poller)
        try:
            if self.params.get("password"):
                auth = [self.params["username"]] if self.params.get("username") else []
                self._checked(self._send(c, ["AUTH", *auth, self.params["password"]]))
            if self.params.get("db"):
                self._checked(self._send(c, ["SELECT", str(self.params["db"])]))
        except (OSError, ConnectionError) as exc:
            _close(c)
            raise Unavailable(f"redis at {self.address[0]}:{self.address[1]}: {exc}") from exc
        self.local.conn = c
        return c

    def close(self):
        c = getattr(self.local, "conn", None)
        self.local.conn = None
        if c is not None and c[2] == _pid:
            _close(c)

    # commands
    def call(self, args, *, idempotent: bool):
        """One command; its reply (an error reply is returned as `_Error`). On a broken
        connection: sent again once on a new connection if `idempotent` (see the module's
        docstring), else `Unavailable`."""
        data = _pack(args)
        for attempt in (0, 1):
            c = self._conn()  # Unavailable when Redis cannot be reached: nothing was sent
            try:
                return self._send(c, data)
            except (OSError, ConnectionError) as exc:  # the command may have run: idempotent only
                self.close()
                if attempt or not idempotent:
                    raise Unavailable(f"redis connection broke: {exc}") from exc
        raise AssertionError("unreachable")

    def evalsha(self, script: Script, keys, args, *, idempotent: bool):
        cmd = ["EVALSHA", script.sha, len(keys), *keys, *args]
        reply = self.call(cmd, idempotent=idempotent)
        if isinstance(reply, _Error) and reply.startswith("NOSCRIPT"):
            self._checked(self.call(["SCRIPT", "LOAD", script.source], idempotent=True))
            reply = self.call(cmd, idempotent=idempotent)  # the first did not run: sending again is safe
        return self._checked(reply)

    @staticmethod
    def _checked(reply):
        if isinstance(reply, _Error):
            raise ReplyError(f"redis: {reply}")
        return reply

    @staticmethod
    def _send(c, data):
        c[0].sendall(data if isinstance(data, bytes) else _pack(data))
        return _read(c[1])


def _close(c):
    try:
        c[1].close()
        c[0].close()
    except OSError:
        pass


def _pack(args) -> bytes:
    """RESP array of bulk strings. Hot arguments are ASCII (hex keys and versions, numbers, JSON
    with ensure_ascii), so the command is usually built as text and encoded once."""
    try:
        strs = [a.decode("ascii") if isinstance(a, bytes) else str(a) for a in args]
        return ("*%d\r\n" % len(strs) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in strs)).encode("ascii")
    except (UnicodeEncodeError, UnicodeDecodeError):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)


def _read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):  # end of file (or cut short): Redis closed the connection
        raise ConnectionError("redis closed the connection")
    t, rest = line[:1], line[1:-2]
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise ConnectionError("redis closed the connection")
        return data[:-2]
    if t == b":":
        return int(rest)
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    if t == b"+":
        return rest
    if t == b"-":
        return _Error(rest.decode(errors="replace"))
    raise ConnectionError(f"unexpected redis reply {line[:20]!r}")
