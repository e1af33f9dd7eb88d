"""A trial, not production: the heartbeat's door (config/hotpath_wsgi.Door, the same checks and
answers) on an asyncio server of its own, with the Redis commands of the reports that arrive
together sent in one write on one connection (pipelined: a group commit), each report judged on
its own as `hotpath.beat` judges it (`hotpath.beat_steps`, the commit's compare-and-set per
report unchanged). Measured by bench/heartbeat/run.py --aio against gunicorn in the same rounds.

    python bench/heartbeat/aio_door.py PORT PROCESSES

starts PROCESSES children, each its own event loop on PORT (SO_REUSEPORT), and waits. Routes:
POST /api/learning/sessions/<key>/heartbeat with X-Play-Token (the door), GET /bare/ (a fixed
answer: this server's floor) and POST /floor/… (the body read and one Redis script, pipelined
like the heartbeat's). Anything else: 404 (in a deployment nginx would send only the
heartbeat route here).

What it leaves out, being a trial: the request parser is minimal (HTTP/1.1, Content-Length
bodies, no chunked bodies, no pipelined requests from the client beyond one at a time per
connection); the rare steps of a report (a state rebuilt from PostgreSQL, a suspicious
pattern or a completion written) run inside the event loop and hold it; a Redis connection
that breaks fails the reports waiting on it, and those sent until it is back (0.5 s later),
with 503 (nothing acknowledged is lost: the commit is idempotent and the player claims the
time again); no command is sent again."""

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
MAX_HEAD = 8192


class Incomplete(Exception):
    pass


