"""The staff site cannot be used as an oracle on secrets (attack review, defect 1).

Every registered admin derives from SafeModelAdmin and names no secret column; a staff account
of any role probing hidden columns through list URLs (``?password__startswith=``,
``?session_key__gte=``, ``?web_session__gte=``, ``?o=``, ``?q=``) gets the same answer whether
its guess matches or not, and never a row it could not already find."""

import re
from urllib.parse import urlencode

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpe.backoffice.roles import ROLES
from cpe.core.admin_base import SafeModelAdmin
from cpe.core.fields import BlindIndexField, EncryptedTextField

SECRET_WORDS = {"password", "key", "token", "hash", "bidx", "secret", "sealed", "nonce", "digest"}
SECRET_NAMES = re.compile(r"^(web_session|session_key)")

# Named like a secret, but not one (each with its reason).
NOT_SECRETS = {
    ("core.auditevent", "hash"): "the audit chain's link, computed from the event itself; auditors verify it",
    ("core.auditevent", "prev_hash"): "the previous event's link, as above",
    ("agreements.agreementversion", "text_hash"): "the digest of a published agreement text",
    ("agreements.agreementacceptance", "text_hash"): "the digest of the text the learner accepted",
    ("accounts.archivedaccount", "key_id"): "names which archive key sealed it, not the key",
    ("core.auditevent", "key_id"): "names which audit key made the link, not the key",
    ("reporting.aisreport", "idempotency_key"): "derived from the credit record's public uid",
    ("reporting.aisexchange", "idempotency_key"): "the same value, per exchange",
}


def _field(model, name):
    """The model field a list/search/filter entry reaches (its last hop), or None."""
    name = name.lstrip("^=@")
    opts = model._meta
    field = None
    for part in name.split("__"):
        try:
            field = opts.get_field(part)
        except Exception:
            return field if field is not None and not field.is_relation else None
        if field.is_relation and field.related_model is not None:
            opts = field.related_model._meta
    return field


def _is_secret(model, name) -> bool:
    label = model._meta.label_lower
    field = _field(model, name)
    if field is not None and isinstance(field, (BlindIndexField, EncryptedTextField)):
        return True  # a blind index, or an encrypted value shown in clear (admins show masks)
    last = name.lstrip("^=@").split("__")[-1]
    owner = (field.model._meta.label_lower, field.name) if field is not None else None
    if owner in NOT_SECRETS or (label, last) in NOT_SECRETS:
        return False
    return bool(SECRET_WORDS & set(last.split("_")) or SECRET_NAMES.match(last))


def _names(model_admin, request):
    """Every column name an admin shows, filters, searches or orders by."""
    names = []
    for item in model_admin.get_list_display(request):
        if isinstance(item, str):
            names.append(item)
            attr = getattr(model_admin, item, None) or getattr(model_admin.model, item, None)
            order = getattr(attr, "admin_order_field", None)
            if isinstance(order, str):
                names.append(order.lstrip("-"))
    for item in model_admin.get_list_filter(request):
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, (list, tuple)):
            names.append(item[0])
    names += list(model_admin.get_search_fields(request))
    names += [n for n in model_admin.get_readonly_fields(request) if isinstance(n, str)]
    names += [n for n in model_admin.get_fields(request) if isinstance(n, str)]
    names += [o.lstrip("-") for o in (model_admin.get_ordering(request) or []) if isinstance(o, str)]
    if model_admin.date_hierarchy:
        names.append(model_admin.date_hierarchy)
    return names


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "Root-pass-2026-long")


def test_every_registered_admin_uses_the_base_class():
    offenders = [m._meta.label for m, a in site._registry.items() if not isinstance(a, SafeModelAdmin)]
    assert offenders == []


def test_no_admin_names_a_password_key_token_hash_or_blind_index(rf, superuser):
    request = rf.get("/admin/")
    request.user = superuser
    offenders = []
    for model, model_admin in site._registry.items():
        for name in _names(model_admin, request):
            if _is_secret(model, name):
                offenders.append(f"{model._meta.label}: {name}")
        for inline in model_admin.get_inline_instances(request):
            for name in [*inline.get_fields(request), *inline.get_readonly_fields(request)]:
                if isinstance(name, str) and _is_secret(inline.model, name):
                    offenders.append(f"{inline.model._meta.label} (inline): {name}")
    assert offenders == []


def test_the_secret_detector_catches_the_known_secret_columns():
    from cpe.accounts.models import User, VerificationCode
    from cpe.invoicing.models import Invoice
    from cpe.learning.models import PlaySession

    assert all(
        _is_secret(User, n)
        for n in (
            "password",
            "session_key",
            "session_key_hash",
            "id_number_bidx",
            "id_number",
            "mobile",
            "email",
        )
    )
    assert _is_secret(VerificationCode, "code_hash") and _is_secret(Invoice, "verify_token")
    assert all(_is_secret(PlaySession, n) for n in ("key", "check_token", "web_session", "web_session_hash"))
    assert _is_secret(PlaySession, "user__password") and _is_secret(PlaySession, "user__session_key_hash")
    assert not _is_secret(User, "name") and not _is_secret(PlaySession, "started_at")


# --- the attack ------------------------------------------------------------------------------
def _staff(role_key, n):
    from cpe.accounts.models import User
    from cpe.backoffice.services import roles_sync

    roles_sync()
    user = User.objects.create_user(f"staff{n}", "Staff-pass-2026-long", name=f"职员{n}", is_staff=True)
    user.groups.add(Group.objects.get(name=ROLES[role_key][0]))
    return user


