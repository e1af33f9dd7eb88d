"""What every benchmark does before it measures: its environment (the stores' addresses, with
its own defaults, its cache key prefix and settings), a fresh PostgreSQL database and Redis db,
migrated (each benchmark uses its own names), and gunicorn started on a free loopback port;
what they share while measuring: the CPU each part of the machine spent (/proc), rounds of one
phase added up, and the line each phase prints."""

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_env(
    db_name: str, redis_db: int, *, prefix: str, settings: str, **extra: str
) -> tuple[str, str, dict[str, str]]:
    """The benchmark's stores and environment: (db_url, redis_url, env).

    db_url is BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/<db_name>; redis_url is
    BENCH_REDIS_URL, else redis://127.0.0.1:6379/<redis_db>. env is this process's environment
    with DATABASE_URL and REDIS_URL set to them, CACHE_KEY_PREFIX=prefix,
    DJANGO_SETTINGS_MODULE=settings, PYTHONPATH=the repository root (for the processes the
    benchmark starts: manage.py, gunicorn, its load generators) and `extra` (e.g. DB_POOL_MAX);
    this process's os.environ is updated with it, so that django.setup() here reads the same.

    The caller has put the repository root on sys.path already: it imported this module."""
    db_url = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{db_name}")
    redis_url = os.environ.get("BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    os.environ.update(env)
    return db_url, redis_url, env


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fresh_stores(db_url: str, redis_url: str, env: dict) -> None:
    """Drop and re-create the benchmark's database, empty its Redis db, migrate."""
    import psycopg
    import redis

    dbname = db_url.rsplit("/", 1)[1]
    with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{dbname}"')
    redis.Redis.from_url(redis_url).flushdb()
    t = time.time()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    print(f"migrated in {time.time() - t:.0f}s", flush=True)


def start_gunicorn(app: str, *, workers: int, threads: int, env: dict):
    """The platform as production runs it (config/gunicorn.conf.py) on a free loopback port,
    once it accepts connections: (process, port)."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "config/gunicorn.conf.py",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            app,
        ],
        cwd=ROOT,
        env=env,
    )
    wait_port(port, tries=100)
    return server, port


def wait_port(port: int, *, tries: int = 200) -> None:
    """Until something accepts connections on the loopback port (at most tries × ~0.1 s)."""
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def cpu_ticks(server_pid, redis_pid) -> dict:
    """CPU clock ticks so far: the whole machine's work (all cores, /proc/stat) and its cores'
    unused time (idle), the server's master and its workers (its child processes), and Redis
    (when it runs on this machine)."""

    def proc(pid):
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])  # utime, stime
        except (OSError, IndexError):
            return 0

    kids = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    # /proc/stat's first line: user nice system idle iowait irq softirq steal …: the machine's
    # work is user + nice + system + irq + softirq; idle and iowait are the cores' time unused.
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return {
        "machine": f[0] + f[1] + f[2] + f[5] + f[6],
        "idle": f[3] + f[4],
        "server": proc(server_pid) + sum(proc(k) for k in kids),
        "redis": proc(redis_pid) if redis_pid else 0,
    }


def postgres_backends(db_url) -> list[int]:
    """The PostgreSQL server processes serving the benchmark's database (the pooled connections
    of the workers and the flusher): their CPU is this benchmark's share of PostgreSQL's."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as c:
        return [
            r[0]
            for r in c.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ]


def postgres_ticks(pids) -> dict:
    """CPU clock ticks of these PostgreSQL backends, by pid (one that ended between two readings
    is left out of the difference: a connection replaced mid-step is missed, never negative)."""
    out = {}
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out[pid] = int(f[11]) + int(f[12])
    return out


def wsgi_call(application, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[str, bytes]:
    """One request through a WSGI application in this process, as a server on loopback would
    hand it over (the in-process cost scripts): (status line, body). `headers` are CGI names
    (HTTP_COOKIE=…, CONTENT_TYPE=…)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "b",
        "SERVER_PORT": "80",
        "HTTP_HOST": "b",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "REMOTE_ADDR": "127.0.0.1",
        **headers,
    }
    status = []
    result = application(environ, lambda s, h, *a: status.append(s))
    try:
        out = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return status[0], out


def combine(acc, r, merge=None) -> dict:
    """Rounds of one phase added up: throughput over their total time, the worst round's p99, the
    CPU per request. `merge(acc, r)`: the benchmark's own keys added up (a dict)."""
    if acc is not None:
        r = {
            **r,
            "requests": acc["requests"] + r["requests"],
            "elapsed": acc["elapsed"] + r["elapsed"],
            "errors": acc["errors"] + r["errors"],
            "p99_ms": max(acc["p99_ms"], r["p99_ms"]),
            "client_cpu": acc["client_cpu"] + r["client_cpu"],
            "ticks": {k: acc["ticks"][k] + r["ticks"][k] for k in r["ticks"]},
            **(merge(acc, r) if merge else {}),
        }
    hz, n = os.sysconf("SC_CLK_TCK"), max(1, r["requests"])
    r["rps"] = r["requests"] / r["elapsed"]
    r["cpu"] = {**{k: v / hz / n * 1e6 for k, v in r["ticks"].items()}, "client": r["client_cpu"] / n * 1e6}
    return r


def phase_line(phase: str, r: dict) -> str:
    """What a phase printed: throughput, p99, errors and CPU per request by part."""
    return (
        f"{phase:12s} {r['rps']:8.0f} req/s  p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}   "
        f"CPU us/request: machine {r['cpu']['machine']:.0f} (cores idle "
        f"{100 * r['cpu']['idle'] / max(1e-9, r['cpu']['idle'] + r['cpu']['machine']):.0f} %), "
        f"gunicorn {r['cpu']['server']:.0f}, "
        f"redis {r['cpu']['redis']:.0f}, "
        + (f"postgresql {r['cpu']['postgresql']:.0f}, " if "postgresql" in r["cpu"] else "")
        + f"load generator {r['cpu']['client']:.0f}"
    )


async def exchange(reader, writer, request: bytes) -> tuple[int, bytes]:
    """Send one raw HTTP/1.1 request on a kept-alive connection; return (status, body).
    The load generators speak HTTP by hand so that the client costs little CPU."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])  # "HTTP/1.1 200 …"
    at = head.lower().find(b"\r\ncontent-length:")
    length = int(head[at + 17 : head.index(b"\r\n", at + 17)]) if at >= 0 else 0
    return status, (await reader.readexactly(length) if length else b"")
