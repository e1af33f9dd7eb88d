from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django_ratelimit.decorators import ratelimit

from cpe.core.decorators import learner_required

from . import policy, selectors, services
from .errors import SupportError
from .forms import AskForm, FollowUpForm
from .states import ThreadStatus


def faq(request):
    """常见问题: published entries by category, with a search box (public)."""
    query = request.GET.get("q", "").strip()[: policy.FAQ_QUERY_MAX_CHARS]
    groups = selectors.faq_search(query, selectors.faq_facts(request))
    return render(request, "support/faq.html", {"groups": groups, "q": query})


def _apply_error(form, exc: SupportError):
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@learner_required
@ratelimit(key="user", group="support.post", rate=policy.POST_RATE, method="POST", block=True)
def ask(request):
    """在线提问: a signed-in learner asks; the question waits for staff."""
    form = AskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            thread = services.thread_ask(
                user=request.user, title=d["title"], body=d["body"], category=d["category"]
            )
        except SupportError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, "问题已提交，客服回复后会通过短信通知您。")
            return redirect("support:thread", thread.pk)
    return render(
        request,
        "support/ask.html",
        {"form": form, "MAX_WAITING": policy.MAX_WAITING_THREADS},
        status=400 if form.errors else 200,
    )


@learner_required
def mine(request):
    """我的提问."""
    return render(request, "support/mine.html", {"threads": selectors.threads_of(request.user)})


@learner_required
@ratelimit(key="user", group="support.post", rate=policy.POST_RATE, method="POST", block=True)
def thread(request, pk: int):
    """One thread, the whole conversation; a follow-up while it is not closed."""
    t = selectors.thread_of(request.user, pk)
    if t is None:
        raise Http404
    form = FollowUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.thread_follow_up(user=request.user, thread_id=t.pk, body=form.cleaned_data["body"])
        except SupportError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, "补充内容已提交。")
            return redirect(reverse("support:thread", args=[t.pk]) + "#latest")
    return render(
        request,
        "support/thread.html",
        {"thread": t, "form": form, "closed": t.status == ThreadStatus.CLOSED},
        status=400 if form.errors else 200,
    )
