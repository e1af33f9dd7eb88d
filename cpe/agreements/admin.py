from django import forms
from django.contrib import admin, messages

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.errors import ApplicationError

from . import selectors, services
from .models import AgreementAcceptance, AgreementVersion
from .policy import text_hash


class PublishForm(forms.ModelForm):
    """A new version starts from the text in force; it is published only after its difference
    from that text and a preview were shown for exactly the title and body submitted (the
    preview token is their hash, sent back by the preview page)."""

    preview_token = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = AgreementVersion
        fields = ["version", "title", "body", "summary", "is_minor", "effective_at"]

    def clean(self):
        data = super().clean()
        title, body = data.get("title"), data.get("body")
        if title is not None and body is not None:
            self.previewed_hash = text_hash(title, body)
            if data.get("preview_token") != self.previewed_hash:
                raise forms.ValidationError(
                    "请先核对下方与现行版本的差异和预览，确认无误后再点击“保存”发布。",
                    code="preview_required",
                )
        return data


DIFF_CONTEXT_LINES = 1  # unchanged lines shown around each change; longer runs are folded


def text_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, line) by line of the body: "same", "removed", "added", or "folded" with the number
    of unchanged lines left out (difflib's opcodes)."""
    import difflib

    a, b = old.splitlines(), new.splitlines()
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    out = []
    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        if op == "equal":
            same = a[i1:i2]
            head = same[:DIFF_CONTEXT_LINES] if n > 0 else []
            tail = same[-DIFF_CONTEXT_LINES:] if n < len(ops) - 1 else []
            if len(same) <= len(head) + len(tail) + 1:
                out.extend(("same", line) for line in same)
                continue
            out.extend(("same", line) for line in head)
            out.append(("folded", f"……（{len(same) - len(head) - len(tail)} 行未改动）"))
            out.extend(("same", line) for line in tail)
        else:
            out.extend(("removed", line) for line in a[i1:i2])
            out.extend(("added", line) for line in b[j1:j2])
    return out


@admin.register(AgreementVersion)
class AgreementVersionAdmin(SafeModelAdmin):
    """Publishing a version is final: a published text is never edited (rules R2.1). The add
    page starts from the text in force and shows the difference and a preview before 保存
    publishes (PublishForm)."""

    form = PublishForm
    add_form_template = "admin/agreements/agreementversion/add_form.html"
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

    def get_changeform_initial_data(self, request):
        """Start from the version in force: its title and body (the editor changes what changes)."""
        from django.utils import timezone

        current = selectors.version_current(timezone.now())
        initial = super().get_changeform_initial_data(request)
        if current is not None:
            initial.setdefault("title", current.title)
            initial.setdefault("body", current.body)
        return initial

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        """On the add page after a submit: the difference from the version in force, the text as
        learners will see it, and the token that lets the next 保存 publish exactly this."""
        form = context.get("adminform").form if context.get("adminform") else None
        if add and form is not None and form.is_bound and getattr(form, "previewed_hash", None):
            from django.utils import timezone

            current = selectors.version_current(timezone.now())
            title, body = form.cleaned_data["title"], form.cleaned_data["body"]
            context.update(
                preview={"title": title, "body": body, "token": form.previewed_hash},
                current=current,
                diff=text_diff(current.body if current else "", body),
                title_changed=current is not None and current.title != title,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        d = form.cleaned_data
        obj_new = services.agreement_publish(
            version=d["version"],
            title=d["title"],
            body=d["body"],
            summary=d.get("summary", ""),
            is_minor=d["is_minor"],
            effective_at=d["effective_at"],
            actor=request.user,
        )
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
