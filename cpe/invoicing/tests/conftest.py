import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """PDFs go to a temporary MEDIA_ROOT; no test writes into var/."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://cpe.example.cn"
    settings.INVOICE_PROVIDER = "cpe.invoicing.providers.local.LocalInvoiceProvider"
    settings.INVOICE_LOCAL_FAIL = ""
    yield


@pytest.fixture
def learner(register_learner):
    """A learner named 张三 whose e-mail is verified (so notices may use it)."""
    from cpe.accounts.models import User

    user = register_learner(name="张三", email="zhangsan@example.com")
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    user.refresh_from_db()
    return user


@pytest.fixture
def other_learner(register_learner):
    return register_learner(name="王五", email="wangwu@example.com")
