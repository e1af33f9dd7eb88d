"""Reconciliation (ledger vs the AIS's list), the Excel export, and the staff pages."""

import sqlite3

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cpe.accounts.tests.factories import staff_with_perms
from cpe.core.models import AuditEvent
from cpe.credits.tests.factories import make_record
from cpe.reporting import policy
from cpe.reporting.clients.base import AisCredit, CreditReport
from cpe.reporting.models import ExportJob
from cpe.reporting.selectors import Diff, reconcile, reconcile_person_year
from cpe.reporting.services import (
    ais_person_check,
    export_job_create,
    export_run,
    report_enqueue_for_record,
    report_send,
    reversal_enqueue_for_record,
)
from cpe.reporting.states import ExportStatus, ReportState


@pytest.fixture
def found(ais_settings, ais_sim, register_learner):
    user = register_learner(name="张三")
    ais_sim.seed({"id_number": user.id_number, "name": user.name})
    ais_person_check(user_id=user.pk)
    return user


# --- reconciliation, the rule ------------------------------------------------------------------------
def row(rid, receipt, hours=24, status="active", credit_state="sent", reversal_state=""):
    return {
        "record_id": rid,
        "course_code": f"C{rid}",
        "course_title": "课程",
        "hours": hours,
        "credits": hours,
        "status": status,
        "credit_state": credit_state,
        "receipt_no": receipt,
        "reversal_state": reversal_state,
    }


def item(receipt, hours=24, status="recorded"):
    return AisCredit(
        receipt_no=receipt,
        idempotency_key="k" + receipt,
        person_id="P",
        year=2026,
        course_code="C",
        course_title="课程",
        category="professional",
        hours=hours,
        credits=hours,
        passed_at="",
        status=status,
    )


@pytest.mark.parametrize(
    "ours, theirs, codes",
    [
        ([row(1, "R1")], [item("R1")], []),
        ([row(1, "R1")], [], [Diff.MISSING_AT_AIS]),
        ([], [item("R9")], [Diff.EXTRA_AT_AIS]),
        ([row(1, "R1", hours=24)], [item("R1", hours=12)], [Diff.HOURS_MISMATCH]),
        ([row(1, "R1")], [item("R1", status="reversed")], [Diff.REVERSED_MISMATCH]),
        ([row(1, "R1", status="revoked", reversal_state="sent")], [item("R1", status="reversed")], []),
        (
            [row(1, "R1", status="revoked", reversal_state="waiting_credit")],
            [item("R1")],
            [Diff.NOT_REVERSED_AT_AIS],
        ),
        ([row(1, "", credit_state="pending")], [], []),  # not yet sent: pending, not a difference
        ([row(1, "", credit_state="cancelled", status="revoked")], [], []),
    ],
)
def test_reconcile_rule(ours, theirs, codes):
    result = reconcile(ledger_rows=ours, ais_items=theirs, person_id="P", year=2026)
    assert sorted(d.code for d in result.diffs) == sorted(codes)


# --- reconciliation over HTTP, with planted differences -----------------------------------------------
def test_reconciliation_finds_planted_differences(found, year, ais_sim, django_capture_on_commit_callbacks):
    from cpe.credits.services import credit_record_revoke

    reports = []
    for code in ("A1", "A2", "A3", "A4"):
        record = make_record(found, year, code, hours=12)
        report = report_enqueue_for_record(record)
        report_send(report_id=report.pk, client=ais_sim.client())
        report.refresh_from_db()
        reports.append((record, report))
    # A4 revoked and reversed: consistent.
    with django_capture_on_commit_callbacks(execute=True):
        record4 = credit_record_revoke(record=reports[3][0], reason="退款", at=timezone.now())
        reversal_enqueue_for_record(record4)
    person_id = found.ais_person.person_id
    assert reconcile_person_year(user=found, year=2026).diffs == []
    # Plant: A1 deleted at the AIS, A2's hours changed there, and an extra credit the AIS holds.
    db = sqlite3.connect(ais_sim.db)
    with db:
        db.execute("DELETE FROM credits WHERE receipt_no = ?", (reports[0][1].receipt_no,))
        db.execute(
            "UPDATE credits SET body = json_set(body, '$.hours', 6) WHERE receipt_no = ?",
            (reports[1][1].receipt_no,),
        )
    db.close()
    ais_sim.client().report_credit(
        CreditReport(
            idempotency_key="someone-else-1",
            person_id=person_id,
            id_number=found.id_number,
            name=found.name,
            year=2026,
            course_code="X9",
            course_title="他处课程",
            category="public",
            hours=3,
            credits=3,
            passed_at=timezone.now(),
        )
    )
    result = reconcile_person_year(user=found, year=2026)
    got = {(d.code, d.course_code) for d in result.diffs}
    assert got == {(Diff.MISSING_AT_AIS, "A1"), (Diff.HOURS_MISMATCH, "A2"), (Diff.EXTRA_AT_AIS, "X9")}
    assert result.matched == 2


