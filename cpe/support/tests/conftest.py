import pytest


@pytest.fixture
def learner(verified_learner):
    return verified_learner


@pytest.fixture
def other_learner(register_learner):
    return register_learner(name="王五", email="wangwu@example.com")


@pytest.fixture
def operator(db):
    from django.contrib.auth.models import Group

    from cpe.accounts.models import User
    from cpe.backoffice.services import roles_sync

    roles_sync()
    user = User.objects.create_user("op1", "houtai-test-1", name="客服小王", is_staff=True)
    user.groups.add(Group.objects.get(name="运营人员"))
    return user
