import pytest

MIDDLEWARE_PATH = "cpe.moderation.middleware.BanMiddleware"


@pytest.fixture(autouse=True)
def _no_bans_known():
    """Every test starts knowing of no ban (none from a rolled-back test)."""
    from cpe.moderation.selectors import bans_known, forget_bans

    bans_known()
    yield
    forget_bans()


@pytest.fixture
def ban_middleware(settings):
    """BanMiddleware where it belongs: right after AuthenticationMiddleware."""
    mw = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    mw.insert(mw.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, MIDDLEWARE_PATH)
    settings.MIDDLEWARE = mw
    return mw


@pytest.fixture
def staff_with(db, django_user_model):
    """A staff member holding exactly the given permissions ("app.codename")."""
    from django.contrib.auth.models import Permission

    def _make(*perms, username="operator1"):
        user = django_user_model.objects.create_user(
            username=username, password="Staff-pass-2026", is_staff=True, name="运营"
        )
        for perm in perms:
            app, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
        return django_user_model.objects.get(pk=user.pk)

    return _make
