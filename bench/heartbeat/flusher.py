"""The write-behind flusher as production runs it (the Celery beat task
cpe.learning.tasks.flush_heartbeats), in its own process: every N seconds until terminated.

usage: flusher.py SECONDS [PAUSE_FILE]
While PAUSE_FILE exists it does not flush (the benchmark's baseline rounds); it acknowledges by
creating PAUSE_FILE.ack between flushes."""

import signal
import sys
import time
from pathlib import Path

import django

django.setup()

from cpe.learning import hotpath  # noqa: E402

stop = False


def _stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, _stop)
every = float(sys.argv[1])
pause = Path(sys.argv[2]) if len(sys.argv) > 2 else None
ack = Path(f"{pause}.ack") if pause else None
waited = 0.0  # unpaused seconds since the last flush
while not stop:
    time.sleep(0.05)
    if pause and pause.exists():
        ack.touch()
        continue
    if ack and ack.exists():
        ack.unlink()
    waited += 0.05
    if waited < every:
        continue
    waited = 0.0
    t0 = time.time()
    n = hotpath.flush_dirty()
    print(f"flusher: {n} play sessions written in {time.time() - t0:.1f}s", flush=True)
