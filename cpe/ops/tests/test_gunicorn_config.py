"""config/gunicorn.conf.py as production starts it: each worker listens on its own socket, so
the kernel spreads new connections over the workers instead of one worker taking every kept-alive
connection it wins the race for (decision 0026)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from cpe.core.tests.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
PID_APP = """import os

def app(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def _listening_sockets(port: int) -> int:
    """Listening TCP sockets on this loopback port (/proc/net/tcp: state 0A)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def _answering_pid(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return int(data.rsplit(b"\r\n\r\n", 1)[1])


def test_each_worker_listens_on_its_own_socket_and_connections_reach_several(tmp_path):
    (tmp_path / "pid_app.py").write_text(PID_APP)
    port = free_port()
    env = {
        **os.environ,
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "-c", "config/gunicorn.conf.py", "--pythonpath", str(tmp_path), "pid_app:app"],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while _listening_sockets(port) < 3 and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        # One shared socket (the old configuration) shows here as a single listener.
        assert _listening_sockets(port) == 3
        workers = set(map(int, Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()))
        answered = {_answering_pid(port) for _ in range(60)}
        assert answered <= workers
        assert len(answered) >= 2
    finally:
        server.terminate()
        server.wait(60)
