"""gunicorn as production runs the platform, behind nginx (which serves static files and, by
X-Accel-Redirect, the courseware segments):

    gunicorn -c config/gunicorn.conf.py config.wsgi:application

The benchmarks start the platform with this file too (overriding the bind address, and the
worker and thread counts when asked). Environment: WEB_BIND, WEB_WORKERS, WEB_THREADS."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Threads: a page waits on PostgreSQL and Redis; the heartbeat's front door waits on Redis once.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("WEB_THREADS", 4))
# nginx keeps upstream connections alive: a player's heartbeats every 30 s reuse them.
keepalive = 30
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new connections
# over them. With one shared socket a worker takes every connection it wins the race for and
# keeps it (nginx's upstream connections and the benchmarks' are kept alive): measured here, all
# sixteen connections on one of two workers in 5 of 20 load phases, the other core idle; with
# this, in 1 of 32 (decision 0026). A worker's socket closes with it:
# deploy/sysctl/90-cpe-web.conf hands the connections still waiting in its queue to the others.
reuse_port = True
timeout = 60
graceful_timeout = 30
# Requests are small (the largest is an exam submission, a few KB; uploads go to the staff site).
limit_request_line = 4094
limit_request_fields = 100
loglevel = os.environ.get("WEB_LOG_LEVEL", "warning")
accesslog = None

# --- Prometheus multiprocess mode (cpe/ops/metrics.py) -----------------------------------------
# Each worker writes its counters to files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up.
# The directory must exist before the workers import prometheus-client and must be emptied when
# the server starts (files left by a previous run would be counted again). The systemd unit
# sets it (RuntimeDirectory); without it a private directory is made here, in the master,
# before any worker is forked (so every worker inherits it).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cpe-prometheus-")


def on_starting(server):
    import glob

    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    import sys

    if os.environ.get("WEB_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["WEB_SWITCH_INTERVAL"]))
