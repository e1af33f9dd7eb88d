"""Settings the production profile relies on (deploy/cpe.env.example, deploy/systemd): read in a
fresh interpreter, as a process started by systemd reads them."""

import json
import os
import subprocess
import sys

READ = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({'routes': getattr(settings, 'CELERY_TASK_ROUTES', {}), "
    "'logging': settings.LOGGING['formatters']['main']}))"
)


def read(**env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CPE_AIS_QUEUE", "CPE_AUDIT_HEAD_QUEUE", "LOG_FORMAT")
    }
    out = subprocess.run(
        [sys.executable, "-c", READ],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_ais_tasks_go_to_their_queue_and_the_audit_route_is_kept():
    routes = read(CPE_AIS_QUEUE="ais", CPE_AUDIT_HEAD_QUEUE="audit-head")["routes"]
    assert routes["cpe.reporting.tasks.ais_report_send_task"] == {"queue": "ais"}
    assert routes["cpe.reporting.tasks.ais_report_sweep_task"] == {"queue": "ais"}
    assert routes["cpe.reporting.tasks.ais_person_check_task"] == {"queue": "ais"}
    assert routes["cpe.core.tasks.audit_head_record"] == {"queue": "audit-head"}
    # exports stay on the default queue (the worker that has the export directory)
    assert "cpe.reporting.tasks.ais_export_task" not in routes


def test_without_the_setting_nothing_is_routed():
    assert read()["routes"] == {}


def test_log_format_json_selects_the_json_formatter():
    assert read(LOG_FORMAT="json")["logging"] == {"()": "cpe.ops.logs.JsonFormatter"}
    assert "request_id" in read(LOG_FORMAT="text")["logging"]["format"]
