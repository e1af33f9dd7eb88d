"""The write-behind flusher as production runs it (the Celery beat task
cpe.learning.tasks.flush_heartbeats), in its own process: every N seconds until terminated.

usage: flusher.py SECONDS"""
import signal
import sys
import time

import django

django.setup()

from cpe.learning import hotpath  # noqa: E402

stop = False


def _stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, _stop)
every = float(sys.argv[1])
while not stop:
    t = time.time()
    while not stop and time.time() - t < every:
        time.sleep(0.2)
    if stop:
        break
    t0 = time.time()
    n = hotpath.flush_dirty()
    print(f"flusher: {n} play sessions written in {time.time() - t0:.1f}s", flush=True)
