from types import SimpleNamespace

from django import forms
from django.contrib.auth.password_validation import validate_password

from cpe.core.forms import AccessibleForm

from .policy import ID_PHOTO_MAX_BYTES, normalise_id_number
from .states import IdentityField, Region

_INPUT = {"class": "input"}


class RegistrationForm(AccessibleForm):
    """Exactly the six fields of rules R1.1, labelled as the agreement names them, plus the
    password, the SMS code, the 16-17 declaration and the agreement acceptance."""

    id_number = forms.CharField(
        label="身份证号码",
        max_length=18,
        widget=forms.TextInput(
            attrs={**_INPUT, "autocomplete": "off", "inputmode": "text", "autocapitalize": "characters"}
        ),
    )
    name = forms.CharField(
        label="姓名", max_length=30, widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "name"})
    )
    email = forms.EmailField(
        label="电子邮箱",
        max_length=254,
        widget=forms.EmailInput(attrs={**_INPUT, "autocomplete": "email"}),
        error_messages={"invalid": "请填写有效的电子邮箱地址。"},
    )
    mobile = forms.CharField(
        label="手机号码",
        max_length=14,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric", "autocomplete": "tel"}),
    )
    sms_code = forms.CharField(
        label="短信验证码",
        max_length=6,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    employer = forms.CharField(label="工作单位", max_length=100, widget=forms.TextInput(attrs=_INPUT))
    region = forms.ChoiceField(label="会计人员信息管理地区", choices=[("", "请选择")] + list(Region.choices))
    password = forms.CharField(
        label="密码",
        widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "new-password"}),
        help_text="至少 8 位，不能全为数字，不能由姓名（含拼音）、身份证号码、出生日期或手机号码组成。",
    )
    password2 = forms.CharField(
        label="确认密码", widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "new-password"})
    )
    self_supporting = forms.BooleanField(
        label="本人已满 16 周岁未满 18 周岁，"
        "以自己的劳动收入为主要生活来源（仅未满 18 周岁者勾选，需人工审核）",
        required=False,
    )
    accept = forms.BooleanField(
        label="我已阅读并同意《用户服务协议与隐私政策》",
        error_messages={"required": "请阅读并同意用户服务协议与隐私政策。"},
    )

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "两次输入的密码不一致。")
        elif p1:
            try:
                # The account does not exist yet: the validators read what the form was given.
                validate_password(
                    p1,
                    SimpleNamespace(
                        name=data.get("name") or "",
                        id_number=normalise_id_number(data.get("id_number") or ""),
                        mobile=data.get("mobile") or "",
                    ),
                )
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class LoginForm(AccessibleForm):
    username = forms.CharField(
        label="身份证号码或手机号码",
        max_length=64,
        widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label="密码", widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "current-password"})
    )
    # Shown and required only once the identifier has failed often (policy.login_captcha_required);
    # the view checks it, before the password.
    captcha = forms.CharField(
        label="验证码（计算结果）",
        max_length=4,
        required=False,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric", "autocomplete": "off"}),
    )


class PasswordChangeForm(AccessibleForm):
    """修改密码: the current password, the new one twice (the project's password validators)."""

    current_password = forms.CharField(
        label="当前密码", widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "current-password"})
    )
    new_password = forms.CharField(
        label="新密码",
        widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "new-password"}),
        help_text="至少 8 位，不能全为数字，不能由姓名（含拼音）、身份证号码、出生日期或手机号码组成。",
    )
    new_password2 = forms.CharField(
        label="确认新密码", widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "new-password"})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("new_password"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", "两次输入的新密码不一致。")
        elif p1:
            try:
                validate_password(p1, self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password", exc)
        return data


class ProfileForm(AccessibleForm):
    employer = forms.CharField(label="工作单位", max_length=100, widget=forms.TextInput(attrs=_INPUT))
    region = forms.ChoiceField(label="会计人员信息管理地区", choices=Region.choices)


class MobileChangeForm(AccessibleForm):
    mobile = forms.CharField(
        label="新手机号码", max_length=14, widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric"})
    )
    sms_code = forms.CharField(
        label="短信验证码",
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class RestoreForm(MobileChangeForm):
    """恢复账号服务: the mobile to be reached at (the old one, if it works again, or a new one)."""

    mobile = forms.CharField(
        label="手机号码",
        max_length=14,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric", "autocomplete": "tel"}),
    )


class EmailChangeForm(AccessibleForm):
    email = forms.EmailField(
        label="新电子邮箱",
        widget=forms.EmailInput(attrs=_INPUT),
        error_messages={"invalid": "请填写有效的电子邮箱地址。"},
    )


class IdentityChangeForm(AccessibleForm):
    field = forms.ChoiceField(label="变更项目", choices=IdentityField.choices)
    new_value = forms.CharField(label="变更后的内容", max_length=30, widget=forms.TextInput(attrs=_INPUT))
    reason = forms.CharField(label="变更理由", max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    id_photo = forms.FileField(
        label="身份证照片（可选）",
        required=False,
        help_text=f"JPG 或 PNG，不超过 {ID_PHOTO_MAX_BYTES // (1024 * 1024)} MB；"
        "仅供审核人员核对，审核后即删除。",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )

    def photo_bytes(self) -> bytes | None:
        """The uploaded photo's bytes, at most ID_PHOTO_MAX_BYTES + 1 read (the service refuses
        more), or None when none was chosen."""
        upload = self.cleaned_data.get("id_photo")
        if not upload:
            return None
        upload.seek(0)
        return upload.read(ID_PHOTO_MAX_BYTES + 1)


class PasswordResetForm(AccessibleForm):
    username = forms.CharField(
        label="身份证号码或手机号码", max_length=64, widget=forms.TextInput(attrs=_INPUT)
    )
    sms_code = forms.CharField(
        label="短信验证码",
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    password = forms.CharField(
        label="新密码",
        required=False,
        widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "new-password"}),
    )

    def clean_password(self):
        p = self.cleaned_data.get("password")
        if p:
            validate_password(p)
        return p


class PersonalDataForm(AccessibleForm):
    """Re-authentication before the personal-data download (it holds the full ID number)."""

    password = forms.CharField(
        label="登录密码", widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "current-password"})
    )


class AccountCloseForm(AccessibleForm):
    """注销账号: the password again and an explicit confirmation (rules R11.1)."""

    password = forms.CharField(
        label="登录密码", widget=forms.PasswordInput(attrs={**_INPUT, "autocomplete": "current-password"})
    )
    confirm = forms.BooleanField(
        label="我已了解注销后账号不能恢复，并确认注销本人账号",
        error_messages={"required": "请勾选确认已了解注销的后果。"},
    )


class SecondFactorForm(AccessibleForm):
    code = forms.CharField(
        label="验证码",
        max_length=32,
        strip=True,
        help_text="身份验证器上的 6 位数字；手机不在身边时可输入一个恢复码。",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )


class SecondFactorSetupForm(AccessibleForm):
    code = forms.CharField(
        label="验证码",
        max_length=16,
        strip=True,
        help_text="添加密钥后，身份验证器上显示的 6 位数字。",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
