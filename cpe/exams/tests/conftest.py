import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(media_in_tmp):
    """Every exams test writes its files under the test's temporary directory (cpe/conftest.py)."""
