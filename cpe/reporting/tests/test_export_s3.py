"""Exports in an S3-compatible store (moto's server over HTTP, the real boto3 client): written
to the private bucket only, downloaded by permitted staff through a redirect to a short-lived
signed URL, unreadable without the signature, deleted from the store by the expiry clean-up."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from cpe.accounts.tests.factories import staff_with_perms
from cpe.core.models import AuditEvent
from cpe.core.storage import PRIVATE_URL_TTL
from cpe.reporting.services import exports_expire
from cpe.reporting.states import ExportStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3_job(s3, done_job):  # s3 first: the export is written to the bucket
    job, learner = done_job
    return job, learner, f"private/exports/{job.file}"


def test_the_export_is_a_private_object_in_the_bucket_only(s3, s3_job, roots):
    job, _learner, key = s3_job
    assert job.status == ExportStatus.DONE and s3.keys() == [key]
    media, private = roots
    for local in (media, private):  # nothing on the local disk
        assert not local.exists() or not any(p.is_file() for p in local.rglob("*"))
    grants = s3.client.get_object_acl(Bucket=s3.bucket, Key=key)["Grants"]
    assert all(g["Grantee"].get("URI") is None for g in grants)  # no AllUsers / AuthenticatedUsers grant
    assert requests.get(f"{s3.endpoint}/{s3.bucket}/{key}", timeout=10).status_code == 403


def test_staff_download_redirects_to_a_short_lived_signed_url(s3, s3_job, client, django_user_model):
    job, learner, key = s3_job
    url = reverse("reporting:staff_export_download", args=[job.pk])
    client.force_login(staff_with_perms("reporting.view_exportjob", username="viewer"))
    r = client.get(url)
    assert r.status_code == 403 and "Location" not in r  # no permission: no link at all
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    r = client.get(url)
    assert r.status_code == 302 and "no-store" in r["Cache-Control"] and r["Referrer-Policy"] == "no-referrer"
    target = r["Location"]
    assert target.startswith(f"{s3.endpoint}/{s3.bucket}/{key}?")
    q = parse_qs(urlsplit(target).query)
    assert q["X-Amz-Signature"][0] and 0 < int(q["X-Amz-Expires"][0]) <= PRIVATE_URL_TTL
    got = requests.get(target, timeout=10)
    assert got.status_code == 200 and got.content[:2] == b"PK"
    assert f"ais-results-2026-all-{job.pk}.xlsx" in got.headers["Content-Disposition"]
    assert job.file not in got.headers["Content-Disposition"]
    assert requests.get(target.split("?", 1)[0], timeout=10).status_code == 403  # without the signature
    assert (
        AuditEvent.objects.filter(event_type="reporting.export_downloaded", subject_id=str(job.pk)).count()
        == 1
    )


def test_expiry_cleanup_deletes_the_object_from_the_store(s3, s3_job, client, django_user_model):
    job, _learner, key = s3_job
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    target = client.get(reverse("reporting:staff_export_download", args=[job.pk]))["Location"]
    assert exports_expire(at=job.expires_at - timedelta(seconds=1)) == 0 and s3.keys() == [key]
    assert exports_expire(at=job.expires_at) == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and job.file == ""
    assert s3.keys() == []  # gone from the store
    # Even the signed link reads nothing now (S3 answers 403 rather than 404 to a reader who may not list).
    assert requests.get(target, timeout=10).status_code in (403, 404)
    assert client.get(reverse("reporting:staff_export_download", args=[job.pk])).status_code == 410


def test_cleanup_sweeps_an_orphan_object_past_the_retention_only(s3, s3_job):
    from cpe.reporting import policy

    job, _learner, key = s3_job
    orphan = "private/exports/" + "o" * 43 + ".xlsx"  # a file no job names (its row was lost)
    s3.client.put_object(Bucket=s3.bucket, Key=orphan, Body=b"PK")
    exports_expire(at=job.finished_at + timedelta(days=1))
    assert s3.keys() == sorted([key, orphan])  # young: kept
    exports_expire(at=job.finished_at + policy.EXPORT_RETENTION + timedelta(hours=1))
    assert s3.keys() == []  # the job expired, the orphan swept
