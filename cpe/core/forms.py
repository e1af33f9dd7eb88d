from django import forms


class AccessibleForm(forms.Form):
    """Required-field messages that name the field, and errors tied to their inputs for
    screen readers (aria-invalid, aria-describedby)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if "required" not in field.error_messages or field.error_messages["required"].startswith(
                "这个字段"
            ):
                verb = "选择" if isinstance(field, forms.ChoiceField) else "填写"
                field.error_messages["required"] = f"请{verb}{field.label}。"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"id_{name}-error"
