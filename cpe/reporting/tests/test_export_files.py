"""Export files (full ID numbers and mobiles): stored outside every served directory under a
random name, downloaded only by staff with the permission (audited), deleted after
policy.EXPORT_RETENTION by the scheduled clean-up; a download after that answers 410."""

import os
import stat
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from cpe.accounts.tests.factories import staff_with_perms
from cpe.core.models import AuditEvent
from cpe.reporting import policy
from cpe.reporting.models import ExportJob
from cpe.reporting.services import export_file_path, export_root, export_run, exports_expire
from cpe.reporting.states import ExportStatus

pytestmark = pytest.mark.django_db


def test_file_is_private_random_and_expires(done_job, roots):
    job, learner = done_job
    media, private = roots
    path = export_file_path(job)
    assert path.is_file() and path.parent == private.resolve()
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))  # nothing under MEDIA_ROOT
    assert len(job.file) >= 40 and "2026" not in job.file and "ais-results" not in job.file
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert job.expires_at == job.finished_at + policy.EXPORT_RETENTION
    # Two exports of the same year and region do not share or predict a name.
    other = export_run(job_id=ExportJob.objects.create(year=2026, created_at=timezone.now()).pk)
    assert other.file != job.file


@pytest.mark.parametrize("inside", ["media", "static"])
def test_export_root_inside_a_served_directory_refused(settings, tmp_path, inside):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.EXPORT_ROOT = str(tmp_path / inside / "exports")
    with pytest.raises(ImproperlyConfigured):
        export_root()
    job = ExportJob.objects.create(year=2026, created_at=timezone.now())
    with pytest.raises(ImproperlyConfigured):
        export_run(job_id=job.pk)
    assert not (tmp_path / inside / "exports").exists()


def test_download_needs_the_permission_and_is_audited(done_job, client, django_user_model):
    job, learner = done_job
    url = reverse("reporting:staff_export_download", args=[job.pk])
    client.force_login(staff_with_perms("reporting.view_exportjob", username="viewer"))
    assert client.get(url).status_code == 403
    assert not AuditEvent.objects.filter(event_type="reporting.export_downloaded").exists()
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    resp = client.get(url)
    assert resp.status_code == 200
    assert f"ais-results-2026-all-{job.pk}.xlsx" in resp["Content-Disposition"]
    assert job.file not in resp["Content-Disposition"]
    assert "no-store" in resp["Cache-Control"]
    b"".join(resp.streaming_content)
    downloads = AuditEvent.objects.filter(event_type="reporting.export_downloaded", subject_id=str(job.pk))
    assert downloads.count() == 1


def test_download_after_expiry_answers_410_and_the_cleanup_deletes_the_file(
    done_job, client, django_user_model
):
    import time_machine

    job, learner = done_job
    path = export_file_path(job)
    url = reverse("reporting:staff_export_download", args=[job.pk])
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    with time_machine.travel(job.expires_at - timedelta(seconds=1), tick=False):
        assert client.get(url).status_code == 200  # the second before: still there
    with time_machine.travel(job.expires_at, tick=False):
        resp = client.get(url)
    assert resp.status_code == 410
    page = resp.content.decode()
    assert "已过期" in page and "重新导出" in page and learner.id_number not in page
    assert AuditEvent.objects.filter(event_type="reporting.export_downloaded").count() == 1  # only the first
    # The clean-up: not a second early, at the instant it expires.
    assert exports_expire(at=job.expires_at - timedelta(seconds=1)) == 0 and path.is_file()
    assert exports_expire(at=job.expires_at) == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and job.file == "" and not path.exists()
    assert AuditEvent.objects.filter(event_type="reporting.export_expired", subject_id=str(job.pk)).exists()
    assert client.get(url).status_code == 410
    assert exports_expire(at=job.expires_at + timedelta(days=1)) == 0  # idempotent
    table = client.get(reverse("reporting:staff_exports_table")).content.decode()
    assert "已过期" in table and url not in table


def test_old_public_export_files_are_not_served_and_are_removed(roots, client, django_user_model):
    """A job from before this change: a guessable name under MEDIA_ROOT/exports/, no expiry."""
    media, private = roots
    legacy = media / "exports" / "ais-results-2026-all-1.xlsx"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"PK old export")
    job = ExportJob.objects.create(
        year=2026,
        created_at=timezone.now(),
        status=ExportStatus.DONE,
        file="exports/ais-results-2026-all-1.xlsx",
        finished_at=timezone.now(),
    )
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    assert client.get(reverse("reporting:staff_export_download", args=[job.pk])).status_code == 410
    assert exports_expire() == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and not legacy.exists()


def test_a_file_name_outside_the_scheme_is_never_opened(roots, client, django_user_model):
    job = ExportJob.objects.create(
        year=2026,
        created_at=timezone.now(),
        status=ExportStatus.DONE,
        file="../../etc/passwd",
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert export_file_path(job) is None
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    assert client.get(reverse("reporting:staff_export_download", args=[job.pk])).status_code == 404


def test_cleanup_removes_stale_leftovers_only(done_job, roots):
    job, _ = done_job
    media, private = roots
    live = export_file_path(job)
    stale_part, orphan = private / "x.xlsx.part", private / ("o" * 43 + ".xlsx")
    fresh = private / "new.xlsx.part"
    old = (timezone.now() - policy.EXPORT_RETENTION - timedelta(hours=1)).timestamp()
    for f in (stale_part, orphan, fresh):
        f.write_bytes(b"x")
    for f in (stale_part, orphan, live):
        os.utime(f, (old, old))
    just_now = timezone.now().timestamp()  # the platform's clock, which a test may have moved
    os.utime(fresh, (just_now, just_now))
    exports_expire()
    assert not stale_part.exists() and not orphan.exists()
    assert fresh.exists() and live.exists()  # a running job's file, a live one


@pytest.mark.parametrize(
    "done,offset,ok",
    [
        (True, timedelta(seconds=-1), True),
        (True, timedelta(0), False),
        (True, timedelta(days=1), False),
        (False, timedelta(seconds=-1), False),
    ],
)
def test_export_downloadable_policy(done, offset, ok):
    from datetime import datetime
    from datetime import timezone as dt_tz

    finished = datetime(2026, 3, 1, tzinfo=dt_tz.utc)
    expires = policy.export_expires_at(finished)
    assert expires == finished + timedelta(days=7)
    assert policy.export_downloadable(done=done, expires_at=expires, at=expires + offset) is ok
    assert policy.export_downloadable(done=True, expires_at=None, at=finished) is False
