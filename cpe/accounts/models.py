import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models, transaction
from django.utils import timezone
from django_otp.models import Device

from cpe.core.fields import BlindIndexField, EncryptedTextField
from cpe.core.masking import mask_email, mask_id_number, mask_mobile, mask_name

from .states import (
    AccountStatus,
    AisStatus,
    ChangeStatus,
    CodePurpose,
    IdentityField,
    MinorReview,
    Region,
    TerminationReason,
)


class UserQuerySet(models.QuerySet):
    """Every write to the users table through a queryset forgets the rows it wrote from the user
    row cache (cpe.accounts.user_rows; Model.save/delete do it by signal, cpe.accounts.signals).
    `update` needs the written rows' keys: the ones its filter names (`pk=`, `pk__in=` at the top
    of the filter), else it locks and reads them first and updates those (a row that would start
    to match between the two statements is left as the update found it). `delete` sends
    post_delete per row (Django's collector does for a model with receivers), which forgets it."""

    def _named_pks(self):
        from django.db.models.expressions import Col
        from django.db.models.lookups import Exact, In
        from django.db.models.sql.where import AND

        where = self.query.where
        if where.negated or where.connector != AND:
            return None
        for child in where.children:
            lhs = getattr(child, "lhs", None)
            if not (
                isinstance(child, Exact | In)
                and isinstance(lhs, Col)
                and lhs.target is self.model._meta.pk
                and lhs.alias == self.query.base_table
            ):
                continue
            values = [child.rhs] if isinstance(child, Exact) else child.rhs
            if isinstance(values, list | tuple | set) and all(type(v) is int for v in values):
                return list(values)
        return None

    def update(self, **kwargs):
        from . import user_rows

        pks = self._named_pks()
        if pks is None:
            with transaction.atomic(using=self.db):
                pks = list(self.select_for_update(of=("self",)).values_list("pk", flat=True))
                rows = super(UserQuerySet, self.filter(pk__in=pks)).update(**kwargs)
        else:
            rows = super().update(**kwargs)
        user_rows.forget(pks, using=self.db)
        return rows

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        from . import user_rows

        objs = list(objs)
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        user_rows.forget([o.pk for o in objs], using=self.db)
        return rows

    bulk_update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        from . import user_rows

        created = super().bulk_create(objs, *args, **kwargs)
        if kwargs.get("update_conflicts"):  # existing rows may have been written
            user_rows.forget([o.pk for o in created], using=self.db)
        return created

    bulk_create.alters_data = True


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_queryset(self):
        """Every queryset of the manager, and of the related managers built on it, is a
        UserQuerySet: its writes forget the user row cache's rows."""
        return UserQuerySet(self.model, using=self._db)

    def create_user(self, username=None, password=None, **fields):
        user = self.model(username=username or new_public_username(), **fields)
        user.set_password(password)
        user.save()
        return user

    def create_superuser(self, username, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        fields.setdefault("name", username)
        return self.create_user(username, password, **fields)


def new_public_username() -> str:
    """Learners sign in with ID number or mobile; this name only identifies the row."""
    return "u" + secrets.token_hex(6)


SESSION_AUTH_HASHES_KEPT = 4096  # per process (User.get_session_auth_hash)
_session_auth_hashes: dict = {}


class User(AbstractBaseUser, PermissionsMixin):
    """A learner (real-name data of rules R1.1, encrypted) or a staff member (username)."""

    username = models.CharField("用户名", max_length=64, unique=True)
    name = models.CharField("姓名", max_length=30)
    id_number = EncryptedTextField("身份证号码", blank=True)
    id_number_bidx = BlindIndexField(source="id_number", kind="id_number", unique=True)
    email = EncryptedTextField("电子邮箱", blank=True)
    email_bidx = BlindIndexField(source="email", kind="email", db_index=True)
    mobile = EncryptedTextField("手机号码", blank=True)
    mobile_bidx = BlindIndexField(source="mobile", kind="mobile", unique=True)
    employer = models.CharField("工作单位", max_length=100, blank=True)
    region = models.CharField("会计人员信息管理地区", max_length=6, choices=Region.choices, blank=True)

    mobile_verified_at = models.DateTimeField("手机验证时间", null=True, blank=True)
    email_verified_at = models.DateTimeField("邮箱验证时间", null=True, blank=True)

    status = models.CharField(
        "账号状态", max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    status_reason = models.CharField("终止原因", max_length=32, choices=TerminationReason.choices, blank=True)
    status_note = models.TextField("状态说明", blank=True)
    status_changed_at = models.DateTimeField("状态变更时间", null=True, blank=True)

    correction_reason = models.TextField("待更正原因", blank=True)
    correction_set_at = models.DateTimeField("待更正设置时间", null=True, blank=True)

    self_supporting = models.BooleanField("16-17 周岁自立声明", default=False)
    minor_review = models.CharField(
        "未成年审核", max_length=16, choices=MinorReview.choices, blank=True, default=MinorReview.NONE
    )

    ais_status = models.CharField(
        "会计信息系统状态", max_length=16, choices=AisStatus.choices, default=AisStatus.UNKNOWN
    )
    ais_checked_at = models.DateTimeField("核验时间", null=True, blank=True)

    # The account's current sign-in (rules R1.7), as crypto.blind_index("session_key", <session
    # key>): a keyed hash, never the key itself (a readable column is a stolen session).
    session_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    is_staff = models.BooleanField("工作人员", default=False)
    is_active = models.BooleanField("可登录", default=True)
    date_joined = models.DateTimeField("注册时间", default=timezone.now)

    objects = UserManager()
    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = verbose_name_plural = "用户"
        permissions = [
            ("view_identity", "可查看完整身份信息（留审计记录）"),
            ("review_identity", "可审核身份信息变更与未成年声明"),
            ("set_correction_hold", "可设置/解除待更正"),
        ]

    def __str__(self):
        return self.name or self.username

    def get_session_auth_hash(self):
        """Django's (an HMAC of the password hash under SECRET_KEY, which every signed-in request
        checks its session against), remembered per process for the last few thousand password
        hashes: a pure function of the two, so a changed password or key is a new entry. The
        fallback keys' hashes (SECRET_KEY_FALLBACKS) are Django's own, computed each time."""
        key = (self.password, settings.SECRET_KEY)
        digest = _session_auth_hashes.get(key)
        if digest is None:
            digest = super().get_session_auth_hash()
            if len(_session_auth_hashes) >= SESSION_AUTH_HASHES_KEPT:
                _session_auth_hashes.clear()
            _session_auth_hashes[key] = digest
        return digest

    @property
    def audit_label(self):
        return f"{'staff' if self.is_staff else 'learner'}:{self.username}"

    @property
    def is_learner(self):
        return not self.is_staff

    @property
    def on_hold(self):
        return bool(self.correction_reason)

    @property
    def id_number_masked(self):
        return mask_id_number(self.id_number)

    @property
    def mobile_masked(self):
        return mask_mobile(self.mobile)

    @property
    def email_masked(self):
        return mask_email(self.email)

    @property
    def name_masked(self):
        return mask_name(self.name)


class LoginRecord(models.Model):
    """Each sign-in, shown to the learner (rules R1.7), kept ≥ 6 months (rules R14)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="logins")
    at = models.DateTimeField("时间", db_index=True)
    ip = models.GenericIPAddressField("IP", null=True)
    user_agent = models.CharField("设备", max_length=300, blank=True)
    device_key = models.CharField(max_length=16)
    is_new_device = models.BooleanField("新设备", default=False)
    ended_other_session = models.BooleanField("结束了其他登录", default=False)
    # A correct password refused because the account is banned (rules R12): recorded, never a sign-in.
    refused = models.BooleanField("登录被拒绝", default=False)

    class Meta:
        ordering = ["-at"]
        verbose_name = verbose_name_plural = "登录记录"

    @property
    def device_label(self):
        """ "Chrome · Android" from the user agent, for people rather than parsers."""
        import re

        ua = self.user_agent or ""
        browser = next(
            (
                name
                for pattern, name in [
                    (r"MicroMessenger", "微信"),
                    (r"Edg/", "Edge"),
                    (r"Firefox/", "Firefox"),
                    (r"Chrome/|Chromium/|HeadlessChrome/", "Chrome"),
                    (r"Safari/", "Safari"),
                ]
                if re.search(pattern, ua)
            ),
            "浏览器",
        )
        system = next(
            (
                name
                for pattern, name in [
                    (r"iPhone|iPad", "iOS"),
                    (r"Android", "Android"),
                    (r"Windows", "Windows"),
                    (r"Mac OS X", "macOS"),
                    (r"Linux", "Linux"),
                ]
                if re.search(pattern, ua)
            ),
            "未知系统",
        )
        return f"{browser} · {system}"


class VerificationCode(models.Model):
    """A one-time code sent by SMS or a link token sent by e-mail. Only a hash is kept."""

    purpose = models.CharField(max_length=20, choices=CodePurpose.choices)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE)
    target = EncryptedTextField()
    target_bidx = BlindIndexField(source="target", kind="code_target", db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["purpose", "target_bidx", "created_at"])]


class IdentityChangeRequest(models.Model):
    """A learner's request to change name or ID number, decided by a reviewer (rules R1.8)."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="identity_changes", verbose_name="用户"
    )
    field = models.CharField("变更项", max_length=16, choices=IdentityField.choices)
    new_value = EncryptedTextField("新值")
    reason = models.TextField("申请理由")
    status = models.CharField(
        "状态", max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.PENDING
    )
    created_at = models.DateTimeField("申请时间")
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="审核人"
    )
    decision_note = models.TextField("审核意见", blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "身份信息变更申请"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "field"],
                condition=models.Q(status="pending"),
                name="one_pending_change_per_field",
            ),
        ]

    def __str__(self):
        return f"{self.get_field_display()}变更 #{self.pk}"

    @property
    def new_value_masked(self):
        if self.field == IdentityField.ID_NUMBER:
            return mask_id_number(self.new_value)
        return mask_name(self.new_value)


