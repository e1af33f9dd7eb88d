"""The AIS simulator for the tests: `python -m ais_sim` started in a subprocess on a free loopback
port (its own SQLite file), a handle on its admin endpoints, and the real adapter pointed at it.
The fixtures that start it once per session and reset it before each test are in this folder's
conftest; a test that starts its own simulator (the contract tests, e2e) imports from here."""

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import requests

from cpe.core.tests.clock import moved_clock_argv
from cpe.reporting.clients.http import HttpAisClient

ROOT = Path(__file__).resolve().parents[3]
TEST_PROVIDER = "CPE-TEST"
TEST_SECRET = "test-secret-for-the-contract-tests"


class Sim:
    """Handle on a running simulator: its URL and the admin endpoints of ais_sim/README.md."""

    def __init__(self, url: str, proc: subprocess.Popen, db: Path):
        self.url, self.proc, self.db = url, proc, db
        self.http = requests.Session()
        self.http.trust_env = False

    def admin(self, method: str, path: str, json=None) -> dict:
        r = self.http.request(method, self.url + path, json=json, timeout=10)
        r.raise_for_status()
        return r.json()

    def reset(self):
        self.admin("POST", "/_sim/reset")

    def seed(self, *persons: dict) -> list[dict]:
        return self.admin("POST", "/_sim/persons", {"persons": list(persons)})["persons"]

    def fault(self, **rule) -> list[dict]:
        return self.admin("POST", "/_sim/faults", rule)["faults"]

    def requests(self) -> list[dict]:
        return self.admin("GET", "/_sim/requests")["requests"]

    def credits(self, **params) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.admin("GET", "/_sim/credits" + (f"?{query}" if query else ""))["items"]

    def client(self, **overrides) -> "RecordingClient":
        return RecordingClient(self, **overrides)


class RecordingClient(HttpAisClient):
    """The real adapter pointed at the test simulator, with waits recorded instead of slept and
    exchanges kept in memory (tests that check the database use the default recorder)."""

    def __init__(self, sim: Sim, **overrides):
        self.sleeps, self.exchanges = [], []
        defaults = dict(
            base_url=sim.url,
            provider_code=TEST_PROVIDER,
            secret=TEST_SECRET,
            timeout=(2, 5),
            max_retries=3,
            sleep=self.sleeps.append,
            recorder=self._remember,
        )
        defaults.update(overrides)
        super().__init__(**defaults)

    def _remember(self, **entry):
        self.exchanges.append(entry)


def start_simulator(tmp_dir: Path, *extra: str, env_extra: dict | None = None, port_args=("--port", "0")):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIS_")}
    env.update({"AIS_PROVIDER_CODE": TEST_PROVIDER, "AIS_SECRET": TEST_SECRET, "PYTHONUNBUFFERED": "1"})
    env.update(env_extra or {})
    db = tmp_dir / "ais_sim.sqlite3"
    proc = subprocess.Popen(
        [*moved_clock_argv("ais_sim"), "--host", "127.0.0.1", *port_args, "--db", str(db), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(20)
    match = re.search(r"listening on (http://\S+)", lines[0] if lines else "")
    if not match:
        proc.kill()
        raise RuntimeError(f"the AIS simulator did not start: {lines!r} {proc.stderr.read()[-2000:]!r}")
    sim = Sim(match.group(1), proc, db)
    for _ in range(50):
        try:
            sim.admin("GET", "/_sim/health")
            break
        except requests.RequestException:
            time.sleep(0.1)
    return sim


def stop_simulator(sim: Sim):
    sim.proc.terminate()
    try:
        sim.proc.wait(10)
    except subprocess.TimeoutExpired:
        sim.proc.kill()
    for stream in (sim.proc.stdout, sim.proc.stderr):
        stream.close()
