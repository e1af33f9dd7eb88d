from django import forms

from . import policy
from .states import BuyerType, UnitKind

_INPUT = {"class": "input"}


class InvoiceRequestForm(forms.Form):
    """Parses the request; the rules (name, unit kind, the credit code) are checked by
    policy.check_buyer through the service, whose errors land next to these fields. A
    personal invoice has no name input: it is made out to the learner's registered name."""

    buyer_type = forms.ChoiceField(
        label="发票抬头类型",
        choices=BuyerType.choices,
        widget=forms.RadioSelect,
        initial=BuyerType.PERSONAL,
        error_messages={
            "required": "请选择发票抬头类型（个人或单位）。",
            "invalid_choice": "请选择发票抬头类型（个人或单位）。",
        },
    )
    buyer_name = forms.CharField(
        label="单位名称",
        max_length=policy.BUYER_NAME_MAX,
        required=False,
        widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "organization"}),
        help_text="与单位营业执照或登记证书上的名称一致。",
    )
    unit_kind = forms.ChoiceField(
        label="单位类型", required=False, choices=[("", "请选择")] + list(UnitKind.choices)
    )
    taxpayer_id = forms.CharField(
        label="统一社会信用代码（纳税人识别号）",
        max_length=30,
        required=False,
        widget=forms.TextInput(
            attrs={**_INPUT, "autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        help_text="18 位。企业必填；行政事业单位等非企业单位可不填。",
    )
