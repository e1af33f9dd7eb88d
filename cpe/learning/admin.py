from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from cpe.catalog.models import Course
from cpe.core.admin_base import ReadOnlyAdmin, SafeModelAdmin

from . import policy, services
from .models import ChapterProgress, ChapterVideo, PlaySession, SuspiciousEvent


class ChapterVideoForm(forms.ModelForm):
    class Meta:
        model = ChapterVideo
        fields = "__all__"

    def clean_source(self):
        """Known containers only (by their first bytes), at most policy.VIDEO_MAX_BYTES: the
        file is refused here, before it is stored or handed to ffmpeg."""
        f = self.cleaned_data.get("source")
        if f and "source" in self.changed_data:
            pos = f.tell() if hasattr(f, "tell") else 0
            f.seek(0)
            head = f.read(policy.VIDEO_SNIFF_BYTES)
            f.seek(pos)
            problem = policy.video_upload_problem(size=f.size, head=head)
            if problem:
                raise forms.ValidationError(problem)
        return f


@admin.register(ChapterVideo)
class ChapterVideoAdmin(SafeModelAdmin):
    """Content editors upload a chapter's lecture; a background job transcodes it. The list
    and the page show the job's progress and any error (reload to refresh)."""

    form = ChapterVideoForm
    list_display = ["chapter", "status", "progress_bar", "duration", "uploaded_at", "ready_at"]
    list_filter = ["status"]
    search_fields = ["chapter__title", "chapter__course__title", "chapter__course__code"]
    autocomplete_fields = []
    fields = ["chapter", "source", "status", "progress_bar", "error", "duration", "ready_at"]
    readonly_fields = ["status", "progress_bar", "error", "duration", "ready_at"]
    raw_id_fields = ["chapter"]

    @admin.display(description="转码进度")
    def progress_bar(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<progress max="100" value="{}"></progress> {}%', obj.progress, obj.progress)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or "source" in form.changed_data:
            services.video_enqueue(obj)

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "chapter"] if obj else self.readonly_fields


class CourseListFilter(admin.RelatedFieldListFilter):
    """Courses by code and title: the years repeat titles ("2025-P01", "2026-P01")."""

    def field_choices(self, field, request, model_admin):
        return [(c.pk, f"{c.code} {c.title}") for c in Course.objects.order_by("-year__year", "code")]


@admin.register(SuspiciousEvent)
class SuspiciousEventAdmin(ReadOnlyAdmin):
    """Suspicious study patterns, per learner: filter by a learner with the link in the 学员 column."""

    list_display = ["at", "learner", "kind", "course", "chapter", "ip", "repeats"]
    list_filter = ["kind", "at", ("chapter__course", CourseListFilter)]
    search_fields = ["user__name", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["user", "chapter__course", "session"]
    extra_lookups = ("user__id__exact",)  # the 学员 column's link

    @admin.display(description="学员", ordering="user__name")
    def learner(self, obj):
        url = reverse("admin:learning_suspiciousevent_changelist") + f"?user__id__exact={obj.user_id}"
        return format_html('<a href="{}">{}</a>', url, obj.user.name_masked or obj.user.username)

    @admin.display(description="课程", ordering="chapter__course__code")
    def course(self, obj):
        """A chapter title alone ("1. 总则") does not say which course it belongs to."""
        c = obj.chapter.course
        return f"{c.code} {c.title}"

    @admin.display(description="本会话心跳数")
    def repeats(self, obj):
        return obj.session.heartbeats


@admin.register(PlaySession)
class PlaySessionAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "user",
        "chapter",
        "credited_seconds",
        "heartbeats",
        "superseded_at",
        "ended_at",
        "revoked_at",
        "revoked_reason",
        "flags",
        "ip",
    ]
    list_filter = ["started_at", "revoked_reason"]
    search_fields = ["user__name", "user__username"]
    list_select_related = ["user", "chapter"]
    # Listed, not excluded: a column added later (a key, a token, a session digest) stays off the page.
    fields = [
        "user",
        "enrolment",
        "chapter",
        "ip",
        "user_agent",
        "started_at",
        "superseded_at",
        "ended_at",
        "last_at",
        "last_position",
        "credited_seconds",
        "check_issued_at",
        "heartbeats",
        "flags",
    ]


@admin.register(ChapterProgress)
class ChapterProgressAdmin(ReadOnlyAdmin):
    list_display = ["user", "chapter", "watched_seconds", "furthest_position", "completed_at", "updated_at"]
    list_filter = ["completed_at"]
    search_fields = ["user__name", "user__username", "chapter__title"]
    list_select_related = ["user", "chapter"]
