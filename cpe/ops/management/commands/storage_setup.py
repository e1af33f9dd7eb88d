"""Prepare and check the object store (docs/storage.md, "The bucket"):

    python manage.py storage_setup [--create-bucket] [--cors-origin URL ...] [--check-only]

With S3_BUCKET set: optionally create the bucket, block public access where the store supports
it, set the exports' lifecycle backstop and the CORS rule for the player, then prove the bucket
is private: a probe object is readable through a signed URL and refused without one. Exits
non-zero when the store is readable anonymously or cannot be reached. On the local filesystem
there is nothing to do."""

import secrets

import requests
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from cpe.core import storage as stores
from cpe.reporting.policy import EXPORT_RETENTION

# The lifecycle rule is a backstop behind the hourly clean-up: it must fire after the
# documented retention, never before (S3 counts whole days from the upload).
EXPORT_LIFECYCLE_DAYS = EXPORT_RETENTION.days + 1
PROBE_TIMEOUT = 10


def lifecycle_rules(exports_prefix: str) -> dict:
    return {
        "Rules": [
            {
                "ID": "cpe-exports-expire",
                "Status": "Enabled",
                "Filter": {"Prefix": exports_prefix.rstrip("/") + "/"},
                "Expiration": {"Days": EXPORT_LIFECYCLE_DAYS},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }


class Command(BaseCommand):
    help = "准备并检查对象存储：存储桶私有、导出文件生命周期、播放器跨域规则。"

    def add_arguments(self, parser):
        parser.add_argument("--create-bucket", action="store_true", help="存储桶不存在时创建（私有）")
        parser.add_argument(
            "--cors-origin",
            action="append",
            default=None,
            help="允许播放器读取分片的站点地址（可多次给出；默认 SITE_URL）",
        )
        parser.add_argument("--check-only", action="store_true", help="只检查，不修改存储桶设置")

    def handle(self, *args, **opts):
        documents, exports = stores.documents(), stores.exports()
        if not stores.is_object_store(documents):
            self.stdout.write("未设置 S3_BUCKET：文件保存在本地目录，无需准备对象存储。")
            return
        client, bucket = documents.connection.meta.client, documents.bucket_name
        try:
            self._bucket(client, bucket, create=opts["create_bucket"] and not opts["check_only"])
            if not opts["check_only"]:
                self._settings(client, bucket, exports.location, opts["cors_origin"] or [settings.SITE_URL])
            self._probe(documents)
        except ClientError as exc:
            raise CommandError(f"对象存储拒绝了请求：{exc}") from exc
        except (requests.RequestException, OSError) as exc:
            raise CommandError(f"无法连接对象存储：{exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"对象存储 {bucket} 已就绪：私有，签名链接可读，无签名被拒绝。"))

    def _bucket(self, client, bucket, *, create):
        try:
            client.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket") or not create:
                raise CommandError(
                    f"存储桶 {bucket} 不存在或无权访问（{exc}）。请先创建私有存储桶，或加 --create-bucket。"
                ) from exc
        region = client.meta.region_name
        kwargs = {"Bucket": bucket, "ACL": "private"}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        client.create_bucket(**kwargs)
        self.stdout.write(f"已创建私有存储桶 {bucket}。")

    def _settings(self, client, bucket, exports_prefix, origins):
        try:
            client.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self.stdout.write("已阻止公共访问。")
        except ClientError as exc:  # MinIO and some OSS endpoints do not offer it over the S3 API
            self.stdout.write(
                self.style.WARNING(
                    f"该存储不支持通过接口阻止公共访问（{exc.response['Error'].get('Code')}），"
                    "请在控制台确认存储桶为私有。"
                )
            )
        # Replaces the bucket's lifecycle configuration: the bucket is the platform's alone.
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=lifecycle_rules(exports_prefix)
        )
        self.stdout.write(
            f"导出文件生命周期：{exports_prefix}/ 下的对象 {EXPORT_LIFECYCLE_DAYS} 天后删除"
            f"（平台每小时清理，保留 {EXPORT_RETENTION.days} 天）。"
        )
        client.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": [o.rstrip("/") for o in origins],
                        "AllowedMethods": ["GET", "HEAD"],
                        "AllowedHeaders": ["Range"],
                        "MaxAgeSeconds": 600,
                    }
                ]
            },
        )
        self.stdout.write(f"跨域读取只允许：{', '.join(origins)}。")

    def _probe(self, store):
        """Write a private object, read it through a signed URL, and make sure that the same
        object without the signature is refused; delete it whatever happens."""
        body = secrets.token_bytes(32)
        name = store.save(f"storage-check/{secrets.token_hex(12)}.bin", ContentFile(body))
        try:
            signed = stores.signed_url(store, name, expires_in=stores.PRIVATE_URL_TTL)
            got = requests.get(signed, timeout=PROBE_TIMEOUT)
            if got.status_code != 200 or got.content != body:
                raise CommandError(
                    f"签名链接读取失败（HTTP {got.status_code}）：请检查 S3_ENDPOINT_URL、S3_REGION、"
                    "S3_ADDRESSING_STYLE 与密钥。"
                )
            anonymous = requests.get(signed.split("?", 1)[0], timeout=PROBE_TIMEOUT)
            if anonymous.status_code not in (401, 403):
                raise CommandError(
                    f"存储桶可被匿名读取（无签名请求得到 HTTP {anonymous.status_code}）："
                    "请将存储桶与对象设为私有，删除允许匿名访问的存储桶策略。"
                )
        finally:
            store.delete(name)
