"""The STORAGES entries built from the environment (config/settings/storage.py): the local
filesystem unless S3_BUCKET is set; every object-store option private and signed; a variable
that cannot work stops the settings with its reason."""

import pytest

from config.settings.storage import AREAS, FILESYSTEM_BACKEND, S3_BACKEND, StorageConfigError, named_storages

S3_ENV = {
    "S3_BUCKET": "cpe-prod",
    "S3_ENDPOINT_URL": "https://oss-cn-huhehaote.aliyuncs.com",
    "S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "S3_SECRET_ACCESS_KEY": "secret",
    "S3_REGION": "oss-cn-huhehaote",
    "S3_ADDRESSING_STYLE": "virtual",
}


@pytest.mark.parametrize("env", [{}, {"S3_BUCKET": ""}, {"S3_BUCKET": "  ", "S3_ENDPOINT_URL": "http://x"}])
def test_without_a_bucket_everything_stays_on_the_filesystem(env):
    stores = named_storages(env)
    assert set(stores) == set(AREAS) == {"courseware", "courseware_sources", "exports", "documents"}
    assert all(s["BACKEND"] == FILESYSTEM_BACKEND for s in stores.values())
    assert stores["exports"]["OPTIONS"]["file_permissions_mode"] == 0o600


def test_with_a_bucket_every_storage_is_a_private_signed_prefix_of_it():
    stores = named_storages(S3_ENV)
    assert {n: s["OPTIONS"]["location"] for n, s in stores.items()} == {
        "courseware": "courseware/hls",
        "courseware_sources": "courseware/src",
        "exports": "private/exports",
        "documents": "private/documents",
    }
    for s in stores.values():
        o = s["OPTIONS"]
        assert s["BACKEND"] == S3_BACKEND and o["bucket_name"] == "cpe-prod"
        assert o["default_acl"] == "private" and o["querystring_auth"] is True
        assert o["addressing_style"] == "virtual" and o["region_name"] == "oss-cn-huhehaote"
        assert (
            o["endpoint_url"] == "https://oss-cn-huhehaote.aliyuncs.com" and o["signature_version"] == "s3v4"
        )
    # Only segments may go through a CDN; private documents never do.
    with_cdn = named_storages({**S3_ENV, "CDN_BASE_URL": "https://cdn.example.cn/"})
    assert with_cdn["courseware"]["OPTIONS"]["cdn_base_url"] == "https://cdn.example.cn"
    assert all(
        "cdn_base_url" not in with_cdn[n]["OPTIONS"] for n in ("courseware_sources", "exports", "documents")
    )


@pytest.mark.parametrize(
    "change,words",
    [
        ({"S3_ADDRESSING_STYLE": "subdomain"}, "S3_ADDRESSING_STYLE"),
        ({"S3_SECRET_ACCESS_KEY": ""}, "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"),
        ({"S3_ACCESS_KEY_ID": ""}, "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"),
        ({"CDN_BASE_URL": "cdn.example.cn"}, "CDN_BASE_URL"),
    ],
)
def test_a_variable_that_cannot_work_is_refused_with_its_name(change, words):
    with pytest.raises(StorageConfigError, match=words):
        named_storages({**S3_ENV, **change})


def test_optional_variables_may_be_absent():
    env = {"S3_BUCKET": "b", "S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    o = named_storages(env)["documents"]["OPTIONS"]
    assert o["access_key"] is None and o["secret_key"] is None and o["region_name"] is None
    assert o["addressing_style"] is None


def test_any_url_of_a_private_object_is_short_lived():
    from config.settings.storage import PRIVATE_URL_TTL

    for s in named_storages(S3_ENV).values():
        assert (
            s["OPTIONS"]["querystring_expire"] == PRIVATE_URL_TTL <= 300
        )  # django-storages' own default: 3600
