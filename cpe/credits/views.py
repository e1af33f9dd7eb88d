"""我的学时 (a year's hours against its rule), certificate PDFs, the public verification page
and the public query (rules R8.4, R10)."""

import secrets

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit

from cpe.accounts.signals import client_ip
from cpe.catalog.models import TrainingYear
from cpe.core.audit import audit_record
from cpe.core.captcha import captcha_ok, captcha_question
from cpe.core.rows import FixedQuery
from cpe.core.timewin import local_date

from . import hooks, policy, selectors
from .certificates import certificate_pdf
from .forms import PublicQueryForm
from .models import Certificate

CAPTCHA_SESSION_KEY = "credits_captcha"


@login_required
def my_credits(request):
    return redirect("credits:year", local_date(timezone.now()).year)


_year_row = FixedQuery(  # compiled once per process (cpe.core.rows)
    lambda year: TrainingYear.objects.filter(year=year).order_by("pk")[:1], year="smallint"
)


@login_required
def year_page(request, year):
    """我的学时 for one training year: a constant number of queries however many records."""
    if request.user.is_staff:
        return redirect("admin:index")
    ty = next(iter(_year_row(year=year)), None)
    if ty is None:
        raise Http404("该培训年度不存在。")
    summaries = selectors.year_summaries(request.user, years=[ty])
    summary = next(s for s in summaries if s.year.pk == ty.pk)
    return render(
        request,
        "credits/year.html",
        {
            "summary": summary,
            "s": summary.status,
            "ty": ty,
            # reporting.selectors.report_states_for_user (registered by ReportingConfig.ready).
            "report_states": hooks.report_states(request.user),
            "other_years": [s.year.year for s in summaries if s.year.pk != ty.pk],
        },
    )


@login_required
def certificate_download(request, number):
    """The holder's own certificate as a PDF; anyone else gets 404 (the number is public
    through the QR code, the PDF with the masked ID number is not)."""
    cert = (
        Certificate.objects.select_related("year", "record", "user")
        .filter(number=number, user=request.user)
        .first()
    )
    if cert is None:
        raise Http404("证书不存在。")
    pdf = certificate_pdf(cert, id_masked=request.user.id_number_masked)
    resp = HttpResponse(pdf, content_type="application/pdf")
    label = "学时证明" if cert.kind == "year" else "合格证明"
    from urllib.parse import quote

    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(f'{label}_{cert.number}.pdf')}"
    return resp


def _certificate_key(group, request):
    return "cert:" + policy.normalise_number(request.resolver_match.kwargs.get("number", ""))[:40]


@ratelimit(key="ip", rate=policy.VERIFY_RATE, block=True)
@ratelimit(key="ip", rate=policy.NAME_CHECK_RATE_PER_IP, method="POST", block=True)
@ratelimit(key=_certificate_key, rate=policy.NAME_CHECK_RATE_PER_CERTIFICATE, method="POST", block=True)
@never_cache
def verify(request, number):
    """Public: enough to expose an edited PDF (rules R10; decision 0013): masked name and the ID
    number's last four, course or year, hours, issue date, status valid/revoked, what was reported
    to the AIS. POST 核对姓名: the checker types the full name on the paper; the server answers 一致 / 不一致
    (credits.policy.name_check_answer), the same page shape and status for an unknown number."""
    cert = selectors.certificate_by_number(number)
    at = timezone.now()
    name_check = None
    if request.method == "POST":
        name_check = policy.name_check_answer(
            certificate_found=cert is not None,
            holder_closed=bool(cert and cert.holder_closed),
            holder_name=cert.holder_name if cert else "",
            typed=request.POST.get("name", ""),
        )
        audit_record(
            "credits.name_check",
            subject=None,
            ip=client_ip(request),
            at=at,
            data={"found": cert is not None, "result": name_check},
        )
        # One answer for every miss: the page of an unknown number is not shown to a POST.
        return render(
            request, "credits/verify_name_check.html", {"number": number, "result": name_check}, status=200
        )
    statement = id_tail = None
    if cert is not None:
        from .certificates import certificate_statement

        statement = certificate_statement(cert, at=at)
        if not cert.holder_closed:
            id_tail = policy.id_last_four(cert.user.id_number or "")
    return render(
        request,
        "credits/verify.html",
        {"cert": cert, "number": number, "checked_at": at, "statement": statement, "id_tail": id_tail},
        status=200 if cert else 404,
    )


def _new_captcha(request):
    rng = secrets.SystemRandom()
    question, answer = captcha_question(rng.randint(2, 19), rng.randint(1, 9), rng.choice("+-"))
    request.session[CAPTCHA_SESSION_KEY] = answer
    return question


@ratelimit(key="ip", rate=policy.PUBLIC_QUERY_RATE_BURST, method="POST", block=True)
@ratelimit(key="ip", rate=policy.PUBLIC_QUERY_RATE, method="POST", block=True)
@never_cache
def public_query(request):
    """公开查询: ID number AND name, with a captcha. A mismatch and an unknown person get the
    same answer; locked and terminated accounts are never found (credits.policy)."""
    form = PublicQueryForm(request.POST or None)
    result, searched, status = None, False, 200
    if request.method == "POST":
        expected = request.session.pop(CAPTCHA_SESSION_KEY, None)  # one use per captcha
        if form.is_valid():
            if not captcha_ok(expected, form.cleaned_data["captcha"]):
                form.add_error("captcha", "验证码不正确，请重新计算。")
                status = 400
            else:
                searched = True
                result = selectors.public_query(
                    id_number=form.cleaned_data["id_number"], name=form.cleaned_data["name"]
                )
                audit_record(
                    "credits.public_query",
                    subject=None,
                    ip=client_ip(request),
                    data={"found": result is not None},
                )
        else:
            status = 400
        form.data = form.data.copy()
        form.data["captcha"] = ""  # a new captcha is shown: its answer starts empty
    return render(
        request,
        "credits/query.html",
        {"form": form, "result": result, "searched": searched, "captcha_question": _new_captcha(request)},
        status=status,
    )
