"""The one learner-facing page of moderation: a banned or terminated person's copy of their
personal data (PIPL Art. 45), reachable without signing in (policy.SANCTIONED_COPY_PATH is open
to banned visitors)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit

from cpe.accounts.signals import client_ip
from cpe.core.errors import ApplicationError

from . import policy, services
from .forms import SanctionedCopyForm


@never_cache
@ratelimit(key="ip", rate=policy.SANCTIONED_COPY_RATE_PER_IP, method="POST", block=True)
def sanctioned_personal_data(request):
    form = SanctionedCopyForm(request.POST or None)
    sent = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if request.POST.get("action") == "send":
                sent = services.sanctioned_copy_code_send(identifier=d["identifier"])
            elif not d["sms_code"]:
                form.add_error("sms_code", "请填写短信验证码。")
            else:
                export = services.sanctioned_copy_export(
                    identifier=d["identifier"], code=d["sms_code"], ip=client_ip(request)
                )
                response = HttpResponse(export.content, content_type="application/zip")
                utf8 = content_disposition_header(True, export.filename)
                response["Content-Disposition"] = (
                    f'attachment; filename="{export.ascii_filename}"; ' + utf8.split("; ", 1)[1]
                )
                response["X-Content-Type-Options"] = "nosniff"
                return response
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(
        request,
        "moderation/personal_data.html",
        {"form": form, "sent": sent},
        status=400 if request.method == "POST" and form.errors else 200,
    )
