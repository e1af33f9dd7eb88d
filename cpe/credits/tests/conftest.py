import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(media_in_tmp):
    """Every credits test writes its certificates under the test's temporary directory
    (cpe/conftest.py)."""