def test_reconcile_page(found, year, ais_sim, client, django_user_model):
    record = make_record(found, year, "B1")
    report = report_enqueue_for_record(record)
    report_send(report_id=report.pk, client=ais_sim.client())
    db = sqlite3.connect(ais_sim.db)
    with db:
        db.execute("DELETE FROM credits")
    db.close()
    url = reverse("reporting:staff_reconcile")
    client.force_login(staff_with_perms(username="nobody"))
    assert client.get(url).status_code == 403
    client.force_login(staff_with_perms("reporting.reconcile_aisreport"))
    page = client.get(url, {"who": found.id_number, "year": "2026"}).content.decode()
    assert 'id="diff-count">1<' in page and "AIS 缺少该学时" in page and report.receipt_no in page
    assert page.count(found.id_number) == 1  # only in the search box
    assert AuditEvent.objects.filter(event_type="ais.reconciled", subject_id=str(found.pk)).exists()


# --- the export ------------------------------------------------------------------------------------------
@pytest.fixture
def export_ledger(register_learner, year, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EXPORT_ROOT = str(tmp_path / "private" / "exports")
    from cpe.accounts.models import User

    hostile = register_learner(name="张甲", region="150100")
    other = register_learner(name="张乙", region="150200")
    plain = register_learner(name="赵六", employer="包头市某公司", region="150200")
    # Values that got in some other way (an import, an edit by staff): the export must not trust them.
    User.objects.filter(pk=hostile.pk).update(name='=HYPERLINK("x")', employer="+86 公司")
    User.objects.filter(pk=other.pk).update(name="@SUM", employer="-1+1")
    make_record(hostile, year, "-P1", title="=1+2")
    make_record(other, year, "P2", title="@课程")
    make_record(plain, year, "P3")
    make_record(plain, year, "P4", title="课程四")
    return hostile, other, plain


def test_export_cells_are_text_and_escaped(export_ledger, django_capture_on_commit_callbacks):
    hostile, other, plain = export_ledger
    with django_capture_on_commit_callbacks(execute=True):  # the task runs after commit (eager)
        job = export_job_create(year=2026)
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.progress == 100 and job.rows_done == 4
    from cpe.reporting.services import export_file_path

    wb = load_workbook(export_file_path(job))
    ws = wb.active
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    assert header[:6] == ["年度", "管理地区", "姓名", "身份证号码", "手机号码", "工作单位"]
    body = rows[1:]
    assert len(body) == 4
    by_name = {r[2].value: r for r in body}
    h = by_name['\'=HYPERLINK("x")']
    assert h[5].value == "'+86 公司" and h[6].value == "'-P1" and h[7].value == "'=1+2"
    assert by_name["'@SUM"][5].value == "'-1+1" and by_name["'@SUM"][7].value == "'@课程"
    for r in body:
        for c in r:
            assert c.data_type != "f"  # no formula anywhere
        id_cell, mobile_cell = r[3], r[4]
        assert id_cell.data_type == "s" and id_cell.number_format == "@"
        assert mobile_cell.data_type == "s" and mobile_cell.number_format == "@"
    assert {r[3].value for r in body} == {hostile.id_number, other.id_number, plain.id_number}
    assert by_name["赵六"][4].value == plain.mobile and by_name["赵六"][1].value == "包头市"


def test_export_by_region(export_ledger):
    job = ExportJob.objects.create(year=2026, region="150200", created_at=timezone.now())
    job = export_run(job_id=job.pk)
    assert job.rows_done == 3
    assert export_run(job_id=job.pk) is None  # done: a redelivery does nothing


def test_export_writer_text_edge_cases(tmp_path):
    """The hand-written SpreadsheetML: XML specials, characters XML cannot carry, edge spaces,
    empty values, and one row per input row (read back with openpyxl)."""
    from datetime import datetime
    from datetime import timezone as dt_tz
    from uuid import UUID

    from cpe.reporting import exports

    at = datetime(2026, 3, 1, 16, 30, 5, tzinfo=dt_tz.utc)  # 2026-03-02 00:30:05 in Shanghai
    uid = UUID("12345678-1234-5678-1234-567812345678")
    rows = [
        (
            "150200",
            'A&B <c> "d"',
            "15010219900101001X",
            "+8613800000000",
            " 前后空格 ",
            "P<1>",
            "x\x01y\x1fz",
            "public",
            12,
            12,
            90,
            at,
            uid,
            "sent",
            "R&1",
        ),
        ("999999", "", "", None, None, "-P2", "标题\r\n第二行", "other", 0, 0, 0, at, uid, None, ""),
    ]
    path = tmp_path / "x.xlsx"
    assert exports.write_workbook(path, 2026, iter(rows)) == 2
    ws = load_workbook(path).active
    assert ws.title == "2026年度学时"
    got = [[c.value for c in r] for r in ws.iter_rows()]
    assert got[0] == exports.HEADERS and len(got) == 3
    first, second = got[1], got[2]
    assert first == [
        2026,
        "包头市",
        'A&B <c> "d"',
        "15010219900101001X",
        "+8613800000000",
        " 前后空格 ",
        "P<1>",
        "x\ufffdy\ufffdz",
        "公需科目",
        12,
        12,
        90,
        "2026-03-02 00:30:05",
        str(uid),
        "已上报",
        "R&1",
    ]
    assert second[:9] == [2026, "999999", None, None, None, None, "'-P2", "标题\r\n第二行", "other"]
    assert second[14:] == ["未上报", None]
    row = list(ws.iter_rows())[1]
    assert row[3].data_type == row[4].data_type == "s" and row[3].number_format == row[4].number_format == "@"
    assert row[9].data_type == "n" and all(c.data_type != "f" for r in ws.iter_rows() for c in r)


def test_escape_rule():
    assert [policy.excel_safe(v) for v in ["=A1", "+1", "-1", "@x", "\tx", "a=b", "", "张三"]] == [
        "'=A1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "a=b",
        "",
        "张三",
    ]


def test_exports_page_start_poll_download(
    export_ledger, client, django_user_model, django_capture_on_commit_callbacks
):
    url = reverse("reporting:staff_exports")
    viewer = staff_with_perms("reporting.view_exportjob", username="auditor")
    client.force_login(viewer)
    assert client.get(url).status_code == 200
    client.post(url, {"year": "2026", "region": ""})
    assert ExportJob.objects.count() == 0  # viewing is not exporting
    client.force_login(staff_with_perms("reporting.view_exportjob", "reporting.export_results"))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"year": "2026", "region": "150200"}).status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.DONE and job.region == "150200"
    table = client.get(reverse("reporting:staff_exports_table")).content.decode()
    assert "100%" in table and "hx-trigger" not in table  # nothing running: polling stops
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, progress=40)
    assert "hx-trigger" in client.get(reverse("reporting:staff_exports_table")).content.decode()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.DONE, progress=100)
    resp = client.get(reverse("reporting:staff_export_download", args=[job.pk]))
    assert resp.status_code == 200 and resp["Content-Disposition"].startswith("attachment")
    b"".join(resp.streaming_content)
    assert AuditEvent.objects.filter(event_type="reporting.export_downloaded").exists()


