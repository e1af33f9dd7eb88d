from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from cpe.accounts.signals import client_ip

from . import policy, services
from .clients import get_client
from .errors import ReportingError
from .states import CheckResult


@require_POST
@login_required
@ratelimit(key="user", rate=policy.RECHECK_RATE, method="POST", block=True)
def recheck(request):
    """重新核验: look the learner up in the AIS now and say what was found."""
    if request.user.is_staff:
        return redirect("admin:index")
    try:
        person = services.ais_person_check(
            user_id=request.user.pk, actor=request.user, ip=client_ip(request),
            client=get_client(max_retries=policy.INTERACTIVE_MAX_RETRIES))
    except ReportingError as exc:
        messages.error(request, exc.message)
    else:
        result = CheckResult(person.last_result)
        level = messages.SUCCESS if result == CheckResult.FOUND else (
            messages.WARNING if result == CheckResult.NOT_FOUND else messages.ERROR)
        messages.add_message(request, level, policy.RECHECK_MESSAGES[result])
    return redirect("accounts:dashboard")
