import os
import uuid

import pytest
from django.utils import timezone


@pytest.fixture
def chapter(annual):
    """The first chapter (120 seconds) of the annual course's C1 (cpe/conftest.py)."""
    from cpe.catalog.models import Course
    from cpe.catalog.tests.factories import ChapterFactory

    return ChapterFactory(
        course=Course.objects.get(code="C1"), position=1, title="收入准则", duration_seconds=120
    )


@pytest.fixture
def enrolment(paid_order):
    return paid_order.enrolment


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def signed_in(client, learner):
    """The test client signed in as the learner, as the account's one current session."""
    from cpe.accounts.models import User
    from cpe.core.crypto import blind_index

    client.force_login(learner)
    User.objects.filter(pk=learner.pk).update(
        session_key_hash=blind_index("session_key", client.session.session_key)
    )
    learner.refresh_from_db()
    return client


@pytest.fixture
def hot(settings):
    """The Redis hot path on, under a key prefix of this test's own on the REDIS_URL database,
    its keys deleted afterwards (the modules that use it skip without REDIS_URL)."""
    from cpe.learning import hotpath

    settings.LEARNING_HOTPATH = "redis"
    settings.LEARNING_HOTPATH_REDIS_URL = os.environ.get("REDIS_URL", "")
    settings.LEARNING_HOTPATH_PREFIX = f"test-hot-{uuid.uuid4().hex[:12]}:"
    assert hotpath.enabled()
    yield hotpath
    r = hotpath.client()
    keys = list(r.scan_iter(match=settings.LEARNING_HOTPATH_PREFIX + "*", count=1000))
    if keys:
        r.delete(*keys)
