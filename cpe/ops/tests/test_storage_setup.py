"""`manage.py storage_setup` against an S3-compatible server (moto over HTTP): creates the
private bucket, sets the exports' lifecycle backstop and the player's CORS rule, proves the
bucket private with a probe it deletes; refuses a bucket that anyone can read."""

import json
import secrets
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from config.settings.storage import named_storages
from cpe.reporting.policy import EXPORT_RETENTION


def _run(*args) -> str:
    out = StringIO()
    call_command("storage_setup", *args, stdout=out)
    return out.getvalue()


def test_creates_a_private_bucket_with_the_lifecycle_and_cors(s3, settings):
    bucket = "cpe-new-" + secrets.token_hex(4)
    settings.STORAGES = {**settings.STORAGES, **named_storages({**s3.env, "S3_BUCKET": bucket})}
    with pytest.raises(CommandError, match="不存在"):
        _run()  # no bucket, not asked to create one
    out = _run("--create-bucket", "--cors-origin", "https://cpe.example.cn")
    assert "已就绪" in out
    rules = s3.client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(rules) == 1 and rules[0]["Filter"]["Prefix"] == "private/exports/"
    assert rules[0]["Expiration"]["Days"] == EXPORT_RETENTION.days + 1 > EXPORT_RETENTION.days
    cors = s3.client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors[0]["AllowedOrigins"] == ["https://cpe.example.cn"] and sorted(cors[0]["AllowedMethods"]) == [
        "GET",
        "HEAD",
    ]
    block = s3.client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # the probe is gone
    s3.client.delete_bucket(Bucket=bucket)


def test_a_bucket_anyone_can_read_is_refused(s3):
    s3.client.put_bucket_policy(
        Bucket=s3.bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{s3.bucket}/*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(CommandError, match="匿名读取"):
        _run("--check-only")
    assert s3.keys() == []  # the probe is deleted all the same
    s3.client.delete_bucket_policy(Bucket=s3.bucket)
    assert "已就绪" in _run("--check-only")


def test_on_the_filesystem_there_is_nothing_to_do():
    assert "无需" in _run()
