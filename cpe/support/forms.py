from django import forms

from cpe.core.forms import AccessibleForm

from . import policy
from .models import Category


class AskForm(AccessibleForm):
    title = forms.CharField(
        label="标题",
        widget=forms.TextInput(attrs={"maxlength": policy.TITLE_MAX_CHARS}),
        help_text=f"一句话概括您的问题，{policy.TITLE_MIN_CHARS}-{policy.TITLE_MAX_CHARS} 个字。",
    )
    category = forms.ChoiceField(
        label="分类（可不选）", required=False, choices=[("", "请选择")] + list(Category.choices)
    )
    body = forms.CharField(
        label="问题描述",
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": policy.BODY_MAX_CHARS}),
        help_text=f"最多 {policy.BODY_MAX_CHARS} 个字。请勿填写密码、验证码等信息。",
    )


class FollowUpForm(AccessibleForm):
    body = forms.CharField(
        label="补充内容", widget=forms.Textarea(attrs={"rows": 4, "maxlength": policy.BODY_MAX_CHARS})
    )
