import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """PDFs go to a temporary MEDIA_ROOT; no test writes into var/."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://cpe.example.cn"
    settings.INVOICE_PROVIDER = "cpe.invoicing.providers.local.LocalInvoiceProvider"
    settings.INVOICE_LOCAL_FAIL = ""
    yield


@pytest.fixture
def learner(verified_learner):
    return verified_learner


@pytest.fixture
def other_learner(register_learner):
    return register_learner(name="王五", email="wangwu@example.com")
