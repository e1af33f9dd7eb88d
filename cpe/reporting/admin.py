from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from cpe.core.admin_base import ReadOnlyAdmin
from cpe.core.errors import ApplicationError
from cpe.core.net import client_ip

from .models import AisExchange, AisPerson, AisReport, ExportJob
from .states import ReportState


def key_short(key: str, chars: int = 8) -> str:
    """cpe-credit-c312cb9e-bce9-… → c312cb9e…: the record's own part of an idempotency key, cut
    (the 类型 column says credit or reversal)."""
    parts = key.split("-", 2)
    rest = parts[2] if len(parts) == 3 and parts[0] == "cpe" else key
    return rest if len(rest) <= chars else rest[:chars] + "…"


@admin.register(AisExchange)
class AisExchangeAdmin(ReadOnlyAdmin):
    """Every attempt to the AIS (operators: what went wrong; auditors: what was sent)."""

    list_display = ["at", "purpose", "method", "path", "attempt", "status", "duration_ms", "error"]
    list_filter = ["purpose", "status", "method"]
    search_fields = ["idempotency_key", "path"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AisExchange._meta.fields]


@admin.register(AisPerson)
class AisPersonAdmin(ReadOnlyAdmin):
    list_display = ["user", "last_result", "person_id", "region_code", "status", "checked_at"]
    list_filter = ["last_result", "region_code"]
    search_fields = ["person_id"]
    readonly_fields = [f.name for f in AisPerson._meta.fields]
    raw_id_fields = ["user"]


class QueueFilter(admin.SimpleListFilter):
    title = "队列"
    parameter_name = "queue"
    QUEUES = {
        # Words from core.ais_labels (the one AIS vocabulary), through ReportState's labels.
        "open": (
            "待上报（待发送 / 发送中 / 等待重试）",
            [ReportState.PENDING, ReportState.SENDING, ReportState.RETRYING],
        ),
        "waiting": (
            f"{ReportState.WAITING_PERSON.label} / {ReportState.WAITING_CREDIT.label}",
            [ReportState.WAITING_PERSON, ReportState.WAITING_CREDIT],
        ),
        "failed": (ReportState.FAILED.label, [ReportState.FAILED]),
    }

    def lookups(self, request, model_admin):
        return [(k, v[0]) for k, v in self.QUEUES.items()]

    def queryset(self, request, queryset):
        if self.value() in self.QUEUES:
            return queryset.filter(state__in=self.QUEUES[self.value()][1])
        return queryset


@admin.register(AisReport)
class AisReportAdmin(ReadOnlyAdmin):
    """The reporting queue (rules R9.1): pending, retrying and failed rows with the AIS's
    answer; 重试 sends a failed or retrying row again now. The body (ID number, name) is
    never shown; the learner's name is shown to who may retry (they chase the person), masked
    to everyone else."""

    list_display = [
        "report_ref",
        "kind",
        "learner",
        "course",
        "state",
        "attempts",
        "next_attempt_at",
        "receipt_no",
        "last_status",
        "last_error",
        "updated_at",
    ]
    list_filter = [QueueFilter, "state", "kind", "last_status", "record__year"]
    search_fields = ["idempotency_key", "receipt_no", "record__course_code"]
    date_hierarchy = "created_at"
    list_select_related = ["record", "record__user"]
    readonly_fields = [f.name for f in AisReport._meta.fields if f.name != "body"] + ["exchanges"]
    exclude = ["body"]
    actions = ["retry_selected"]

    @admin.display(description="幂等键", ordering="idempotency_key")
    def report_ref(self, obj):
        """The key's first characters after its kind (enough to tell rows apart when reading);
        the whole key as the cell's title, on the detail page, and searchable."""
        return format_html('<span title="{}">{}</span>', obj.idempotency_key, key_short(obj.idempotency_key))

    @admin.display(description="学员")
    def learner(self, obj):
        return obj.record.user.name_masked

    @admin.display(description="学员")
    def learner_name(self, obj):
        """The name and the masked mobile: whom to chase (never the ID number)."""
        user = obj.record.user
        return f"{user.name}（{user.mobile_masked}）"

    def get_list_display(self, request):
        """Who retries reports chases the people behind them: they see the name; everyone else
        the masked name. Chosen per request."""
        if request.user.has_perm("reporting.retry_aisreport"):
            return [c if c != "learner" else "learner_name" for c in self.list_display]
        return self.list_display

    @admin.display(description="课程")
    def course(self, obj):
        return f"{obj.record.course_code} {obj.record.course_title}"

    @admin.display(description="接口调用记录")
    def exchanges(self, obj):
        url = reverse("admin:reporting_aisexchange_changelist") + f"?q={obj.idempotency_key}"
        return format_html('<a href="{}">查看该幂等键的全部调用</a>', url)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("reporting.retry_aisreport"):
            actions.pop("retry_selected", None)
        return actions

    @admin.action(description="重试")
    def retry_selected(self, request, queryset):
        from .services import report_retry

        done = 0
        for report in queryset:
            try:
                report_retry(report_id=report.pk, actor=request.user, ip=client_ip(request.META))
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{report.idempotency_key}：{exc.message}", messages.WARNING)
        if done:
            self.message_user(request, f"已重新排队 {done} 条上报。")


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    """The export jobs. 增加 starts one (a form: year and region; the job runs in the background
    and its file is downloaded from the exports page). Starting needs both the add right and
    export_results (the file holds full ID numbers and mobiles); the service audits it."""

    list_display = [
        "created_at",
        "year",
        "region",
        "status",
        "progress",
        "rows_done",
        "created_by",
        "finished_at",
    ]
    list_filter = ["status", "year"]
    readonly_fields = [f.name for f in ExportJob._meta.fields]

    def has_add_permission(self, request):
        return request.user.has_perm("reporting.add_exportjob") and request.user.has_perm(
            "reporting.export_results"
        )

    def add_view(self, request, form_url="", extra_context=None):
        from django.core.exceptions import PermissionDenied
        from django.shortcuts import redirect, render

        from .forms import ExportStartForm
        from .policy import EXPORT_RETENTION
        from .services import export_job_create

        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ExportStartForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            export_job_create(
                year=form.cleaned_data["year"],
                region=form.cleaned_data["region"],
                actor=request.user,
                ip=client_ip(request.META),
            )
            self.message_user(request, "已开始导出，完成后可在“年度学时导出”页面下载。", messages.SUCCESS)
            return redirect(reverse("admin:reporting_exportjob_changelist"))
        return render(
            request,
            "admin/reporting/exportjob/add.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "开始年度学时导出",
                "form": form,
                "retention_days": EXPORT_RETENTION.days,
            },
            status=400 if form.errors else 200,
        )
