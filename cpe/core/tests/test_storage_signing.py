"""A playlist's segment URLs are signed in one batch (cpe.core.storage.PrivateS3Storage.signed_urls):
each must be exactly the URL botocore would presign for that object and lifetime, for path- and
virtual-hosted buckets, through a CDN too; without static keys botocore signs them all."""

import logging

import pytest
import time_machine
from django.utils.module_loading import import_string

from config.settings.storage import named_storages

ENV = {
    "S3_BUCKET": "cpe-media",
    "S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "S3_SECRET_ACCESS_KEY": "wJalr/K7MDENG+bPxRfi",
    "S3_REGION": "oss-cn-huhehaote",
}
NAMES = [
    "12/34-0a1b2c3d4e5f6071/seg_0000.ts",
    "12/34-0a1b2c3d4e5f6071/seg_0001.ts",
    "12/34-0a1b2c3d4e5f6071/seg_0675.ts",
    "odd name/seg +~%.ts",
]
EXPIRES = [600, 604, 3300, 1]


def _store(**env):
    cfg = named_storages({**ENV, **env})["courseware"]
    return import_string(cfg["BACKEND"])(**cfg["OPTIONS"])


@pytest.mark.parametrize(
    "env",
    [
        {"S3_ENDPOINT_URL": "http://127.0.0.1:8160", "S3_ADDRESSING_STYLE": "path"},
        {"S3_ENDPOINT_URL": "https://oss-cn-huhehaote.aliyuncs.com", "S3_ADDRESSING_STYLE": "virtual"},
        {"S3_ENDPOINT_URL": "https://minio.internal:9000", "S3_ADDRESSING_STYLE": "path"},
        {
            "S3_ENDPOINT_URL": "https://oss-cn-huhehaote.aliyuncs.com",
            "CDN_BASE_URL": "https://cdn.example.cn/v",
        },
    ],
)
def test_batch_urls_equal_botocores_own(env, caplog):
    store = _store(**env)
    with time_machine.travel("2026-12-31 15:59:59+00:00", tick=False), caplog.at_level(logging.WARNING):
        batch = store.signed_urls(list(zip(NAMES, EXPIRES, strict=True)), content_type="video/mp2t")
        each = [
            store.signed_url(n, expires_in=e, content_type="video/mp2t")
            for n, e in zip(NAMES, EXPIRES, strict=True)
        ]
    assert batch == each
    assert not caplog.records  # signed by hand, not by the fallback (which would also be equal)
    assert len(set(batch)) == len(NAMES) and all("X-Amz-Signature=" in u for u in batch)
    if "CDN_BASE_URL" in env:
        assert all(u.startswith("https://cdn.example.cn/v/") for u in batch)


def test_a_wrong_hand_signature_falls_back_to_botocore(monkeypatch, caplog):
    from cpe.core import storage

    monkeypatch.setattr(storage._QuerySigner, "sign", lambda self, key, expires: "https://wrong.example/")
    store = _store(S3_ENDPOINT_URL="http://127.0.0.1:8160")
    with time_machine.travel("2026-12-31 15:59:59+00:00", tick=False), caplog.at_level(logging.WARNING):
        batch = store.signed_urls(list(zip(NAMES, EXPIRES, strict=True)))
        each = [store.signed_url(n, expires_in=e) for n, e in zip(NAMES, EXPIRES, strict=True)]
    assert batch == each and "differs from botocore" in caplog.text


def test_a_different_secret_gives_different_signatures():
    a = _store(S3_ENDPOINT_URL="http://127.0.0.1:8160").signed_urls([(NAMES[1], 600)] * 2)
    b = _store(S3_ENDPOINT_URL="http://127.0.0.1:8160", S3_SECRET_ACCESS_KEY="other").signed_urls(
        [(NAMES[1], 600)] * 2
    )
    assert a[1].split("X-Amz-Signature=")[1] != b[1].split("X-Amz-Signature=")[1]


def test_without_static_keys_botocore_signs_every_url(monkeypatch, caplog):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMCHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    env = {
        **ENV,
        "S3_ACCESS_KEY_ID": "",
        "S3_SECRET_ACCESS_KEY": "",
        "S3_ENDPOINT_URL": "http://127.0.0.1:8160",
    }
    cfg = named_storages(env)["courseware"]
    store = import_string(cfg["BACKEND"])(**{**cfg["OPTIONS"], "access_key": None, "secret_key": None})
    with time_machine.travel("2026-12-31 15:59:59+00:00", tick=False), caplog.at_level(logging.WARNING):
        batch = store.signed_urls(list(zip(NAMES, EXPIRES, strict=True)))
        each = [store.signed_url(n, expires_in=e) for n, e in zip(NAMES, EXPIRES, strict=True)]
    assert batch == each and not caplog.records
