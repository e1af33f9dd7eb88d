from django import forms

from cpe.accounts.states import Region
from cpe.catalog.models import TrainingYear


class ExportStartForm(forms.Form):
    """开始导出: a training year that exists, and all regions or one of the fifteen."""

    year = forms.TypedChoiceField(
        label="年度",
        coerce=int,
        choices=(),
        error_messages={"invalid_choice": "请选择已设立的培训年度。", "required": "请选择年度。"},
    )
    region = forms.ChoiceField(
        label="地区",
        required=False,
        choices=[("", "全部地区"), *Region.choices],
        error_messages={"invalid_choice": "请选择正确的地区。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        years = list(TrainingYear.objects.order_by("-year").values_list("year", flat=True))
        self.fields["year"].choices = [(y, f"{y} 年度") for y in years]
