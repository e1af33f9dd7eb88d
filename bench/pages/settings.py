"""The platform as production runs it (PostgreSQL, Redis sessions/cache), plus the trivial
Django view at /bench/hello/ (bench/heartbeat/urls.py) and the page floor at /bench/page-floor/
(bench/pages/urls.py). DEBUG off."""

from bench.heartbeat.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.pages.urls"
