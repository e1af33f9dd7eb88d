from django import forms
from django.contrib import admin, messages

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.errors import ApplicationError

from . import services
from .models import AgreementAcceptance, AgreementVersion


class PublishForm(forms.ModelForm):
    class Meta:
        model = AgreementVersion
        fields = ["version", "title", "body", "summary", "is_minor", "effective_at"]


@admin.register(AgreementVersion)
class AgreementVersionAdmin(SafeModelAdmin):
    """Publishing a version is final: a published text is never edited (rules R2.1)."""

    form = PublishForm
    list_display = ["version", "title", "is_minor", "effective_at", "published_at", "published_by"]
    readonly_fields = ["text_hash", "published_at", "published_by", "amends"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["version", "title", "body", "summary", "is_minor", "effective_at", *self.readonly_fields]
        return []

    def get_fields(self, request, obj=None):
        if obj is None:
            return PublishForm.Meta.fields
        return super().get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        d = form.cleaned_data
        obj_new = services.agreement_publish(version=d["version"], title=d["title"], body=d["body"],
                                             summary=d.get("summary", ""), is_minor=d["is_minor"],
                                             effective_at=d["effective_at"], actor=request.user)
        obj.pk = obj_new.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            from django.shortcuts import redirect
            return redirect(request.path)


@admin.register(AgreementAcceptance)
class AgreementAcceptanceAdmin(SafeModelAdmin):
    list_display = ["at", "user", "version", "decision", "ip"]
    list_filter = ["decision", "version"]
    readonly_fields = ["user", "version", "major_version", "decision", "text_hash", "at", "ip", "user_agent"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
