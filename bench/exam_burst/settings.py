"""The platform as production runs it (PostgreSQL, Redis sessions/cache), DEBUG off."""

from bench.heartbeat.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.heartbeat.urls"  # the platform and the trivial view /bench/hello/ (the baseline)