def test_admin_queue_and_retry_action(
    found, year, ais_sim, client, django_user_model, django_capture_on_commit_callbacks
):
    record = make_record(found, year, "Q1")
    report = report_enqueue_for_record(record)
    ais_sim.admin("DELETE", f"/_sim/persons/{found.id_number}")
    report_send(report_id=report.pk, client=ais_sim.client())
    report.refresh_from_db()
    assert report.state == ReportState.FAILED
    op = staff_with_perms("reporting.view_aisreport", "reporting.retry_aisreport")
    client.force_login(op)
    changelist = reverse("admin:reporting_aisreport_changelist")
    page = client.get(changelist, {"queue": "failed"}).content.decode()
    assert report.idempotency_key in page and "unknown_person" in page and found.id_number not in page
    ais_sim.seed({"id_number": found.id_number, "name": found.name})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "retry_selected", "_selected_action": [report.pk]})
    report.refresh_from_db()
    assert report.state == ReportState.SENT
    detail = client.get(reverse("admin:reporting_aisreport_change", args=[report.pk])).content.decode()
    assert found.id_number not in detail


def test_operator_starts_an_export_from_the_staff_site(
    export_ledger, client, django_user_model, django_capture_on_commit_callbacks
):
    """The job list offers 增加 to who may export; the form takes a year that exists and a
    region; bad input changes nothing; the start is audited with its actor."""
    from django.contrib.auth.models import Group

    from cpe.backoffice.services import roles_sync

    changelist = reverse("admin:reporting_exportjob_changelist")
    add = reverse("admin:reporting_exportjob_add")
    client.force_login(staff_with_perms("reporting.view_exportjob", username="viewer"))
    assert add not in client.get(changelist).content.decode()
    assert client.get(add).status_code == 403
    assert client.post(add, {"year": "2026", "region": ""}).status_code == 403
    assert ExportJob.objects.count() == 0

    roles_sync()
    operator = django_user_model.objects.create_user("op2", "x", is_staff=True, name="运营乙")
    operator.groups.add(Group.objects.get(name="运营人员"))
    client.force_login(operator)
    assert add in client.get(changelist).content.decode()
    page = client.get(add).content.decode()
    assert "2026 年度" in page and "全部地区" in page
    for bad in ({"year": "1999", "region": ""}, {"year": "2026", "region": "999999"}, {"year": "x"}, {}):
        resp = client.post(add, bad)
        assert resp.status_code == 400 and "errorlist" in resp.content.decode()
    assert (
        ExportJob.objects.count() == 0
        and not AuditEvent.objects.filter(event_type="reporting.export_requested").exists()
    )
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(add, {"year": "2026", "region": "150200"})
    assert resp.status_code == 302 and resp.url == changelist
    job = ExportJob.objects.get()
    assert (job.year, job.region, job.created_by_id, job.status) == (
        2026,
        "150200",
        operator.pk,
        ExportStatus.DONE,
    )
    event = AuditEvent.objects.get(event_type="reporting.export_requested")
    assert event.subject_id == str(job.pk) and event.actor_id == operator.pk


def test_ais_queue_names_the_learner_to_who_chases_masked_to_others(
    register_learner, year, client, django_user_model
):
    learner = register_learner(name="巴特尔")
    report = report_enqueue_for_record(make_record(learner, year, "N1"))
    changelist = reverse("admin:reporting_aisreport_changelist")
    client.force_login(staff_with_perms("reporting.view_aisreport", username="auditor"))
    page = client.get(changelist).content.decode()
    assert report.idempotency_key in page and "巴特尔" not in page and learner.name_masked in page
    # The key is read as its first 8 characters; the whole key is the cell's title.
    uid = report.idempotency_key.split("-", 2)[2]
    assert f'<span title="{report.idempotency_key}">{uid[:8]}…</span>' in page
    assert f">{report.idempotency_key}<" not in page
    client.force_login(staff_with_perms("reporting.view_aisreport", "reporting.retry_aisreport"))
    page = client.get(changelist).content.decode()
    assert f"巴特尔（{learner.mobile_masked}）" in page
    assert learner.id_number not in page and learner.mobile not in page
