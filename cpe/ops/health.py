"""Liveness and readiness.

Liveness: the process answers (no dependency is touched: a database outage must not make an
orchestrator restart every web process). Readiness: this node can serve learners now, checked
part by part: the database answers, Redis answers (when configured), the file storage can be
listed, and every migration in the code is applied to the database."""

from django.conf import settings

# Once a process has seen every migration applied it stays so (the code it runs does not
# change); until then each readiness probe looks again.
_migrated = [False]


def check_database() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> str | None:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return "not configured"
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        if not client.ping():
            raise RuntimeError("no PONG")
    finally:
        client.close()


def check_storage() -> None:
    """The default storage answers a look-up (a local directory or an S3-compatible bucket
    alike: whichever backend STORAGES configures)."""
    from django.core.files.storage import default_storage

    default_storage.exists("readyz-probe")


def check_migrations() -> None:
    if _migrated[0]:
        return
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} unapplied")
    _migrated[0] = True


CHECKS = (
    ("database", check_database),
    ("redis", check_redis),
    ("storage", check_storage),
    ("migrations", check_migrations),
)


def readiness() -> tuple[bool, dict]:
    """(ready, {part: "ok" | "not configured" | "fail: <exception class>"}). The exception's text is not shown
    (it may carry a host name or a path); the log has it."""
    import logging

    log = logging.getLogger("cpe.ops.health")
    results, ready = {}, True
    for name, check in CHECKS:
        try:
            results[name] = check() or "ok"
        except Exception as exc:  # noqa: BLE001 - every failure is a "not ready"
            log.warning("readiness: %s failed", name, exc_info=True)
            results[name] = f"fail: {type(exc).__name__}"
            ready = False
    return ready, results