def parse_reply(buf, pos):
    """One RESP reply from buf at pos: (value, next pos), as cpe.core.redis_wire reads them
    (bulk strings as bytes, nil as None, errors as ReplyError instances, not raised)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    t, rest = buf[pos : pos + 1], bytes(buf[pos + 1 : end])
    pos = end + 2
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        return bytes(buf[pos : pos + n]), pos + n + 2
    if t == b":":
        return int(rest), pos
    if t == b"*":
        n = int(rest)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = parse_reply(buf, pos)
            out.append(v)
        return out, pos
    if t == b"+":
        return rest, pos
    if t == b"-":
        return RedisError(rest.decode(errors="replace")), pos
    raise ConnectionError(f"unexpected redis reply {rest[:20]!r}")


class RedisError(Exception):
    pass


class Redis(asyncio.Protocol):
    """One connection; commands queued during one turn of the loop go out in one write, and
    their replies come back in order to their callbacks."""

    def __init__(self, loop, url):
        from redis.connection import parse_url

        self.loop, self.params = loop, parse_url(url)
        self.transport, self.ready = None, None
        self.out, self.waiting, self.buf, self.scheduled = [], deque(), bytearray(), False
        self.batch = os.environ.get("AIO_BATCH", "1") != "0"  # 0: each command written at once
        self.writes = self.commands = 0

    async def connect(self):
        self.ready = self.loop.create_future()
        await self.loop.create_connection(
            lambda: self, self.params.get("host", "127.0.0.1"), self.params.get("port", 6379)
        )
        self.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.params.get("db"):
            got = self.loop.create_future()
            self.send(["SELECT", str(self.params["db"])], got.set_result)
            await got

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.transport = None
        while self.waiting:
            self.waiting.popleft()(ConnectionError("redis connection lost"))
        self.loop.call_later(0.5, self.reconnect)

    def reconnect(self):
        async def again():
            try:
                await self.connect()
            except OSError:
                self.loop.call_later(0.5, self.reconnect)

        self.loop.create_task(again())

    def send(self, args, callback):
        from cpe.core.redis_wire import _pack

        self.out.append(_pack(args))
        self.waiting.append(callback)
        if not self.batch:
            self.flush()
        elif not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self.scheduled = False
        if self.out:
            self.writes, self.commands = self.writes + 1, self.commands + len(self.out)
            data, self.out = b"".join(self.out), []
            if self.transport is None:
                while self.waiting:
                    self.waiting.popleft()(ConnectionError("redis connection lost"))
                return
            self.transport.write(data)

    def data_received(self, data):
        self.buf += data
        pos = 0
        try:
            while self.waiting:
                value, pos = parse_reply(self.buf, pos)
                self.waiting.popleft()(value)
        except Incomplete:
            pass
        del self.buf[:pos]


class Server:
    def __init__(self, loop):
        import django

        django.setup()
        from config.hotpath_wsgi import ROUTE, door
        from cpe.core import redis_wire
        from cpe.learning import hotpath
        from cpe.ops import logs, metrics

        self.loop, self.door, self.route, self.hotpath = loop, door(), ROUTE, hotpath
        self.logs, self.metrics = logs, metrics
        self.url = hotpath._config()[1]
        self.redis = Redis(loop, self.url)
        self.scripts = hotpath._SCRIPTS
        for script in self.scripts.values():  # loaded once; NOSCRIPT later: that step runs inline
            redis_wire.client(self.url).script_load(script.source)
        from bench.heartbeat.wsgi import FLOOR

        self.floor = FLOOR
        redis_wire.client(self.url).script_load(FLOOR.source)

    def command(self, name_or_script, keys, args, callback):
        script = self.scripts[name_or_script] if isinstance(name_or_script, str) else name_or_script
        self.redis.send(["EVALSHA", script.sha, len(keys), *keys, *args], callback)

    # the judgement, driven by replies
    def step(self, conn, environ, steps, reply):
        from cpe.learning.errors import LearningError

        try:
            if isinstance(reply, ConnectionError):
                steps.close()
                raise self.hotpath._refuse("unavailable")
            if isinstance(reply, RedisError):
                if not str(reply).startswith("NOSCRIPT"):
                    steps.close()
                    raise reply
                reply = self.hotpath._run(*self._last[id(steps)])  # inline: it loads the script
            try:
                cmd = steps.send(reply)
            except StopIteration as stop:
                answer = self.door.accepted(environ, stop.value)
            else:
                self._last[id(steps)] = cmd
                self.command(*cmd, lambda r: self.step(conn, environ, steps, r))
                return
        except LearningError as exc:
            answer = self.door.refused(environ, exc)
        except Exception:
            import logging

            logging.getLogger("cpe.learning.hotpath").exception("heartbeat failed")
            answer = self.door.answer(environ, "500 Internal Server Error", {"detail": "error"})
        self._last.pop(id(steps), None)
        self.door.finish()
        conn.respond(environ, answer)

    _last: dict = {}

    def handle(self, conn, environ):
        path = environ["PATH_INFO"]
        if path == "/bare/":
            return conn.respond(environ, ("200 OK", [("Content-Type", "application/json")], b'{"ok": true}'))
        if path.startswith("/floor/"):
            environ["wsgi.input"].read()
            return self.command(
                self.floor,
                ["cpebench:floor"],
                ["1"],
                lambda r: conn.respond(
                    environ, ("200 OK", [("Content-Type", "application/json")], b'{"ok": true}')
                ),
            )
        m = self.route.match(path)
        if not (environ["REQUEST_METHOD"] == "POST" and "HTTP_X_PLAY_TOKEN" in environ and m):
            return conn.respond(environ, ("404 Not Found", [("Content-Type", "text/plain")], b"not found"))
        got = self.door.admit(environ, m.group(1), path)
        if not isinstance(got, dict):
            return conn.respond(environ, got)
        self.step(conn, environ, self.hotpath.beat_steps(**got), None)


class Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server, self.buf, self.busy, self.transport = server, bytearray(), False, None

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername")[0]
        self.sock = transport.get_extra_info("sockname")

    def data_received(self, data):
        self.buf += data
        if not self.busy:
            self.next_request()

    def next_request(self):
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD:
                self.transport.close()
            return
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        try:
            method, target, _ = head[0].split(" ", 2)
        except ValueError:
            self.transport.close()
            return
        path, _, query = target.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": self.sock[0],
            "SERVER_PORT": str(self.sock[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.peer,
            "wsgi.url_scheme": "http",
        }
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().upper().replace("-", "_")
            if name not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
                name = "HTTP_" + name
            environ[name] = value.strip()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 65536:
            self.transport.close()
            return
        if len(self.buf) < end + 4 + length:
            return
        environ["wsgi.input"] = io.BytesIO(bytes(self.buf[end + 4 : end + 4 + length]))
        del self.buf[: end + 4 + length]
        self.busy = True
        environ["cpe.request_id"] = self.server.logs.incoming_id(environ)
        environ["cpe.began"] = self.server.metrics.now()
        self.server.handle(self, environ)

    def respond(self, environ, answer):
        status, headers, body = answer
        headers = [*headers, ("X-Request-ID", environ["cpe.request_id"])]
        if not any(k == "Content-Length" for k, _ in headers):
            headers.append(("Content-Length", str(len(body))))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                b"".join(
                    (
                        f"HTTP/1.1 {status}\r\n".encode(),
                        "".join(f"{k}: {v}\r\n" for k, v in headers).encode("latin-1"),
                        b"\r\n",
                        body,
                    )
                )
            )
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        heartbeat = method == "POST" and path.endswith("/heartbeat") and not path.startswith("/floor/")
        took = self.server.metrics.now() - environ["cpe.began"]
        self.server.metrics.observe_request(path, method, int(status[:3]), took, heartbeat=heartbeat)
        self.busy = False
        if self.buf:
            self.next_request()

    def connection_lost(self, exc):
        self.transport = None


def child(port: int):
    # The rare steps that query PostgreSQL run in the loop (see above): Django refuses that in
    # an event loop's thread unless told.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = Server(loop)
    loop.run_until_complete(server.redis.connect())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    loop.run_until_complete(loop.create_server(lambda: Connection(server), sock=sock))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    r = server.redis
    print(f"aio door {os.getpid()}: {r.commands} redis commands in {r.writes} writes", file=sys.stderr)


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "--child":
        return child(port)
    kids = [subprocess.Popen([sys.executable, __file__, str(port), "1", "--child"]) for _ in range(n)]

    def stop(*_):
        for k in kids:
            k.terminate()

    signal.signal(signal.SIGTERM, stop)
    for k in kids:
        k.wait()


if __name__ == "__main__":
    main()
