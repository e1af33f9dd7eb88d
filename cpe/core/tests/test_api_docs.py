"""The API's docs and schema: staff only in production, public in local/test settings."""

import pytest

pytestmark = pytest.mark.django_db

DOC_URLS = ["/api/docs", "/api/openapi.json"]


@pytest.mark.parametrize("url", DOC_URLS)
def test_docs_hidden_from_anonymous_in_production(client, settings, url):
    settings.API_DOCS_PUBLIC = False
    r = client.get(url)
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert b"openapi" not in r.content.lower()


@pytest.mark.parametrize("url", DOC_URLS)
def test_docs_hidden_from_learners_in_production(client, settings, django_user_model, url):
    settings.API_DOCS_PUBLIC = False
    client.force_login(django_user_model.objects.create_user("learner-x", "pw-123456789", name="学员"))
    assert client.get(url).status_code == 302


@pytest.mark.parametrize("url", DOC_URLS)
def test_docs_served_to_staff_in_production(client, settings, django_user_model, url):
    settings.API_DOCS_PUBLIC = False
    client.force_login(
        django_user_model.objects.create_user("op-x", "pw-123456789", name="运营", is_staff=True)
    )
    assert client.get(url).status_code == 200


def test_docs_public_in_local_and_test(client, settings):
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200


def test_production_settings_keep_docs_private():
    from config.settings import base

    assert base.API_DOCS_PUBLIC is False
