import pytest
from django.utils import timezone


@pytest.fixture
def learner(register_learner):
    """A learner whose e-mail is verified (so a notice goes by SMS and e-mail)."""
    from cpe.accounts.models import User

    user = register_learner(name="张三", email="zhangsan@example.com")
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    user.refresh_from_db()
    return user


@pytest.fixture
def other_learner(register_learner):
    return register_learner(name="王五", email="wangwu@example.com")


@pytest.fixture
def operator(db):
    from cpe.accounts.models import User
    from cpe.backoffice.services import roles_sync
    from django.contrib.auth.models import Group

    roles_sync()
    user = User.objects.create_user("op1", "houtai-2026", name="客服小王", is_staff=True)
    user.groups.add(Group.objects.get(name="运营人员"))
    return user
