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
timeout = 60
graceful_timeout = 30
# Requests are small (the largest is an exam submission, a few KB; uploads go to the staff site).
limit_request_line = 4094
limit_request_fields = 100
loglevel = os.environ.get("WEB_LOG_LEVEL", "warning")
accesslog = None
