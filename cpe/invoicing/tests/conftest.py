import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(media_in_tmp):
    """PDFs go to a temporary MEDIA_ROOT; no test writes into var/. Invoices are issued by the
    local stand-in, told to succeed."""
    media_in_tmp.INVOICE_PROVIDER = "cpe.invoicing.providers.local.LocalInvoiceProvider"
    media_in_tmp.INVOICE_LOCAL_FAIL = ""
    yield


@pytest.fixture
def learner_traits():
    """The invoicing tests' learner is 张三 with a verified e-mail (invoices go by e-mail too),
    not yet checked with the AIS."""
    return {"name": "张三", "email": "zhangsan@example.com", "verified": True}