def _answer(client, url, params):
    """What an attacker can observe: status, where it redirects, and which rows are listed."""
    r = client.get(url + "?" + urlencode(params))
    rows = None
    if r.status_code == 200 and r.context is not None and "cl" in r.context:
        rows = sorted(obj.pk for obj in r.context["cl"].result_list)
    return r.status_code, r.get("Location"), rows


def _column(model, *names):
    """The first of these columns the model has (the secret columns are being renamed to
    *_hash), so the probe targets whatever the table holds."""
    fields = {f.name for f in model._meta.concrete_fields}
    return next(n for n in names if n in fields)


def _play_session(user, enrolment, chapter, web_value):
    from cpe.learning.models import PlaySession

    now = timezone.now()
    column = _column(PlaySession, "web_session_hash", "web_session")
    return PlaySession.objects.create(
        key="k" * 32,
        user=user,
        enrolment=enrolment,
        chapter=chapter,
        started_at=now,
        last_at=now,
        check_token="t" * 32,
        **{column: web_value},
    )


def _pairs(value):
    """(lookup, a guess that matches the secret, one that does not): a prefix probe and a
    range probe, the two ways a secret is read out character by character."""
    return [
        ("startswith", value[:24], value[:23] + ("~" if value[23] != "~" else "!")),
        ("gte", value, "~" * 8),
    ]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_staff_of_any_role_cannot_read_secrets_through_list_filters(role, superuser, paid_order):
    from cpe.accounts.models import User
    from cpe.catalog.models import Chapter, Course

    # The superuser is signed in somewhere: the table holds their current session.
    su_client = Client()
    su_client.force_login(superuser)
    raw_session = su_client.session.session_key
    user_column = _column(User, "session_key_hash", "session_key")
    stored_session = User.objects.values_list(user_column, flat=True).get(pk=superuser.pk)
    assert stored_session
    chapter = Chapter.objects.create(
        course=Course.objects.get(code="C1"), position=1, title="收入准则", duration_seconds=120
    )
    play = _play_session(paid_order.user, paid_order.enrolment, chapter, "w" * 16 + raw_session[:16])
    web_value = getattr(play, _column(type(play), "web_session_hash", "web_session"))

    attacker = Client()
    attacker.force_login(_staff(role, 1))
    user_list = reverse("admin:accounts_user_changelist")
    play_list = reverse("admin:learning_playsession_changelist")
    probes = [
        (user_list, "password", superuser.password),
        (user_list, "session_key", stored_session),
        (user_list, "session_key_hash", stored_session),
        (user_list, "id_number_bidx", "0" * 64),
        (play_list, "web_session", web_value),
        (play_list, "web_session_hash", web_value),
        (play_list, "key", play.key),
        (play_list, "check_token", play.check_token),
        (play_list, "user__password", paid_order.user.password),
    ]
    leaks = []
    for url, column, value in probes:
        for lookup, hit, miss in _pairs(value):
            key = f"{column}__{lookup}"
            got_hit, got_miss = _answer(attacker, url, {key: hit}), _answer(attacker, url, {key: miss})
            if got_hit != got_miss:
                leaks.append(f"{url}?{key}: {got_hit} vs {got_miss}")
            elif got_hit[0] == 200:
                leaks.append(f"{url}?{key} was accepted: {got_hit}")
    assert leaks == []
    # And the filters the lists declare still work for a role that may see them.
    if attacker.get(user_list).status_code == 200:
        status, _, rows = _answer(attacker, user_list, {"is_staff__exact": "1"})
        assert status == 200 and superuser.pk in rows and paid_order.user.pk not in rows


def test_ordering_and_search_cannot_reach_hidden_columns(client, superuser):
    client.force_login(superuser)
    url = reverse("admin:accounts_user_changelist")
    # ?o= takes list_display column numbers only; anything else is ignored.
    base = _answer(client, url, {})
    assert base[0] == 200
    for o in ("password", "-password", "session_key_hash", "99", "1.password"):
        assert _answer(client, url, {"o": o})[0] == 200
    # ?q= searches name and username only: the password hash's text finds nobody.
    assert _answer(client, url, {"q": client.session.session_key})[2] == []
    from cpe.accounts.models import User

    assert _answer(client, url, {"q": User.objects.get(pk=superuser.pk).password[:30]})[2] == []
    # A filter smuggled through the preserved-filters parameter or the error flag is refused too.
    assert _answer(client, url, {"_changelist_filters": "password__startswith=argon2"})[0] == 400
    assert _answer(client, url, {"e": "1", "password__startswith": "argon2"})[0] == 400


def test_declared_filters_date_hierarchy_and_own_links_still_work(client, superuser):
    client.force_login(superuser)
    events = reverse("admin:learning_suspiciousevent_changelist")
    assert _answer(client, events, {"user__id__exact": superuser.pk})[0] == 200  # the 学员 link
    assert _answer(client, events, {"kind__exact": "x"})[0] == 200
    assert _answer(client, events, {"at__year": "2026", "at__month": "1"})[0] == 200
    assert _answer(client, events, {"user__name__startswith": "x"})[0] == 400
    reports = reverse("admin:reporting_aisreport_changelist")
    assert _answer(client, reports, {"record__year__id__exact": "1"})[0] == 200
    assert _answer(client, reports, {"record__year__year__gte": "1"})[0] == 400
