"""The identity-change review shows the current and the requested name masked alike on the
list and change pages; the full values only on the audited reveal page (rules R14)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_name_change_masked_alike_on_list_and_change_pages(client, register_learner, django_user_model):
    from cpe.backoffice.services import roles_sync

    roles_sync()
    learner = register_learner(name="巴特尔")
    client.force_login(learner)
    client.post(
        reverse("accounts:identity_change"), {"field": "name", "new_value": "巴图尔", "reason": "录入错误"}
    )
    req = learner.identity_changes.get()
    reviewer = django_user_model.objects.create_user("rev", "x", is_staff=True, name="审核")
    reviewer.groups.add(Group.objects.get(name="审核人员"))
    staff = Client()
    staff.force_login(reviewer)
    for url in (
        reverse("admin:accounts_identitychangerequest_changelist"),
        reverse("admin:accounts_identitychangerequest_change", args=[req.pk]),
    ):
        page = staff.get(url).content.decode()
        assert "巴特尔" not in page and "巴图尔" not in page
        assert page.count("巴**") >= 2  # current and new, masked alike
    reveal = staff.get(reverse("admin:accounts_identitychangerequest_reveal", args=[req.pk])).content.decode()
    assert "巴特尔" in reveal and "巴图尔" in reveal
