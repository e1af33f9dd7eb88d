"""The certificate states what is true (decision 0013): the hours recorded on this platform
and whether, and when, the AIS acknowledged them; never "已完成本年度继续教育任务". The
verification page shows the masked name with the ID number's last four and checks a typed
full name on the server."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache
from django.urls import reverse

from cpe.accounts.models import User
from cpe.credits import policy
from cpe.credits.certificates import certificate_pdf
from cpe.credits.models import Certificate
from cpe.credits.tests.test_pdf import pdf_text
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters
from cpe.reporting.models import AisReport
from cpe.reporting.states import ReportState

OLD_CLAIM = "已完成本年度继续教育任务"
AS_OF = date(2026, 12, 3)


def facts(hours=90, reported=0, last=None, person="found"):
    return policy.ReportFacts(
        hours=hours, reported_hours=reported, last_reported_on=last, person_status=person
    )


@pytest.mark.parametrize(
    "f, expected, absent",
    [
        (
            facts(reported=90, last=date(2026, 11, 30)),
            ["截至2026-12-03", "90 学时已全部上报", "最近一次上报于2026-11-30"],
            ["尚未", "待上报"],
        ),
        (
            facts(reported=60, last=date(2026, 11, 2)),
            ["其中 60 学时已上报", "最近一次上报于2026-11-02", "其余 30 学时尚未上报"],
            ["全部"],
        ),
        (
            facts(person="not_found"),
            ["持证人尚未纳入", "均未上报", "纳入后本平台将自动上报"],
            ["已上报", "全部"],
        ),
        (facts(person="unknown"), ["尚未上报", "待上报"], ["已上报", "尚未纳入"]),
        (facts(person="found"), ["尚未上报", "待上报"], ["已上报", "尚未纳入"]),
        # a reported record that is not part of the statement cannot make it "all reported"
        (facts(hours=24, reported=90, last=date(2026, 11, 30)), ["24 学时已全部上报"], ["尚未"]),
    ],
)
def test_report_line_says_what_the_ais_acknowledged(f, expected, absent):
    line = policy.certificate_report_line(f, as_of=AS_OF)
    for text in expected:
        assert text in line, (text, line)
    for text in absent:
        assert text not in line, (text, line)


def test_year_lead_states_hours_here_never_the_task_done():
    lead = policy.year_certificate_lead(
        year=2026,
        hours=94,
        credits=94,
        professional_hours=64,
        public_hours=30,
        required_hours=90,
        professional_min_hours=60,
    )
    assert "在本平台" in lead and "94 学时" in lead and "达到本平台 2026 年度学时要求" in lead
    assert OLD_CLAIM not in lead


@pytest.mark.django_db
def test_year_certificate_pdf_for_a_person_not_in_the_ais_says_nothing_was_reported(
    learner, year, paid, tmp_path
):
    User.objects.filter(pk=learner.pk).update(ais_status="not_found")
    learner.refresh_from_db()
    c = make_course(year, "P1", hours=90)
    complete_chapters(learner, c)
    pass_course(learner, c)
    cert = Certificate.objects.select_related("user", "year").get(kind="year")
    path = tmp_path / "y.pdf"
    path.write_bytes(certificate_pdf(cert))
    text = pdf_text(path)
    assert OLD_CLAIM not in text
    assert "在本平台参加2026年度" in text and "持证人尚未纳入" in text and "均未上报" in text
    assert "已全部上报" not in text


@pytest.mark.django_db
def test_year_certificate_pdf_names_the_day_of_the_last_report(learner, year, paid, tmp_path):
    c = make_course(year, "P1", hours=90)
    complete_chapters(learner, c)
    pass_course(learner, c)
    cert = Certificate.objects.select_related("user", "year").get(kind="year")
    # 2026-11-30 17:00 UTC is 1 December in Shanghai: the certificate names the Shanghai day.
    sent = datetime(2026, 11, 30, 17, 0, tzinfo=dt_timezone.utc)
    AisReport.objects.filter(record__user=learner).update(
        state=ReportState.SENT, receipt_no="AIS2026120100000001", sent_at=sent
    )
    path = tmp_path / "y.pdf"
    path.write_bytes(certificate_pdf(cert, at=sent + timedelta(days=2)))
    text = pdf_text(path)
    assert "90学时已全部上报" in text and "最近一次上报于2026-12-01" in text, text
    assert OLD_CLAIM not in text and "尚未" not in text


@pytest.mark.django_db
def test_course_certificate_pdf_carries_the_report_line(learner, year, paid, tmp_path):
    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    cert = Certificate.objects.select_related("user", "year", "record").get(kind="course")
    path = tmp_path / "c.pdf"
    path.write_bytes(certificate_pdf(cert))
    assert "上述学时尚未上报" in pdf_text(path)


# --- the verification page ---------------------------------------------------------------------
@pytest.fixture
def cert(learner, year, paid):
    cache.clear()
    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    return Certificate.objects.get(kind="course")


@pytest.mark.django_db
def test_verify_page_shows_masked_name_id_tail_and_report_line(client, learner, cert):
    html = client.get(reverse("credits:verify", args=[cert.number])).content.decode()
    assert '<dd id="holder-masked">张*</dd>' in html
    assert f'<dd id="id-tail">{learner.id_number[-4:]}</dd>' in html
    assert learner.id_number not in html and "张三" not in html
    assert "上述学时尚未上报" in html and 'id="name-check"' in html


def _check(client, number, name):
    return client.post(reverse("credits:verify", args=[number]), {"name": name})


def _result_text(resp):
    html = resp.content.decode()
    start = html.index('id="name-check-result"')
    return html[start : html.index("</p>", start)]


@pytest.mark.django_db
def test_name_check_compares_on_the_server(client, cert):
    ok = _check(client, cert.number, " 张 三 ")
    assert ok.status_code == 200 and "一致" in _result_text(ok) and "未能" not in _result_text(ok)
    wrong = _check(client, cert.number, "张四")
    assert wrong.status_code == 200 and "未能核对一致" in _result_text(wrong)
    assert "张三" not in ok.content.decode() and "张三" not in wrong.content.decode()


@pytest.mark.django_db
def test_name_check_reads_alike_for_an_unknown_number(client, cert):
    unknown = "HG2026-AAAA-BBBB-CCCC-DDDD"
    wrong = _check(client, cert.number, "张四")
    missing = _check(client, unknown, "张三")
    assert missing.status_code == wrong.status_code == 200
    assert _result_text(missing).replace(unknown, "N") == _result_text(wrong).replace(cert.number, "N")


@pytest.mark.django_db
def test_name_check_is_throttled_and_then_answers_nothing(client, cert):
    for _ in range(10):
        assert _check(client, cert.number, "张四").status_code == 200
    blocked = _check(client, cert.number, "张三")
    assert blocked.status_code == 429 and "一致" not in blocked.content.decode()
    # reading the page is not a guess and stays open
    assert client.get(reverse("credits:verify", args=[cert.number])).status_code == 200


@pytest.mark.django_db
def test_name_check_is_throttled_per_certificate_across_addresses(client, cert):
    for i in range(20):
        assert (
            client.post(
                reverse("credits:verify", args=[cert.number]), {"name": "张四"}, REMOTE_ADDR=f"10.0.{i}.1"
            ).status_code
            == 200
        )
    assert (
        client.post(
            reverse("credits:verify", args=[cert.number]), {"name": "张三"}, REMOTE_ADDR="10.9.9.9"
        ).status_code
        == 429
    )
