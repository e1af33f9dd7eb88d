from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect

from cpe.accounts.signals import client_ip
from cpe.core.admin_base import SafeModelAdmin

from . import policy, services
from .errors import SupportError
from .models import FaqEntry, Message, Thread
from .states import ThreadEvent, ThreadStatus


@admin.register(FaqEntry)
class FaqEntryAdmin(SafeModelAdmin):
    list_display = ["question", "category", "position", "is_published", "updated_at"]
    list_editable = ["position", "is_published"]
    list_filter = ["category", "is_published"]
    search_fields = ["question", "answer"]
    fields = ["category", "question", "answer", "position", "is_published"]


class MessageInline(admin.TabularInline):
    """The conversation, read-only: messages are never edited; answers go through the form."""

    model = Message
    fields = ["created_at", "speaker", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="发言")
    def speaker(self, obj):
        return (
            f"客服（{obj.author.name or obj.author.username}）"
            if obj.from_staff and obj.author
            else ("客服" if obj.from_staff else "学员")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ThreadAnswerForm(forms.ModelForm):
    reply = forms.CharField(
        label="回复学员",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": policy.BODY_MAX_CHARS}),
        help_text="提交后学员会收到短信（已验证邮箱的同时收到邮件）通知。",
    )
    close = forms.BooleanField(
        label="关闭该问题", required=False, help_text="关闭后学员不能再补充，如有新问题需重新提问。"
    )

    class Meta:
        model = Thread
        fields = []

    def clean(self):
        data = super().clean()
        reply, close = (data.get("reply") or "").strip(), data.get("close")
        if not reply and not close:
            raise forms.ValidationError("请填写回复内容，或勾选“关闭该问题”。")
        if reply:
            d = policy.check_body(reply, "回复内容")
            if not d.allowed:
                self.add_error("reply", d.message)
            d = policy.move_decision(self.instance.status, ThreadEvent.ANSWER)
            if not d.allowed:
                self.add_error("reply", d.message)
        return data


@admin.register(Thread)
class ThreadAdmin(SafeModelAdmin):
    """The question queue: answer (the learner is notified) and/or close. Each is audited."""

    form = ThreadAnswerForm
    list_display = ["title", "learner", "category", "status", "created_at", "last_message_at"]
    list_filter = ["status", "category"]
    search_fields = ["title"]
    date_hierarchy = "created_at"
    inlines = [MessageInline]
    readonly_fields = [
        "learner",
        "title",
        "category",
        "status",
        "created_at",
        "last_message_at",
        "closed_at",
        "closed_by",
    ]

    @admin.display(description="学员")
    def learner(self, obj):
        return f"{obj.user.name}（{obj.user.mobile_masked}）"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def get_fieldsets(self, request, obj=None):
        facts = (None, {"fields": self.readonly_fields})
        if obj is not None and obj.status != ThreadStatus.CLOSED and self.has_change_permission(request, obj):
            return [facts, ("回复", {"fields": ["reply", "close"]})]
        return [facts]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def response_change(self, request, obj):
        """Stay on the thread: staff see their answer in the conversation (the services'
        messages say what was done)."""
        return redirect(request.path)

    def save_model(self, request, obj, form, change):
        """Nothing on the thread is edited directly: the answer and the close go through the
        services (locks, state table, notification, audit)."""
        d, ip = form.cleaned_data, client_ip(request)
        try:
            if (d.get("reply") or "").strip():
                services.thread_answer(staff=request.user, thread_id=obj.pk, body=d["reply"], ip=ip)
                self.message_user(request, "回复已发送，已通知学员。", messages.SUCCESS)
            if d.get("close"):
                services.thread_close(staff=request.user, thread_id=obj.pk, ip=ip)
                self.message_user(request, "问题已关闭。", messages.SUCCESS)
        except SupportError as exc:  # e.g. closed by a colleague a moment ago
            self.message_user(request, exc.message, messages.ERROR)
