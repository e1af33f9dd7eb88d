"""One AIS vocabulary everywhere: the purchase page, the dashboard, 我的学时 and the staff queue
read their words from core.ais_labels, and the staff's finer states are the learner's words
with the detail in brackets."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cpe.accounts.models import User
from cpe.accounts.states import AisStatus
from cpe.accounts.tests.factories import sign_in_learner
from cpe.core import ais_labels as labels
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters
from cpe.orders.tests.factories import pay
from cpe.reporting.models import AisReport
from cpe.reporting.states import ReportState

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]
LEARNER_WORDS = (labels.REPORT_PENDING, labels.REPORT_SENT, labels.REPORT_FAILED, "不上报")


def test_every_staff_state_label_is_a_learner_word():
    for state in ReportState:
        assert state.label.startswith(LEARNER_WORDS), state.label
    assert [s.label for s in AisStatus] == [
        labels.PERSON_UNKNOWN,
        labels.PERSON_FOUND,
        labels.PERSON_NOT_FOUND,
        labels.PERSON_FAILED,
    ]


@pytest.fixture
def not_found(learner):
    User.objects.filter(pk=learner.pk).update(ais_status=AisStatus.NOT_FOUND)
    learner.refresh_from_db()
    return learner


def test_purchase_page_and_dashboard_say_the_same_words(client, not_found, year):
    sign_in_learner(client, not_found)
    buy = client.get(reverse("orders:buy", args=["2026-ANNUAL"])).content.decode()
    dash = client.get(reverse("accounts:dashboard")).content.decode()
    badge = f'data-testid="ais-person-status">{labels.PERSON_NOT_FOUND}</span>'
    for html in (buy, dash):
        assert badge in html and labels.PERSON_EXPLANATIONS["not_found"] in html


def test_credits_page_and_staff_queue_name_a_waiting_person_alike(client, not_found, year, django_user_model):
    pay(not_found)
    c = make_course(year, "P1", hours=24)
    complete_chapters(not_found, c)
    pass_course(not_found, c)
    report = AisReport.objects.get(record__user=not_found)
    assert report.state == ReportState.WAITING_PERSON
    sign_in_learner(client, not_found)
    page = client.get(reverse("credits:year", args=[2026])).content.decode()
    assert labels.REPORT_WAITING_PERSON in page

    op = django_user_model.objects.create_user(
        username="op", password="Staff-pass-2026", name="运营", is_staff=True
    )
    op.user_permissions.add(
        Permission.objects.get(content_type__app_label="reporting", codename="view_aisreport")
    )
    client.force_login(op)
    queue = client.get(reverse("admin:reporting_aisreport_changelist")).content.decode()
    assert labels.REPORT_WAITING_PERSON in queue
    assert "待纳入（人员未纳入 AIS）" not in queue
