"""What every benchmark does before it measures: a fresh PostgreSQL database and Redis db,
migrated (each benchmark uses its own names), and gunicorn started on a free loopback port."""

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, port


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
