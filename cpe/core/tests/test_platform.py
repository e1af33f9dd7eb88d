"""Platform-wide settings that a user's safety depends on."""

import pytest
from django.contrib.auth.hashers import get_hasher, identify_hasher, make_password
from django.core.checks import run_checks


def test_passwords_use_lean_argon2():
    encoded = make_password("Zhang-san-2026")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert identify_hasher(encoded).algorithm == "argon2"
    assert get_hasher().memory_cost == 19 * 1024


def test_deploy_check_refuses_fakes_without_debug(settings):
    settings.DEBUG = False
    errors = [e.id for e in run_checks(include_deployment_checks=True)]
    assert "cpe.E001" in errors
    settings.SMS_BACKEND = "cpe.notices.sms.base.BaseSmsBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.INVOICE_PROVIDER = "cpe.invoicing.providers.base.InvoiceProvider"
    errors = [e.id for e in run_checks(include_deployment_checks=True)]
    assert "cpe.E001" not in errors
    assert "cpe.E003" in errors  # the AIS simulator's demo secret
    settings.AIS_SECRET = "a-real-secret"
    assert "cpe.E003" not in [e.id for e in run_checks(include_deployment_checks=True)]


@pytest.mark.django_db
def test_staff_roles_have_least_privilege():
    from django.contrib.auth.models import Group

    from cpe.backoffice.services import roles_sync

    roles_sync()
    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert set(perms) == {"运营人员", "内容编辑", "财务人员", "审核人员", "审计人员"}
    assert "view_auditevent" in perms["审计人员"] and not any(
        p.startswith(("change_", "add_", "delete_")) for p in perms["审计人员"]
    )
    assert "review_identity" in perms["审核人员"] and "view_auditevent" not in perms["审核人员"]
    assert "view_identity" not in set().union(*perms.values())  # clear identity: superuser only
