from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


def learner_required(view):
    """Learner pages: sign-in required; staff are sent to the staff site instead."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.is_staff:
            return redirect("admin:index")
        return view(request, *args, **kwargs)

    return wrapped