class IdentityDocument(models.Model):
    """The ID card photo a learner attached to an identity change request: encrypted (base64 of
    the image in an encrypted column), shown only to reviewers through an audited view, deleted
    when the request is decided (accounts.services.identity_change_decide)."""

    request = models.OneToOneField(
        IdentityChangeRequest, on_delete=models.CASCADE, related_name="document", verbose_name="变更申请"
    )
    content_type = models.CharField("类型", max_length=20)
    size = models.PositiveIntegerField("大小（字节）")
    data = EncryptedTextField("图片（加密）")
    uploaded_at = models.DateTimeField("上传时间")

    class Meta:
        verbose_name = verbose_name_plural = "身份证照片"

    def __str__(self):
        return f"身份证照片（申请 #{self.request_id}）"


class ArchivedAccount(models.Model):
    """A closed account's personal data and transaction records, sealed with the archive key
    (never a field key) until purge_after = last paid transaction + 3 years (rules R11.3). Staff
    see this metadata only; the sealed content is opened by nothing in the site."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="archive", verbose_name="用户")
    sealed = models.TextField("封存内容", editable=False)
    key_id = models.CharField("归档密钥编号", max_length=16)
    archived_at = models.DateTimeField("归档时间")
    last_transaction_at = models.DateTimeField("最后交易时间")
    purge_after = models.DateTimeField("到期清除时间", db_index=True)

    AAD = "accounts.archivedaccount.sealed"

    class Meta:
        ordering = ["purge_after"]
        verbose_name = verbose_name_plural = "已注销账号归档"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(purge_after__gt=models.F("archived_at")),
                name="archive_purge_after_archiving",
            )
        ]

    def __str__(self):
        return f"归档 #{self.pk}（用户 {self.user_id}）"


class StaffSecondFactor(Device):
    """A staff member's second factor (django-otp device): a TOTP key and the account's recovery
    codes. One per staff account. The key is stored only encrypted (AES-GCM, like the personal
    data columns); the recovery codes only as keyed hashes (``StaffRecoveryCode``). The failure
    count throttles wrong codes per account (``policy.second_factor_wait``)."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="second_factor", verbose_name="工作人员"
    )
    key = EncryptedTextField("TOTP 密钥", editable=False)
    last_step = models.BigIntegerField("最近接受的时间步", default=-1, editable=False)
    created_at = models.DateTimeField("创建时间")
    confirmed_at = models.DateTimeField("绑定时间", null=True, blank=True)
    last_used_at = models.DateTimeField("最近验证时间", null=True, blank=True)
    failures = models.PositiveIntegerField("连续错误次数", default=0)
    last_failure_at = models.DateTimeField("最近错误时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "工作人员两步验证"

    def __str__(self):
        return f"两步验证（用户 {self.user_id}）"


class StaffRecoveryCode(models.Model):
    """One recovery code of a staff member: its keyed hash only (the code is shown once at
    enrolment), usable once."""

    factor = models.ForeignKey(StaffSecondFactor, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, editable=False)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "恢复码"
        constraints = [models.UniqueConstraint(fields=["factor", "code_hash"], name="recovery_code_unique")]


class StoredSession(models.Model):
    """A web session (decision 0018): the database copy is the one that counts, Redis holds a
    copy in front of it. Keyed by the keyed hash of the session key, never the key itself
    (crypto.blind_index("web_session", <key>)): whoever reads this table or a backup cannot sign
    in with what they read. No foreign key to the user: ending an account's sessions is the
    user row's business (``User.session_key_hash``, rules R1.7), read on every request."""

    key_hash = models.CharField(max_length=64, primary_key=True)
    session_data = models.TextField()
    expire_date = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "会话"
        verbose_name_plural = "会话"

    def __str__(self):
        return f"会话 {self.key_hash[:8]}…"
