"""Test factories of agreements: a version published through `agreement_publish` (the service
that records it and its audit event)."""

from datetime import datetime
from datetime import timezone as dt_timezone

import factory

from cpe.agreements.models import AgreementVersion

# An instant before anything a test can fix: the test agreement is in force from here on.
LONG_AGO = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)


class AgreementVersionFactory(factory.Factory):
    """Version 1.0 of the user agreement, in force since LONG_AGO (a test at 2026-11-28 must not
    meet an agreement that took effect at the real "now")."""

    class Meta:
        model = AgreementVersion

    version = "1.0"
    title = "用户服务协议与隐私政策"
    body = "第一条 测试协议正文。"
    is_minor = False
    effective_at = LONG_AGO
    at = LONG_AGO

    @classmethod
    def _create(cls, model_class, **fields):
        from cpe.agreements.services import agreement_publish

        return agreement_publish(**fields)
