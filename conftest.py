"""Fixtures shared by every test: a published agreement, learners made through the real
services, and a clean cache (throttle counters live there)."""

import os
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache
from django.utils import timezone

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# `make test-dates` runs the suite with the clock moved: CPE_TEST_CLOCK is an ISO 8601 instant
# (2027-01-02T09:00:00+08:00) from which this process's clock runs on (time-machine: time.time,
# datetime.now; monotonic clocks, sleeps and timeouts stay real). Subprocesses that read the clock
# (the AIS simulator) are started on the same moved clock by their launcher (`moved_clock_argv`).
# PostgreSQL keeps its own clock: the platform never reads it (times come from the application).
_CLOCK = os.environ.get("CPE_TEST_CLOCK", "")
_OFFSET = [0.0]  # seconds the moved clock runs ahead of the real one


def pytest_configure(config):
    if _CLOCK:
        import time

        import time_machine

        _OFFSET[0] = datetime.fromisoformat(_CLOCK).timestamp() - time.time()
        time_machine.travel(datetime.fromisoformat(_CLOCK), tick=True).start()


def pytest_report_header(config):
    return f"clock moved to {_CLOCK} (CPE_TEST_CLOCK)" if _CLOCK else None


def moved_clock_argv(module: str) -> list[str]:
    """The argv that runs `python -m module` on this process's clock: the real command when the
    clock is real, else one that moves the child's clock by the same offset (an offset, not an
    instant: the child's start-up time must not put its clock behind ours)."""
    import sys

    if not _CLOCK:
        return [sys.executable, "-m", module]
    boot = (
        "import runpy, sys, time, time_machine; "
        "time_machine.travel(time.time() + float(sys.argv.pop(1)), tick=True).start(); "
        f"sys.argv[0] = {module!r}; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", boot, repr(_OFFSET[0])]


# An instant before anything a test can fix: the test agreement is in force from here on.
LONG_AGO = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def _clean_cache(request):
    """Throttle counters live in the cache: every test that touches the database starts with
    an empty one, knowing of no maintenance window and no ban (none from a rolled-back test)."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker and marker.kwargs.get("transaction") or names & {"transactional_db", "live_server"}:
        request.getfixturevalue("transactional_db")
    elif marker or names & {"db", "django_db_setup"}:
        request.getfixturevalue("db")
    else:
        yield
        return
    cache.clear()
    from cpe.agreements.selectors import forget_versions
    from cpe.moderation.selectors import bans_known, forget_bans
    from cpe.notices.selectors import forget_windows, windows_known

    # No maintenance window and no ban known (a test that saves one makes the next request read):
    # a page's query count must not depend on when these per-process memos were last read.
    windows_known()
    bans_known()
    forget_versions()  # the agreement versions of a rolled-back test must not stay memoised
    yield
    forget_windows()
    forget_bans()
    forget_versions()


@pytest.fixture
def agreement_v1(db):
    from cpe.agreements.services import agreement_publish

    # In force since long before any instant a test fixes (a test at 2026-11-28 must not meet an
    # agreement that took effect at the real "now").
    return agreement_publish(
        version="1.0",
        title="用户服务协议与隐私政策",
        body="第一条 测试协议正文。",
        is_minor=False,
        effective_at=LONG_AGO,
        at=LONG_AGO,
    )


def this_year() -> int:
    """The training year of "today" (the process clock, in Shanghai): the one helper a test asks
    when it means the current year rather than a year it fixes itself."""
    from cpe.core.timewin import local_date

    return local_date(timezone.now()).year


def make_id_number(birth: str = "19900307", area: str = "150102", seq: str = "123") -> str:
    from cpe.accounts.policy import id_check_char

    first17 = area + birth + seq
    return first17 + id_check_char(first17)


@pytest.fixture
def register_learner(db, agreement_v1):
    """Register a learner through the real services (SMS code read back from the outbox)."""
    from cpe.accounts import services

    counter = {"n": 0}

    def _register(**overrides):
        counter["n"] += 1
        n = counter["n"]
        data = {
            "id_number": make_id_number(seq=f"{100 + n:03d}"),
            "name": "李四",
            "email": f"l{n}@example.com",
            "mobile": f"1390000{n:04d}",
            "employer": "包头市某公司",
            "region": "150200",
            "password": "Zhang-san-2026",
            "self_supporting": False,
        }
        data.update(overrides)
        at = data.pop("at", None) or timezone.now()
        services.registration_code_send(mobile_raw=data["mobile"], at=at)
        code = last_code(data["mobile"])
        return services.user_register(
            sms_code=code, agreement_version=agreement_v1, ip="127.0.0.1", user_agent="pytest", at=at, **data
        )

    return _register


@pytest.fixture
def verified_learner(register_learner):
    """A learner named 张三 whose e-mail is verified (so notices go by SMS and e-mail)."""
    from cpe.accounts.models import User

    user = register_learner(name="张三", email="zhangsan@example.com")
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    user.refresh_from_db()
    return user


def last_code(mobile: str) -> str:
    """The latest six-digit code the outbox holds for a mobile, as a learner reads the SMS."""
    import re

    from cpe.notices.models import Channel, OutboundMessage

    for msg in OutboundMessage.objects.filter(channel=Channel.SMS).order_by("-id"):
        if msg.to == mobile:
            return re.search(r"验证码 (\d{6})", msg.body).group(1)
    raise AssertionError(f"no SMS to {mobile}")


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


@pytest.fixture(autouse=True)
def _staff_second_factor(request, monkeypatch):
    """Every `client.force_login(staff)` in the tests signs in *and* passes the second factor
    (verify_staff_session), so staff tests test their page rather than the gate in front of it.
    A test of the gate itself marks itself `staff_unverified` and gets the bare sign-in."""
    if request.node.get_closest_marker("staff_unverified"):
        yield
        return
    from django.test import Client

    bare = Client.force_login

    def force_login(self, user, backend=None):
        bare(self, user, backend)
        if user.is_staff:
            verify_staff_session(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)
    yield


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
