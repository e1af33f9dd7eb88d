from django.db import models

from cpe.core import ais_labels as _ais
from cpe.core.regions import Region  # noqa: F401  (re-exported: the learner's region is an account field)


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "正常"
    CLOSED = "closed", "已注销"
    TERMINATED = "terminated", "已终止服务"


TRANSITIONS = {
    AccountStatus.ACTIVE: {AccountStatus.CLOSED, AccountStatus.TERMINATED},
    AccountStatus.CLOSED: set(),
    AccountStatus.TERMINATED: {AccountStatus.ACTIVE},  # only when policy.account_restorable
}


class TerminationReason(models.TextChoices):
    """The agreement's grounds for ending the service (agreement §3.2)."""

    VIOLATION = "violation", "违反用户协议"
    UNREACHABLE = "unreachable", "联系方式失效且经通知未更新"
    FALSE_DATA = "false_data", "注册资料虚假"
    REFUSED_AGREEMENT = "refused_agreement", "明示不接受新的用户协议"
    NO_CAPACITY = "no_capacity", "不具备完全民事行为能力"
    OTHER = "other", "其他"


class AisStatus(models.TextChoices):
    """Labels: cpe.core.ais_labels (one AIS vocabulary on every page)."""

    UNKNOWN = "unknown", _ais.PERSON_UNKNOWN
    FOUND = "found", _ais.PERSON_FOUND
    NOT_FOUND = "not_found", _ais.PERSON_NOT_FOUND
    FAILED = "failed", _ais.PERSON_FAILED


class MinorReview(models.TextChoices):
    NONE = "", "无需审核"
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "已驳回"


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "已驳回"


class IdentityField(models.TextChoices):
    NAME = "name", "姓名"
    ID_NUMBER = "id_number", "身份证号码"


class CodePurpose(models.TextChoices):
    REGISTER = "register", "注册"
    CHANGE_MOBILE = "change_mobile", "更换手机号码"
    VERIFY_EMAIL = "verify_email", "验证电子邮箱"
    RESET_PASSWORD = "reset_password", "找回密码"
    SANCTIONED_COPY = "sanctioned_copy", "下载个人信息"
