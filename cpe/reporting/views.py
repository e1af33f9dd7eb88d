from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from cpe.accounts.auth import user_for_identifier
from cpe.accounts.signals import client_ip
from cpe.accounts.states import Region
from cpe.core import storage as stores
from cpe.core.audit import audit_record

from . import policy, selectors, services
from .clients import get_client
from .clients.base import AisError
from .errors import ReportingError
from .forms import ExportStartForm
from .models import ExportJob
from .states import CheckResult, ExportStatus

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_POST
@login_required
@ratelimit(key="user", rate=policy.RECHECK_RATE, method="POST", block=True)
def recheck(request):
    """重新核验: look the learner up in the AIS now and say what was found."""
    if request.user.is_staff:
        return redirect("admin:index")
    try:
        person = services.ais_person_check(
            user_id=request.user.pk,
            actor=request.user,
            ip=client_ip(request),
            client=get_client(max_retries=policy.INTERACTIVE_MAX_RETRIES),
        )
    except ReportingError as exc:
        messages.error(request, exc.message)
    else:
        result = CheckResult(person.last_result)
        level = (
            messages.SUCCESS
            if result == CheckResult.FOUND
            else (messages.WARNING if result == CheckResult.NOT_FOUND else messages.ERROR)
        )
        messages.add_message(request, level, policy.RECHECK_MESSAGES[result])
    return redirect("accounts:dashboard")


# --- staff pages (/reporting/staff/…) ---------------------------------------------------------------


def _staff_context(request, title):
    return {**admin.site.each_context(request), "title": title}


@staff_member_required
@permission_required("reporting.reconcile_aisreport", raise_exception=True)
def staff_reconcile(request):
    """对账: our ledger vs the AIS's list for one learner (ID number or mobile) and year."""
    ctx = _staff_context(request, "AIS 对账")
    identifier = request.GET.get("who", "").strip()
    year = request.GET.get("year", "").strip()
    ctx.update(who=identifier, year=year or str(timezone.localdate().year))
    if identifier and year:
        learner = user_for_identifier(identifier)
        if learner is None or learner.is_staff:
            ctx["error"] = "未找到该学员（请输入身份证号码或手机号码）。"
        elif not year.isdigit():
            ctx["error"] = "年度格式不正确。"
        else:
            try:
                result = selectors.reconcile_person_year(user=learner, year=int(year))
            except ReportingError as exc:
                ctx["error"] = exc.message
            except AisError as exc:
                ctx["error"] = f"AIS 暂时无法查询：{exc}"
            else:
                ctx.update(result=result, learner=learner)
                audit_record(
                    "ais.reconciled",
                    actor=request.user,
                    subject=learner,
                    ip=client_ip(request),
                    data={"year": int(year), "differences": len(result.diffs), "matched": result.matched},
                )
    return render(request, "reporting/staff/reconcile.html", ctx)


@staff_member_required
@permission_required("reporting.view_exportjob", raise_exception=True)
def staff_exports(request):
    """年度学时导出: start an export (background job), list recent jobs with their progress."""
    can_export = request.user.has_perm("reporting.export_results")
    if request.method == "POST":
        if not can_export:
            messages.error(request, "您没有导出年度学时的权限。")
            return redirect("reporting:staff_exports")
        form = ExportStartForm(request.POST)
        if not form.is_valid():
            messages.error(request, "请选择已设立的培训年度和正确的地区。")
        else:
            services.export_job_create(
                year=form.cleaned_data["year"],
                region=form.cleaned_data["region"],
                actor=request.user,
                ip=client_ip(request),
            )
            messages.success(request, "已开始导出，完成后可在下方下载。")
        return redirect("reporting:staff_exports")
    ctx = _staff_context(request, "年度学时导出")
    ctx.update(
        _jobs_context(request),
        regions=Region.choices,
        default_year=timezone.localdate().year,
        retention_days=policy.EXPORT_RETENTION.days,
    )
    return render(request, "reporting/staff/exports.html", ctx)


@staff_member_required
@permission_required("reporting.view_exportjob", raise_exception=True)
def staff_exports_table(request):
    """The jobs table alone (htmx polls it while a job runs)."""
    return render(request, "reporting/staff/_export_jobs.html", _jobs_context(request))


def _jobs_context(request):
    jobs = list(ExportJob.objects.select_related("created_by")[:20])
    return {
        "jobs": jobs,
        "can_export": request.user.has_perm("reporting.export_results"),
        "polling": any(j.status in ("queued", "running") for j in jobs),
    }


@staff_member_required
@permission_required("reporting.export_results", raise_exception=True)
def staff_export_download(request, pk):
    """The only way to an export file: staff with export_results, audited, until it expires
    (policy.EXPORT_RETENTION); after that a clear 410 page."""
    job = get_object_or_404(ExportJob, pk=pk, status__in=[ExportStatus.DONE, ExportStatus.EXPIRED])
    if not policy.export_downloadable(
        done=job.status == ExportStatus.DONE, expires_at=job.expires_at, at=timezone.now()
    ):
        ctx = _staff_context(request, "导出文件已过期")
        ctx.update(job=job, retention_days=policy.EXPORT_RETENTION.days)
        return render(request, "reporting/staff/export_expired.html", ctx, status=410)
    name = services.export_file_name(job)
    if name is None:
        raise Http404
    try:  # a redirect to a short-lived signed URL of the object store, or the file streamed
        response = stores.file_response(
            services.export_storage(),
            name,
            download_name=services.export_download_name(job),
            content_type=XLSX_TYPE,
        )
    except FileNotFoundError:
        raise Http404 from None
    audit_record(
        "reporting.export_downloaded",
        actor=request.user,
        subject=job,
        ip=client_ip(request),
        data={"year": job.year, "region": job.region or "all", "rows": job.rows_done},
    )
    return response
