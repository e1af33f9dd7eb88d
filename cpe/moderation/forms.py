from django import forms
from django.utils import timezone

from cpe.accounts.states import TerminationReason
from cpe.core.forms import AccessibleForm

from . import policy
from .models import Ban

DATETIME_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def ends_at_field():
    """The optional end of a ban, typed in a browser's datetime-local box ("YYYY-MM-DDTHH:MM",
    Beijing time). Declared on each form: the staff site would otherwise turn a model
    DateTimeField into a two-box SplitDateTimeField, which refuses the single value this widget
    sends ("输入一系列值。"), so no ban could have an end."""
    return forms.DateTimeField(
        label="结束时间（北京时间）",
        required=False,
        widget=DATETIME_LOCAL,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="留空表示直至解除。",
    )


def _add_errors(form, errors):
    for field, message in errors.items():
        form.add_error(field if field in form.fields else None, message)


class TerminateForm(forms.Form):
    reason = forms.ChoiceField(label="终止原因", choices=[("", "请选择")] + TerminationReason.choices)
    note = forms.CharField(
        label="说明",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="原因为“其他”时必填，并会作为终止原因告知学员；其他原因下仅记入审计日志。",
    )

    def clean(self):
        data = super().clean()
        if "reason" in data:
            _add_errors(self, policy.termination_errors(reason=data["reason"], note=data.get("note", "")))
        return data


class AccountBanForm(forms.Form):
    reason = forms.CharField(
        label="封禁原因",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="会显示给被封禁的学员。",
    )
    ends_at = ends_at_field()

    def clean(self):
        data = super().clean()
        now = timezone.now()
        _add_errors(
            self,
            policy.ban_errors(
                reason=data.get("reason", ""), starts_at=now, ends_at=data.get("ends_at"), at=now
            ),
        )
        return data


class NetworkBanForm(forms.ModelForm):
    ends_at = ends_at_field()

    class Meta:
        model = Ban
        fields = ["network", "reason", "ends_at"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean(self):
        data = super().clean()
        now = timezone.now()
        net, message = policy.parse_network(data.get("network", ""))
        if net is None:
            self.add_error("network", message)
        _add_errors(
            self,
            policy.ban_errors(
                reason=data.get("reason", ""), starts_at=now, ends_at=data.get("ends_at"), at=now
            ),
        )
        return data


class SanctionedCopyForm(AccessibleForm):
    """受限账号下载个人信息: the account, then the SMS code sent to its verified mobile."""

    identifier = forms.CharField(
        label="身份证号码或手机号码",
        max_length=64,
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "username"}),
    )
    sms_code = forms.CharField(
        label="短信验证码",
        max_length=6,
        required=False,
        widget=forms.TextInput(
            attrs={"class": "input", "inputmode": "numeric", "autocomplete": "one-time-code"}
        ),
    )
