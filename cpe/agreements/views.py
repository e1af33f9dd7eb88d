from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from cpe.accounts.signals import client_ip
from cpe.core.errors import ApplicationError

from . import selectors, services
from .models import AgreementVersion


def current(request):
    now = timezone.now()
    version = selectors.version_current(now)
    history = AgreementVersion.objects.filter(effective_at__lte=now)
    return render(request, "agreements/text.html", {"version": version, "history": history})


def detail(request, version):
    v = get_object_or_404(AgreementVersion, version=version, effective_at__lte=timezone.now())
    history = AgreementVersion.objects.filter(effective_at__lte=timezone.now())
    return render(request, "agreements/text.html", {"version": v, "history": history})


@login_required
def accept(request):
    """The gate: accept the version in force, or decline and end the service (rules R2.3)."""
    now = timezone.now()
    version = selectors.version_to_accept(now)
    required = selectors.required_major_id(now)
    if version is None or request.user.is_staff or selectors.user_has_accepted(request.user, required):
        return redirect("accounts:dashboard")
    error = None
    if request.method == "POST":
        meta = {
            "user": request.user,
            "version": version,
            "ip": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", ""),
        }
        try:
            if request.POST.get("decision") == "accept":
                services.agreement_accept(**meta)
                request.session["agreement_ok"] = required
                nxt = request.GET.get("next", "")
                return redirect(
                    nxt if nxt.startswith("/") and not nxt.startswith("//") else "accounts:dashboard"
                )
            if request.POST.get("decision") == "decline":
                if not request.POST.get("confirm_decline"):
                    error = "如确定不接受新协议，请勾选确认框。"
                else:
                    services.agreement_decline(**meta)
                    logout(request)
                    return redirect("agreements:closed")
        except ApplicationError as exc:
            error = exc.message
    previous = (
        AgreementVersion.objects.filter(agreementacceptance__user=request.user)
        .order_by("-effective_at")
        .first()
    )
    return render(
        request,
        "agreements/accept.html",
        {"version": version, "previous": previous, "error": error},
        status=400 if error else 200,
    )


def closed(request):
    return render(request, "agreements/closed.html")
