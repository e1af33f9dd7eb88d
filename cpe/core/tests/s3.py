"""An S3-compatible server for the tests: moto in server mode (ThreadedMotoServer) over HTTP on a
free loopback port, so the platform's real S3 code (django-storages and boto3) signs and sends
real requests. The root conftest loads this module as a plugin (`pytest_plugins`): a test asks
for `s3` by name, as for any fixture, and imports nothing.

`s3` creates a fresh private bucket and points every named storage at it, with exactly the
environment variables production reads (config/settings/storage.py)."""

import secrets
import socket
from dataclasses import dataclass

import pytest

from config.settings.storage import named_storages

PORTS = range(8160, 8170)  # the S3 test servers' ports on the shared machine
REGION = "us-east-1"


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port for the S3 test server in {PORTS.start}-{PORTS.stop - 1}")


@pytest.fixture(scope="session")
def s3_server():
    """The server's base URL, e.g. http://127.0.0.1:8160."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class S3:
    endpoint: str
    bucket: str
    env: dict
    client: object  # a boto3 S3 client with the platform's credentials (for assertions)

    def keys(self, prefix: str = "") -> list[str]:
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in page.get("Contents", []))


@pytest.fixture
def s3(s3_server, settings):
    import boto3

    bucket = "cpe-test-" + secrets.token_hex(6)
    env = {
        "S3_ENDPOINT_URL": s3_server,
        "S3_BUCKET": bucket,
        "S3_ACCESS_KEY_ID": "AKIATESTS3PLATFORM",
        "S3_SECRET_ACCESS_KEY": "test-secret-not-a-secret",
        "S3_REGION": REGION,
        "S3_ADDRESSING_STYLE": "path",
    }
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=REGION,
        aws_access_key_id=env["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["S3_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=bucket, ACL="private")
    settings.STORAGES = {**settings.STORAGES, **named_storages(env)}
    yield S3(s3_server, bucket, env, client)
    for key in S3(s3_server, bucket, env, client).keys():
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
