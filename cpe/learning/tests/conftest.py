from datetime import timedelta

import pytest
from django.utils import timezone

from cpe.orders.tests.conftest import annual, learner, paid_order  # noqa: F401 (fixtures)


@pytest.fixture
def chapter(annual):
    from cpe.catalog.models import Chapter, Course

    return Chapter.objects.create(
        course=Course.objects.get(code="C1"), position=1, title="收入准则", duration_seconds=120
    )


@pytest.fixture
def enrolment(paid_order):
    return paid_order.enrolment


@pytest.fixture
def other_learner(register_learner):
    return register_learner(name="王五")


@pytest.fixture
def now():
    return timezone.now()


def sec(base, n):
    return base + timedelta(seconds=n)


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
