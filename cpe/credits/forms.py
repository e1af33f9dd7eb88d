from django import forms

from cpe.core.forms import AccessibleForm


class PublicQueryForm(AccessibleForm):
    id_number = forms.CharField(
        label="身份证号码",
        max_length=18,
        min_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
        error_messages={"min_length": "身份证号码应为 18 位。"},
    )
    name = forms.CharField(label="姓名", max_length=30, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    captcha = forms.CharField(
        label="验证码（计算结果）",
        max_length=4,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
