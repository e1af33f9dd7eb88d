import pytest


@pytest.fixture
def learner_traits():
    """The support tests' learner is 张三 with a verified e-mail (answers are told by e-mail too),
    not yet checked with the AIS."""
    return {"name": "张三", "email": "zhangsan@example.com", "verified": True}


@pytest.fixture
def operator(db):
    """客服小王, a member of staff with the 运营人员 role."""
    from cpe.accounts.tests.factories import StaffFactory

    return StaffFactory(username="op1", password="houtai-test-1", name="客服小王", role="运营人员")
