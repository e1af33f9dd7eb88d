"""The JSON API (django-ninja, OpenAPI 3.1 at /api/docs and /api/openapi.json). Each app adds its
router here.

The interactive docs and the schema describe every endpoint and error: in production they are
served to signed-in staff only (``API_DOCS_PUBLIC`` off, the default); the local and test settings
turn the setting on so a developer (and the schema tests) read them without signing in."""

from functools import wraps

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from ninja import NinjaAPI

from cpe.learning.api import router as learning_router


def docs_guard(view):
    """Wraps the docs and schema views: public when API_DOCS_PUBLIC is on (read per request,
    so a test can switch it), otherwise staff only (anyone else is sent to the staff sign-in)."""
    staff_only = staff_member_required(view)

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if getattr(settings, "API_DOCS_PUBLIC", False):
            return view(request, *args, **kwargs)
        return staff_only(request, *args, **kwargs)

    return guarded


api = NinjaAPI(
    title="内蒙古会计人员继续教育平台 API", version="1", urls_namespace="api", docs_decorator=docs_guard
)
api.add_router("/learning/", learning_router)
