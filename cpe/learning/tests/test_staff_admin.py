"""The suspicious-activity list names the course of each chapter, and filters by course."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_suspicious_rows_show_the_course(learner, chapter, enrolment, django_user_model):
    from cpe.catalog.models import Chapter, Course
    from cpe.learning.models import SuspiciousEvent
    from cpe.learning.services import play_start

    other = Course.objects.create(
        year=chapter.course.year, code="C2", title="税法实务", category="professional", credit_hours=12
    )
    same_title = Chapter.objects.create(course=other, position=1, title="收入准则", duration_seconds=60)
    now = timezone.now()
    for ch in (chapter, same_title):
        s = play_start(user=learner, chapter_id=ch.pk, at=now)
        SuspiciousEvent.objects.create(user=learner, session=s, chapter=ch, kind="skip", at=now)
    staff = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    staff.user_permissions.add(Permission.objects.get(codename="view_suspiciousevent"))
    c = Client()
    c.force_login(staff)
    url = reverse("admin:learning_suspiciousevent_changelist")
    page = c.get(url).content.decode()
    assert "C1 会计准则" in page and "C2 税法实务" in page  # two "收入准则" told apart
    assert f'?chapter__course__id__exact={other.pk}">C2 税法实务</a>' in page  # the filter names it too
    only_c2 = c.get(url, {"chapter__course__id__exact": other.pk}).content.decode()
    rows = only_c2.split('id="result_list"')[1].split("</table>")[0]
    assert "C2 税法实务" in rows and "C1 会计准则" not in rows
