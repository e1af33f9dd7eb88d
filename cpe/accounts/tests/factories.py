"""Test factories of accounts: learners registered through the real services (the SMS code read
back from the outbox, the agreement accepted), members of staff with a role, and the small helpers
a test uses to act as a learner (an ID number with a valid check character, the last SMS code).

Factories live in each app's `tests/` package (as `cpe/invoicing/tests/factories.py` did first):
they are test support only, import-linter ignores `tests/`, and no production module may import
them. Fixtures built from them are in the nearest conftest (`cpe/conftest.py` for the learner
every app uses)."""

import re

import factory
from django.utils import timezone

from cpe.accounts.models import User

PASSWORD = "Zhang-san-2026"
STAFF_PASSWORD = "Staff-pass-2026"


def make_id_number(birth: str = "19900307", area: str = "150102", seq: str = "123") -> str:
    """An 18-character resident ID number with its MOD 11-2 check character."""
    from cpe.accounts.policy import id_check_char

    first17 = area + birth + seq
    return first17 + id_check_char(first17)


def last_code(mobile: str) -> str:
    """The latest six-digit code the outbox holds for a mobile, as a learner reads the SMS."""
    from cpe.notices.models import Channel, OutboundMessage

    for msg in OutboundMessage.objects.filter(channel=Channel.SMS).order_by("-id"):
        if msg.to == mobile:
            return re.search(r"验证码 (\d{6})", msg.body).group(1)
    raise AssertionError(f"no SMS to {mobile}")


class LearnerFactory(factory.Factory):
    """A learner as registration makes one: `registration_code_send`, the code read from the
    outbox, `user_register` with an accepted agreement version (`agreement`, required). Traits
    that registration cannot set are applied afterwards, as the services that set them would
    leave the row: `ais_found` (the AIS person check found the learner) and `verified` (the
    e-mail address confirmed, so notices go by SMS and e-mail).

    The sequence numbers the ID number, e-mail and mobile: `LearnerFactory.reset_sequence(1)`
    makes a test's first learner l1@example.com / 13900000001 (the `register_learner` fixture
    does so for every test)."""

    class Meta:
        model = User

    id_number = factory.Sequence(lambda n: make_id_number(seq=f"{100 + n:03d}"))
    name = "李四"
    email = factory.Sequence(lambda n: f"l{n}@example.com")
    mobile = factory.Sequence(lambda n: f"1390000{n:04d}")
    employer = "包头市某公司"
    region = "150200"
    password = PASSWORD
    self_supporting = False
    at = None
    agreement = None
    ais_found = False
    verified = False

    @classmethod
    def _create(cls, model_class, *, agreement, at=None, ais_found=False, verified=False, **data):
        from cpe.accounts import services

        if agreement is None:
            raise TypeError("LearnerFactory needs agreement= (the version the learner accepts)")
        at = at or timezone.now()
        services.registration_code_send(mobile_raw=data["mobile"], at=at)
        user = services.user_register(
            sms_code=last_code(data["mobile"]),
            agreement_version=agreement,
            ip="127.0.0.1",
            user_agent="pytest",
            at=at,
            **data,
        )
        changes = {}
        if ais_found:
            changes["ais_status"] = "found"
        if verified:
            changes["email_verified_at"] = timezone.now()
        if changes:
            model_class.objects.filter(pk=user.pk).update(**changes)
            user.refresh_from_db()
        return user


class StaffFactory(factory.django.DjangoModelFactory):
    """A member of staff, optionally holding one of the staff site's roles (`role`, a group name
    of `cpe.backoffice.roles`, synced first) and exactly the given `permissions`
    ("app.codename", ...). Fetched again after the groups and permissions are set, so the
    permission cache is fresh."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"staff{n}")
    password = STAFF_PASSWORD
    name = "运营"
    is_staff = True
    role = None
    permissions = ()

    @classmethod
    def _create(cls, model_class, *, role=None, permissions=(), username, password, **fields):
        user = model_class.objects.create_user(username, password, **fields)
        for perm in permissions:
            from django.contrib.auth.models import Permission

            app, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
        if role:
            from django.contrib.auth.models import Group

            from cpe.backoffice.services import roles_sync

            roles_sync()
            user.groups.add(Group.objects.get(name=role))
        return model_class.objects.get(pk=user.pk)


def staff_with_perms(*perms, username="op"):
    """A member of staff (运营) holding exactly the given permissions ("app.codename")."""
    return StaffFactory(username=username, password=STAFF_PASSWORD, name="运营", permissions=perms)


def sign_in_learner(client, user):
    """Sign the test client in as a learner who has accepted the agreement in force (the
    session's mark the agreement gate reads), so a page test meets its page, not the gate."""
    from cpe.agreements import selectors as agreement_selectors

    client.force_login(user, backend="cpe.accounts.auth.IdentifierBackend")
    session = client.session
    session["agreement_ok"] = agreement_selectors.required_major_id(timezone.now())
    session.save()


# --- staff sign-in in tests: the second factor -------------------------------------------------
def verify_staff_session(client, user):
    """Mark a test client's signed-in staff session as having passed the second factor, as the
    verification page does (django-otp's session entry), giving the account a confirmed factor
    first when it has none."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from cpe.accounts import second_factor

    factor = second_factor.demo_enrol(user=user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = factor.persistent_id
    session.save()


def staff_browser_sign_in(page, username, password, base=""):
    """Sign a staff member in through the staff site's form in a real browser and pass the second
    factor with the code their authenticator would show (a confirmed factor is made first when
    the account has none)."""
    import re

    from playwright.sync_api import expect

    from cpe.accounts import second_factor
    from cpe.accounts.models import User

    user = User.objects.get(username=username)
    factor = second_factor.demo_enrol(user=user)
    page.goto(base + "/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    factor.refresh_from_db()
    page.get_by_label("验证码").fill(second_factor.current_code(factor))
    page.get_by_role("button", name="验证").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def point_session_cache(settings, location):
    """The session cache (and the user row cache in it) at another Redis: one on a free port is away."""
    settings.CACHES = {**settings.CACHES, "sessions": {**settings.CACHES["sessions"], "LOCATION": location}}
