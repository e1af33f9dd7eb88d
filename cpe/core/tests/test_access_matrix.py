"""Access matrix: every URL pattern of the site (read from the URL resolver, admin and API
included) requested as every actor, against an explicit expectation table.

Actors: anonymous, learner A (on learner B's objects), each staff role of
`cpe.backoffice.roles.ROLES`, and a superuser. Learner B (the demo learner, with a full record)
owns every object that goes into a path. The rules:

- no actor gets a 2xx outside its part of the table;
- no 5xx anywhere;
- learner B's name, ID number, mobile and order numbers never appear in a response to anonymous
  or learner A, nor to staff on the learners' own pages (the admin shows them to its roles);
- a POST by another actor changes none of B's objects;
- a URL pattern missing from the table fails the test: a new URL must be classified.

How to classify a new URL: docs/security.md, "访问矩阵 / Access matrix"."""

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

pytestmark = pytest.mark.django_db

# --- Who may get a 2xx: one rule per URL pattern ------------------------------------------------
PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any signed-in account (the page shows the account's own data)
OWNER = "owner"  # the path names learner B's object: only B (no actor here) may read it
NOBODY = "nobody"  # redirects, catch-alls and endpoints that never answer 2xx to a GET/POST here
ANY_STAFF = "any_staff"  # any is_staff account (admin index, jsi18n...)


def perm(*codes):
    """Staff holding any of these permissions (and the superuser)."""
    return ("perm", frozenset(codes))


# Non-admin URL patterns, by route as the resolver spells it. The admin's model URLs are
# classified by rule below (from each ModelAdmin's model and the roles' permissions).
TABLE = {
    "": PUBLIC,
    # accounts
    "accounts/register/": PUBLIC,
    "accounts/register/code/": PUBLIC,
    "accounts/login/": PUBLIC,
    "accounts/logout/": PUBLIC,
    "accounts/password/reset/": PUBLIC,
    "accounts/restore/": PUBLIC,
    "accounts/closed/": PUBLIC,
    "accounts/email/confirm/<int:code_id>/<str:token>/": NOBODY,  # a made-up code: never confirms
    "accounts/dashboard/": SIGNED_IN,
    "accounts/profile/": SIGNED_IN,
    "accounts/profile/edit/": SIGNED_IN,
    "accounts/profile/mobile/": SIGNED_IN,
    "accounts/profile/email/": SIGNED_IN,
    "accounts/profile/identity/": SIGNED_IN,
    "accounts/profile/personal-data/": SIGNED_IN,
    "accounts/profile/close/": SIGNED_IN,
    "accounts/profile/password/": SIGNED_IN,
    # the staff second factor: a verified staff session is sent on, everyone else away (never a 2xx)
    "accounts/2fa/": NOBODY,
    "accounts/2fa/setup/": NOBODY,
    "accounts/2fa/recovery-codes/": ANY_STAFF,
    # agreements
    "agreement/": PUBLIC,
    "agreement/closed/": PUBLIC,
    "agreement/v/<str:version>/": PUBLIC,
    "agreement/accept/": SIGNED_IN,
    # admin site views (model URLs: see admin_rule)
    "admin/": ANY_STAFF,
    "admin/login/": PUBLIC,
    "admin/logout/": SIGNED_IN,
    "admin/password_change/": ANY_STAFF,
    "admin/password_change/done/": ANY_STAFF,
    "admin/autocomplete/": NOBODY,  # no autocomplete field is configured: 403 for everyone
    "admin/jsi18n/": ANY_STAFF,
    "admin/r/<path:content_type_id>/<path:object_id>/": NOBODY,  # redirects to the object's page
    "admin/^(?P<app_label>auth|core|accounts|agreements|notices|catalog|learning|orders|invoicing|exams"
    "|credits|reporting|support|moderation)/$": ANY_STAFF,
    "admin/(?P<url>.*)$": NOBODY,
    # admin custom views
    "admin/accounts/user/<int:pk>/reveal/": perm("accounts.view_user"),
    # the current and requested name and ID number in full: the identity-change reviewers
    "admin/accounts/identitychangerequest/<int:pk>/reveal/": perm("accounts.review_identity"),
    "admin/accounts/identitychangerequest/<int:pk>/document/": perm(
        "accounts.review_identity"
    ),  # its ID photo
    "admin/invoicing/invoice/<int:pk>/pdf/": perm("invoicing.view_invoice"),
    "admin/exams/question/import/": perm("exams.add_question"),
    "admin/exams/question/import/template/": perm("exams.add_question"),
    # API (django-ninja); the docs are public in the test settings (API_DOCS_PUBLIC)
    "api/openapi.json": PUBLIC,
    "api/docs": PUBLIC,
    "api/": NOBODY,
    "api/learning/sessions": NOBODY,  # starting needs a chapter the actor bought: A posts none
    "api/learning/sessions/<key>/heartbeat": OWNER,
    "api/learning/sessions/<key>/attention": OWNER,
    "api/learning/sessions/<key>/end": OWNER,
    # catalog, orders
    "courses/": PUBLIC,
    "orders/": SIGNED_IN,
    "orders/buy/<str:code>/": SIGNED_IN,
    "orders/<str:number>/pay/": OWNER,
    "orders/<str:number>/qr/": OWNER,
    "orders/<str:number>/status/": OWNER,
    "orders/<str:number>/result/": OWNER,
    "orders/<str:number>/cancel/": OWNER,
    "orders/<str:number>/refund/": OWNER,
    "orders/notify/<str:gateway>/": PUBLIC,  # the gateways' webhook: answers 200 "fail" to a bad signature
    # learning
    "learn/course/<int:course_id>/": SIGNED_IN,  # public course page; shows the actor's own progress
    "learn/chapter/<int:chapter_id>/": NOBODY,  # needs a paid order of the actor's own
    "learn/play/<str:key>/index.m3u8": OWNER,
    "learn/key/<str:token>/": NOBODY,
    "learn/seg/<str:token>/": NOBODY,  # signed per session: made-up token
    # exams
    "exams/course/<int:course_id>/": SIGNED_IN,
    "exams/course/<int:course_id>/start/": SIGNED_IN,
    "exams/attempt/<int:attempt_id>/": OWNER,
    "exams/attempt/<int:attempt_id>/save/": OWNER,
    "exams/attempt/<int:attempt_id>/submit/": OWNER,
    "exams/attempt/<int:attempt_id>/result/": OWNER,
    "exams/practice/chapter/<int:chapter_id>/": SIGNED_IN,
    "exams/practice/course/<int:course_id>/": SIGNED_IN,
    "exams/practice/check/<int:question_id>/": SIGNED_IN,
    # credits
    "credits/": SIGNED_IN,
    "credits/year/<int:year>/": SIGNED_IN,
    "credits/certificate/<str:number>/pdf/": OWNER,
    "credits/verify/<str:number>/": PUBLIC,  # public verification page: masked name only
    "credits/query/": PUBLIC,
    # reporting
    "reporting/recheck/": SIGNED_IN,
    "reporting/staff/reconcile/": perm("reporting.reconcile_aisreport"),
    "reporting/staff/exports/": perm("reporting.view_exportjob"),  # the list of jobs
    "reporting/staff/exports/table/": perm("reporting.view_exportjob"),
    # the file itself (full ID numbers and mobiles): only who may export
    "reporting/staff/exports/<int:pk>/download/": perm("reporting.export_results"),
    # invoicing
    "invoices/": SIGNED_IN,
    "invoices/request/<str:order_number>/": OWNER,
    "invoices/<str:number>/pdf/": OWNER,
    "invoices/verify/<str:token>/": PUBLIC,  # public verification page: masked buyer only
    # payment sandbox (PAYMENT_SANDBOX, on in tests): the fake gateways answer anyone
    "sandbox/": PUBLIC,
    "sandbox/pay/<str:token>/": NOBODY,
    "sandbox/alipay/gateway.do": PUBLIC,
    "sandbox/aliyun/sms/": PUBLIC,
    "sandbox/wechat/v3/pay/transactions/native": PUBLIC,
    "sandbox/wechat/v3/pay/transactions/h5": PUBLIC,
    "sandbox/wechat/v3/pay/transactions/out-trade-no/<str:out_trade_no>": PUBLIC,
    "sandbox/wechat/v3/refund/domestic/refunds": PUBLIC,
    # support, notices, moderation, dev
    "support/": PUBLIC,
    "support/ask/": SIGNED_IN,
    "support/mine/": SIGNED_IN,
    "support/t/<int:pk>/": OWNER,
    "notices/": PUBLIC,
    "notices/<int:pk>/": PUBLIC,
    "restricted/personal-data/": PUBLIC,  # a sanctioned person's copy: open, guarded by an SMS code
    "dev/outbox/": NOBODY,  # DEBUG only
}

# URLs that end the actor's session: signed in again after each request.
SESSION_ENDING = {"accounts/logout/", "admin/logout/", "accounts/profile/close/"}
# Admin model URLs are POSTed (empty body) only by actors outside their part: there the answer must be
# a refusal, never a save (a 3xx to a signed-in staff account). Inside their part an empty POST could
# save an object whose fields are all read-only, so it is left to each app's own admin tests.


def walk(resolver, prefix=""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from walk(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def admin_model_routes():
    """{route: (model, op)} for every registered ModelAdmin's standard URLs."""
    routes = {}
    for model in admin.site._registry:
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        routes[base] = (model, "changelist")
        routes[base + "add/"] = (model, "add")
        routes[base + "<path:object_id>/history/"] = (model, "history")
        routes[base + "<path:object_id>/delete/"] = (model, "delete")
        routes[base + "<path:object_id>/change/"] = (model, "change")
        routes[base + "<path:object_id>/"] = (model, "redirect")
    return routes


def admin_rule(model, op):
    label = f"{model._meta.app_label}.%s_{model._meta.model_name}"
    if op == "redirect":
        return NOBODY
    if op in ("changelist", "change", "history"):
        return perm(label % "view", label % "change")
    return perm(label % op)


# --- Fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def world(settings, tmp_path, register_learner):
    """Learner B (the demo learner, last year's full record, this year's paid order with an invoice,
    a support thread), learner A (her own order), one account per staff role, a superuser."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.INVOICE_PROVIDER = "cpe.invoicing.providers.local.LocalInvoiceProvider"
    settings.INVOICE_LOCAL_FAIL = ""
    from cpe.accounts.models import User
    from cpe.backoffice.demo import annual_code, demo_seed, demo_years, single_code
    from cpe.backoffice.roles import ROLES
    from cpe.credits.models import Certificate
    from cpe.exams.models import Attempt
    from cpe.invoicing.services import invoice_request
    from cpe.learning.models import PlaySession
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.models import Order
    from cpe.orders.services import order_create, payment_confirm
    from cpe.reporting.services import export_job_create
    from cpe.support.services import thread_ask

    now = timezone.now()
    demo_seed(history=True, at=now)
    b = User.objects.get(username="demo-learner")
    last, this = demo_years(now)
    at = now
    pending = order_create(user=b, product_code=single_code(this), ais_confirmed=True, at=at)  # stays unpaid
    order = order_create(user=b, product_code=annual_code(this), ais_confirmed=True, at=at)
    payment_confirm(
        gateway_name="alipay",
        at=at,
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="MX" + order.number,
            amount_fen=order.amount_fen,
            paid_at=at,
        ),
    )
    invoice = invoice_request(user=b, order_number=order.number, buyer_type="personal", at=now)
    thread = thread_ask(user=b, title="发票抬头问题", body="请问能否修改发票抬头？", at=now)
    pending.refresh_from_db()
    assert pending.status == "pending", pending.status
    a = register_learner(name="钱多多", email="qian@example.com")
    a_order = order_create(user=a, product_code=annual_code(this), ais_confirmed=True, at=now)
    _admin_objects(b, order, now, register_learner)
    staff = {key: User.objects.get(username=key) for key in ROLES}  # demo_seed made one per role
    for key, user in staff.items():
        assert user.groups.filter(name=ROLES[key][0]).exists()
    superuser = User.objects.get(username="admin")
    attempt = Attempt.objects.filter(user=b).order_by("pk").first()
    session = PlaySession.objects.filter(user=b).order_by("pk").first()
    cert = Certificate.objects.filter(user=b).order_by("pk").first()
    job = export_job_create(year=last, actor=superuser, at=now)
    course = attempt.course
    b_orders = list(Order.objects.filter(user=b).values_list("number", flat=True))
    assert len(b_orders) == 3  # last year's (demo), this year's paid one, the unpaid one
    return {
        "A": a,
        "B": b,
        "a_order": a_order,
        "order": order,
        "pending": pending,
        "invoice": invoice,
        "thread": thread,
        "attempt": attempt,
        "session": session,
        "cert": cert,
        "job": job,
        "course": course,
        "staff": staff,
        "superuser": superuser,
        "last": last,
        "this": this,
        "b_orders": b_orders,
    }


def _admin_objects(b, order, now, register_learner):
    """One row of each admin model the flows above leave empty, so that its change, history and
    delete pages are requested on a real object (B's where the model belongs to a learner)."""
    from cpe.accounts.models import IdentityChangeRequest, LoginRecord
    from cpe.catalog.models import Chapter
    from cpe.learning.models import ChapterVideo, PlaySession, SuspiciousEvent
    from cpe.moderation.models import Ban
    from cpe.notices.models import Announcement
    from cpe.orders.models import PaymentNotification, Refund
    from cpe.reporting.models import AisExchange, AisPerson

    IdentityChangeRequest.objects.create(
        user=b, field="name", new_value="张明明", reason="改名", created_at=now
    )
    LoginRecord.objects.create(user=b, at=now, device_key="matrix-device")
    Announcement.objects.create(title="矩阵测试公告", body="公告正文。")
    session = PlaySession.objects.filter(user=b).order_by("pk").first()
    SuspiciousEvent.objects.create(user=b, session=session, chapter=session.chapter, kind="skip", at=now)
    ChapterVideo.objects.create(
        chapter=Chapter.objects.filter(video__isnull=True).order_by("pk").first(), source="matrix/source.mp4"
    )
    PaymentNotification.objects.create(gateway="alipay", received_at=now, body="{}", outcome="matrix")
    Refund.objects.create(
        order=order, refund_no="RF" + order.number, amount_fen=1, reason="矩阵测试", requested_at=now
    )
    AisExchange.objects.create(at=now, method="GET", path="/matrix")
    AisPerson.objects.create(user=b)
    c = register_learner(name="孙某某", email="sun@example.com")  # a lifted ban on a third learner
    Ban.objects.create(kind="account", user=c, reason="矩阵测试", lifted_at=now)
    # accounts.ArchivedAccount stays empty: archiving a learner is not a row to fake here.


def path_values(w):
    """A value for every path parameter: B's objects wherever the parameter names one."""
    from django.contrib.contenttypes.models import ContentType

    from cpe.backoffice.demo import annual_code
    from cpe.exams.models import Question

    chapter = w["course"].chapters.order_by("position").first()
    return {
        "code_id": "1",
        "token": "not-a-real-token",
        "version": "1.0",
        "content_type_id": str(ContentType.objects.get_for_model(type(w["B"])).pk),
        "pk": str(w["B"].pk),
        "app_label": "accounts",
        "url": "no/such/page/",
        "object_id": str(w["B"].pk),
        "key": w["session"].key,
        "code": annual_code(w["this"]),
        "number": w["order"].number,
        "gateway": "alipay",
        "course_id": str(w["course"].pk),
        "chapter_id": str(chapter.pk),
        "attempt_id": str(w["attempt"].pk),
        "question_id": str(Question.objects.order_by("pk").first().pk),
        "year": str(w["last"]),
        "order_number": w["order"].number,
        "out_trade_no": w["order"].number,
    }


def fill(route, values, w, overrides):
    """The concrete path of a route: the parameters filled, the regex routes written out."""
    import re

    if route in overrides:
        return "/" + overrides[route]
    if route.startswith("admin/^"):
        return "/admin/accounts/"
    if route == "admin/(?P<url>.*)$":
        return "/admin/no/such/page/"
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def admin_object_id(model, w):
    """An object of the model (B's where the model belongs to a learner), or 0 when none exists."""
    fields = {f.name for f in model._meta.get_fields()}
    qs = model._default_manager.all()
    if model is type(w["B"]):
        return w["B"].pk
    if "user" in fields:
        mine = qs.filter(user=w["B"]).order_by("pk").first()
        if mine is not None:
            return mine.pk
    first = qs.order_by("pk").first()
    return first.pk if first is not None else 0


# --- The matrix ----------------------------------------------------------------------------------
def test_access_matrix(world, capsys):
    from django.test import Client

    from cpe.backoffice.roles import ROLES
    from cpe.orders.models import Order

    w = world
    values = path_values(w)
    admin_routes = admin_model_routes()
    overrides = {
        "credits/certificate/<str:number>/pdf/": f"credits/certificate/{w['cert'].number}/pdf/",
        "credits/verify/<str:number>/": f"credits/verify/{w['cert'].number}/",
        "invoices/<str:number>/pdf/": f"invoices/{w['invoice'].number}/pdf/",
        "invoices/verify/<str:token>/": f"invoices/verify/{w['invoice'].verify_token}/",
        "support/t/<int:pk>/": f"support/t/{w['thread'].pk}/",
        "reporting/staff/exports/<int:pk>/download/": f"reporting/staff/exports/{w['job'].pk}/download/",
        "admin/invoicing/invoice/<int:pk>/pdf/": f"admin/invoicing/invoice/{w['invoice'].pk}/pdf/",
        "admin/accounts/identitychangerequest/<int:pk>/reveal/": (
            f"admin/accounts/identitychangerequest/{w['B'].identity_changes.get().pk}/reveal/"
        ),
        "admin/accounts/identitychangerequest/<int:pk>/document/": (
            f"admin/accounts/identitychangerequest/{w['B'].identity_changes.get().pk}/document/"
        ),
        "notices/<int:pk>/": "notices/999999/",
        # B's unpaid order where paying or cancelling would act on it
        **{
            f"orders/<str:number>/{p}/": f"orders/{w['pending'].number}/{p}/"
            for p in ("pay", "qr", "status", "cancel")
        },
    }
    chapter = w["course"].chapters.order_by("position").first()
    # POST bodies that pass the endpoints' validation, so that what answers is the owner check.
    post_bodies = {
        "api/learning/sessions": {"chapter_id": chapter.pk},
        "api/learning/sessions/<key>/heartbeat": {"seq": 99, "start": 0, "position": 1},
        "api/learning/sessions/<key>/attention": {"token": "not-the-token"},
        "api/learning/sessions/<key>/end": {},
    }
    form_bodies = {
        "orders/<str:number>/pay/": {"channel": "alipay"},
        "orders/<str:number>/refund/": {"reason": "不想学了"},
        "exams/attempt/<int:attempt_id>/save/": {"position": "1", "chosen": "0"},
        "exams/attempt/<int:attempt_id>/submit/": {"q1": "0"},
        "invoices/request/<str:order_number>/": {"buyer_type": "personal"},
        "support/t/<int:pk>/": {"body": "我也想问这个问题。"},
    }
    for route, (model, _op) in admin_routes.items():
        if "<path:object_id>" in route:
            overrides[route] = route.replace("<path:object_id>", str(admin_object_id(model, w)))

    # Every pattern classified; a new one fails here until it is added to TABLE.
    patterns = [route for route, _ in walk(get_resolver())]
    unclassified = [r for r in patterns if r not in TABLE and r not in admin_routes]
    assert not unclassified, f"URL patterns missing from the access matrix's TABLE: {unclassified}"
    stale = [r for r in TABLE if r not in patterns]
    assert not stale, f"TABLE names routes the site no longer has: {stale}"

    perms = {key: set(p) for key, (_name, p) in ROLES.items()}
    actors = {
        "anonymous": None,
        "learner_A": w["A"],
        **{k: u for k, u in w["staff"].items()},
        "superuser": w["superuser"],
    }

    def allowed(actor, rule):
        user = actors[actor]
        if rule == PUBLIC:
            return True
        if rule == SIGNED_IN:
            return user is not None
        if rule in (OWNER, NOBODY):
            return False
        if rule == ANY_STAFF:
            return user is not None and user.is_staff
        _kind, codes = rule
        if actor == "superuser":
            return True
        return actor in perms and bool(perms[actor] & codes)

    b = w["B"]
    markers = [b.name, b.id_number, b.mobile, *w["b_orders"]]

    def state():
        from cpe.learning.models import ChapterProgress, PlaySession
        from cpe.support.models import Thread

        thread = Thread.objects.get(pk=w["thread"].pk)
        return {
            "orders": sorted(Order.objects.filter(user=b).values_list("number", "status")),
            "thread": (thread.status, thread.messages.count()),
            "attempt": type(w["attempt"]).objects.get(pk=w["attempt"].pk).status,
            "invoices": sorted(w["invoice"].order.invoices.values_list("number", "status")),
            "sessions": sorted(map(repr, PlaySession.objects.filter(user=b).values())),
            "progress": sorted(map(repr, ChapterProgress.objects.filter(user=b).values())),
        }

    before = state()

    failures, requests = [], 0
    for actor, user in actors.items():
        c = Client(enforce_csrf_checks=False)
        if user is not None:
            c.force_login(user)
        for route in patterns:
            is_admin_model = route in admin_routes
            rule = admin_rule(*admin_routes[route]) if is_admin_model else TABLE[route]
            url = fill(route, values, w, overrides)
            may = allowed(actor, rule)
            admin_post = not may and admin_routes.get(route, (None, ""))[1] in (
                "changelist",
                "add",
                "change",
                "delete",
            )
            for method in ("get", "post") if not is_admin_model or admin_post else ("get",):
                if method == "post" and route in post_bodies:
                    resp = c.post(url, post_bodies[route], content_type="application/json", secure=True)
                else:
                    resp = getattr(c, method)(
                        url, form_bodies.get(route, {}) if method == "post" else {}, secure=True
                    )
                requests += 1
                code = resp.status_code
                where = f"{actor} {method.upper()} {url} ({route}) -> {code}"
                if code >= 500:
                    failures.append(f"5xx: {where}")
                elif 200 <= code < 300 and not may:
                    failures.append(f"2xx outside the actor's part [{rule}]: {where}")
                elif (
                    is_admin_model and method == "post" and user is not None and user.is_staff and code < 400
                ):
                    failures.append(f"admin POST outside the actor's part not refused [{rule}]: {where}")
                checks_markers = (
                    user is None or not user.is_staff or not route.startswith(("admin/", "reporting/staff/"))
                )
                if checks_markers and not getattr(resp, "streaming", False):
                    body = resp.content.decode("utf-8", "replace")
                    shown = [m for m in markers if m and m in body]
                    if shown:
                        failures.append(f"B's data {shown} shown: {where}")
                if user is not None and route in SESSION_ENDING:
                    c.force_login(user)
            # A part that is never reached proves nothing: each role reads its own changelists.
            if is_admin_model and admin_routes[route][1] == "changelist" and may and user is not None:
                if code != 200:
                    failures.append(f"changelist in the actor's part not reached: {where}")

    after = state()
    if after != before:
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        failures.append(f"B's objects changed by other actors' requests: {changed}")

    with capsys.disabled():
        print(
            f"\naccess matrix: {len(patterns)} urls × {len(actors)} actors ({requests} requests), "
            f"{len(failures)} leaks"
        )
    assert not failures, "\n".join(failures)


def test_matrix_controls_learner_reads_own_and_admin_shows_b(world, client):
    """The matrix's refusals mean something: learner A reads her own order where B's answers 404,
    and B's data markers are found where they are meant to be shown (the superuser's admin)."""
    a_order = world["a_order"]
    client.force_login(world["A"])
    assert client.get(f"/orders/{a_order.number}/status/", secure=True).status_code == 200
    assert a_order.number in client.get("/orders/", secure=True).content.decode()
    assert client.get(f"/orders/{world['pending'].number}/status/", secure=True).status_code == 404
    client.force_login(world["superuser"])
    page = client.get(f"/admin/accounts/user/{world['B'].pk}/change/", secure=True)
    assert page.status_code == 200 and world["B"].name in page.content.decode()


def test_question_template_needs_the_import_right(world, client):
    """Leak found by the matrix: the question-bank template download answered any staff account
    (operator, finance, reviewer, auditor). It is part of the import: exams.add_question."""
    url = "/admin/exams/question/import/template/"
    for key in ("operator", "finance", "reviewer", "auditor"):
        client.force_login(world["staff"][key])
        assert client.get(url, secure=True).status_code == 403, key
    client.force_login(world["staff"]["content_editor"])
    assert client.get(url, secure=True).status_code == 200
