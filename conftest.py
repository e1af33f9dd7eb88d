"""Fixtures shared by every test (cpe/ and e2e/): the moved clock, a clean cache, the per-process
memos, a published agreement, learners registered through the real services, the staff second
factor, and the S3 test server (`cpe.core.tests.s3`, loaded as a plugin). The domain fixtures the
apps share (a learner, a paid order, a year with courses) are in `cpe/conftest.py`. Every
fixture's rows come from the apps' factories (`cpe/<app>/tests/factories.py`); a test module
imports helpers from those factories, and never imports a conftest or a fixture."""

import os

import pytest
from django.core.cache import cache

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The S3-compatible test server's fixtures (`s3_server`, `s3`), for the tests of cpe/ and e2e/.
pytest_plugins = ("cpe.core.tests.s3",)


def pytest_configure(config):
    # `make test-dates` moves the clock (CPE_TEST_CLOCK): cpe/core/tests/clock.py.
    from cpe.core.tests import clock

    clock.start()


def pytest_report_header(config):
    from cpe.core.tests import clock

    return f"clock moved to {clock.CLOCK} (CPE_TEST_CLOCK)" if clock.CLOCK else None


@pytest.fixture(autouse=True)
def _clean_cache(request):
    """Throttle counters live in the cache: every test that touches the database starts with
    an empty one."""
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
    yield


@pytest.fixture(autouse=True)
def _process_memos():
    """Every test starts with each per-process memo (`cpe.core.memo.ProcessMemo`: maintenance
    windows, bans, agreement versions; each registers itself in `cpe.core.memo.MEMOS`) knowing
    no row, which is the truth (no migration seeds these tables and every test starts on an empty
    database), and ends by forgetting what it read.

    This must stay autouse. A memo forgets its rows on a save or delete in this process, but a
    test's rows vanish by a rollback, which sends no signal: without the reset, the next test
    would be served a rolled-back test's ban, window or agreement version. And a page's query
    count must not depend on whether an earlier test left a memo fresh (starting from "known,
    none" makes the first request read nothing; a test that saves a row makes the next request
    read). Only the registry is named here, so a new memo needs no change to this fixture."""
    from cpe.core import memo

    memo.know_none()
    yield
    memo.forget_all()


@pytest.fixture
def agreement_v1(db):
    """The user agreement 1.0, in force since long before any instant a test fixes."""
    from cpe.agreements.tests.factories import AgreementVersionFactory

    return AgreementVersionFactory()


@pytest.fixture
def register_learner(db, agreement_v1):
    """Register a learner through the real services (SMS code read back from the outbox):
    `register_learner(name=…, ais_found=True, …)` takes LearnerFactory's fields and traits
    (cpe.accounts.tests.factories). A test's first learner is l1@example.com, 13900000001."""
    from cpe.accounts.tests.factories import LearnerFactory

    LearnerFactory.reset_sequence(1)

    def _register(**overrides):
        return LearnerFactory(agreement=agreement_v1, **overrides)

    return _register


@pytest.fixture
def verified_learner(register_learner):
    """A learner named 张三 whose e-mail is verified (so notices go by SMS and e-mail)."""
    return register_learner(name="张三", email="zhangsan@example.com", verified=True)


# --- staff sign-in in tests: the second factor -------------------------------------------------
@pytest.fixture(autouse=True)
def _staff_second_factor(request, monkeypatch):
    """Every `client.force_login(staff)` in the tests signs in *and* passes the second factor
    (verify_staff_session), so staff tests test their page rather than the gate in front of it.
    A test of the gate itself marks itself `staff_unverified` and gets the bare sign-in."""
    if request.node.get_closest_marker("staff_unverified"):
        yield
        return
    from django.test import Client

    from cpe.accounts.tests.factories import verify_staff_session

    bare = Client.force_login

    def force_login(self, user, backend=None):
        bare(self, user, backend)
        if user.is_staff:
            verify_staff_session(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)
    yield
