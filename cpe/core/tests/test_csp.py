"""Content-Security-Policy: the header on every kind of page, the nonce on the inline scripts that
remain, and no inline script or event-handler attribute anywhere else in the templates."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db
TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The only templates allowed an inline <script>, and only with the nonce.
NONCED = {"exams/attempt.html", "exams/practice.html"}


def _directives(response) -> dict:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _assert_policy(response):
    d = _directives(response)
    # The nonce is sent only with a page that uses it (an inline script): elsewhere 'self' alone.
    assert d["script-src"][0] == "'self'" and len(d["script-src"]) <= 2
    assert all(re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{20,}'", s) for s in d["script-src"][1:])
    assert "'unsafe-inline'" not in d["script-src"] and "'unsafe-eval'" not in d["script-src"]
    assert d["object-src"] == ["'none'"] and d["frame-ancestors"] == ["'none'"]
    assert d["base-uri"] == ["'self'"]
    assert "blob:" in d["media-src"] and d["connect-src"] == ["'self'"] and "data:" in d["img-src"]
    assert "'self'" in d["form-action"]
    return d


def test_the_header_is_on_public_learner_and_staff_pages(verified_learner, django_user_model):
    anon = Client()
    for path in ("/", "/courses/", "/accounts/login/", "/accounts/register/"):
        _assert_policy(anon.get(path))
    learner = Client()
    learner.force_login(verified_learner)
    _assert_policy(learner.get("/accounts/dashboard/"))
    staff = Client()
    staff.force_login(django_user_model.objects.create_superuser("csp-root", "Csp-pass-2026-long"))
    _assert_policy(staff.get("/admin/"))
    _assert_policy(staff.get("/admin/accounts/user/"))


def test_the_practice_page_script_carries_the_responses_own_nonce(learner, paid, course, practice):
    from django.utils import timezone

    from cpe.agreements import selectors as agreement_selectors

    client = Client()
    client.force_login(learner, backend="cpe.accounts.auth.IdentifierBackend")
    s = client.session
    s["agreement_ok"] = agreement_selectors.required_major_id(timezone.now())
    s.save()
    nonces = []
    for _ in range(2):
        r = client.get(f"/exams/practice/course/{course.pk}/")
        assert r.status_code == 200
        header_nonce = _assert_policy(r)["script-src"][1][len("'nonce-") : -1]
        assert f'<script nonce="{header_nonce}">' in r.content.decode()
        nonces.append(header_nonce)
    assert nonces[0] != nonces[1]


def test_no_inline_script_and_no_event_handler_attribute_in_the_templates():
    for path in TEMPLATES.rglob("*.html"):
        name = str(path.relative_to(TEMPLATES))
        text = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), f"{name}: inline event handler"
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" in tag or 'type="application/json"' in tag:
                continue
            assert name in NONCED and 'nonce="{{ CSP_NONCE }}"' in tag, f"{name}: inline script {tag}"


def test_the_payment_forms_may_move_on_to_the_gateways(monkeypatch):
    """A payment form's answer is a redirect to the gateway's cashier: form-action must allow it
    (Chromium applies form-action to the redirect after a form post)."""
    from config.settings import base

    monkeypatch.setattr(base, "PAYMENT_SANDBOX", False)
    monkeypatch.setattr(base, "SITE_URL", "https://www.example.cn")
    monkeypatch.setenv("ALIPAY_GATEWAY_URL", "https://openapi.alipay.com/gateway.do")
    assert base.csp_form_action() == [
        "'self'",
        "https://www.example.cn",
        "https://openapi.alipay.com",
        "https://wx.tenpay.com",
    ]
    monkeypatch.setattr(base, "PAYMENT_SANDBOX", True)
    assert base.csp_form_action() == ["'self'", "https://www.example.cn"]


def test_the_deploy_check_wants_the_gate_and_the_policy(settings):
    from cpe.core.checks import staff_gate_and_csp_installed

    assert staff_gate_and_csp_installed(None) == []
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "cpe.core.content_policy.CSPMiddleware"]
    assert [e.id for e in staff_gate_and_csp_installed(None)] == ["cpe.E006"]
    gate = "cpe.accounts.middleware.StaffSecondFactorMiddleware"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != gate]
    assert "StaffSecondFactorMiddleware" in staff_gate_and_csp_installed(None)[0].msg


def test_the_policy_built_once_per_process_follows_the_settings(settings):
    """The policy text of a page without nonce or per-view change is built once per process
    (cpe.core.content_policy): it is django-csp's own text, and a changed setting is sent from
    the next response on, never the text built before."""
    from csp.utils import build_policy

    anon = Client()
    assert anon.get("/courses/")["Content-Security-Policy"] == build_policy()
    changed = {**settings.CONTENT_SECURITY_POLICY}
    changed["DIRECTIVES"] = {**changed["DIRECTIVES"], "img-src": ["'self'", "https://img.example.cn"]}
    settings.CONTENT_SECURITY_POLICY = changed
    assert "https://img.example.cn" in _directives(anon.get("/courses/"))["img-src"]
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    assert anon.get("/courses/")["Content-Security-Policy-Report-Only"] == "default-src 'self'"
