"""The operations door: the outermost WSGI layer (config/wsgi.py), in front of the heartbeat's
door (config/hotpath_wsgi.py) and Django.

For every request it takes or makes the request id (cpe/ops/logs.py), which every log line
of the request carries and the response returns in `X-Request-ID`, and counts the request in
the Prometheus metrics (cpe/ops/metrics.py): latency by area, and heartbeats accepted or
refused whichever door answered them. Per request that is a dictionary look-up, a clock read
and a histogram update: no query, no Redis command.

It answers three paths itself, before Django (so that a probe needs no Host header the site
knows, is not redirected to HTTPS, and is not turned away by a maintenance window):
    /-/live     liveness: 200 while the process answers
    /-/ready    readiness: 200 or 503 with each part's result (database, Redis, storage,
                migrations)
    /-/metrics  the Prometheus exposition
only to clients inside: the address `cpe.core.net.client_ip` gives (the browser's, behind
nginx) must be in OPS_ALLOWED_NETWORKS. Anyone else gets the same 404 as an unknown page.
nginx refuses these paths from outside as well (deploy/nginx/cpe.conf)."""

import ipaddress
import json
import logging
import re

PREFIX = "/-/"
HEARTBEAT = re.compile(r"^/api/learning/sessions/[0-9a-f]{32}/heartbeat$")
access_log = logging.getLogger("cpe.access")


def wrap(inner):
    from django.conf import settings
    from django.core import signals
    from django.dispatch import receiver
    from django.test.signals import setting_changed

    from cpe.core.net import client_ip
    from cpe.ops import health, logs, metrics

    nets = []

    @receiver(setting_changed, weak=False)
    def _settings_changed(setting=None, **kwargs):
        if setting == "OPS_ALLOWED_NETWORKS":
            nets.clear()

    def inside(environ) -> bool:
        if not nets:
            nets.extend(
                ipaddress.ip_network(n.strip(), strict=False)
                for n in settings.OPS_ALLOWED_NETWORKS
                if n.strip()
            )
            nets.append(None)  # parsed (an empty allow-list admits nobody)
        ip = client_ip(environ)
        if ip is None:
            return False
        addr = ipaddress.ip_address(ip)
        return any(n is not None and addr.version == n.version and addr in n for n in nets)

    def plain(start_response, status, body: bytes, ctype="application/json", extra=()):
        start_response(
            status,
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                *extra,
            ],
        )
        return [body]

    def ops(environ, start_response, path):
        if not inside(environ):
            return plain(start_response, "404 Not Found", b'{"detail":"Not Found"}')
        if path == "/-/live":
            return plain(start_response, "200 OK", b'{"status":"ok"}')
        if path not in ("/-/ready", "/-/metrics"):
            return plain(start_response, "404 Not Found", b'{"detail":"Not Found"}')
        signals.request_started.send(sender=None)  # Django's connection bookkeeping, as a view has
        try:
            if path == "/-/ready":
                ready, parts = health.readiness()
                body = json.dumps({"status": "ok" if ready else "unavailable", "checks": parts}).encode()
                return plain(start_response, "200 OK" if ready else "503 Service Unavailable", body)
            body, ctype = metrics.render()
            return plain(start_response, "200 OK", body, ctype)
        finally:
            signals.request_finished.send(sender=None)

    def application(environ, start_response):
        rid = logs.incoming_id(environ)
        environ["cpe.request_id"] = rid
        token = logs.request_id.set(rid)
        path = environ.get("PATH_INFO", "")
        seen = []

        def start(status, headers, exc_info=None):
            seen.append(status)
            headers.append(("X-Request-ID", rid))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        began = metrics.now()
        try:
            if path.startswith(PREFIX):
                return ops(environ, start, path)
            return inner(environ, start)
        finally:
            code = int(seen[-1][:3]) if seen and seen[-1][:3].isdigit() else 500
            method = environ.get("REQUEST_METHOD", "")
            took = metrics.now() - began
            metrics.observe_request(
                path, method, code, took, heartbeat=method == "POST" and HEARTBEAT.match(path) is not None
            )
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    method,
                    path,
                    code,
                    extra={
                        "status": code,
                        "duration_ms": round(took * 1000, 1),
                        "client": client_ip(environ),
                    },
                )
            logs.request_id.reset(token)

    return application
