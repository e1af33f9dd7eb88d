"""`{% fixed_fragment %}` (cpe.core.templatetags.fixed_fragment): the layout's header and footer
rendered once per process and kind of visitor give exactly what rendering them every time gives,
each request keeps its own CSRF token, and nothing personal can be put inside one."""

import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client

LOAD = "{% load static fixed_fragment %}"
BODY = (
    "<b hx='{{ csrf_token }}'>{{ SITE_NAME }} <a href=\"{% url 'home' %}\">x</a>"
    "{% if user.is_authenticated and not user.is_staff %}learner"
    "{% elif user.is_staff %}staff{% else %}guest{% endif %}"
    "{% csrf_token %}<link href=\"{% static 'css/site.css' %}\">{% if DEBUG %}debug{% endif %}</b>"
)


class U:
    def __init__(self, authenticated, staff):
        self.is_authenticated, self.is_staff = authenticated, staff


def both(ctx):
    cached = Template(
        LOAD + "{% fixed_fragment user.is_authenticated user.is_staff %}" + BODY + "{% endfixed_fragment %}"
    )
    plain = Template(LOAD + BODY)
    return cached.render(Context(ctx)), plain.render(Context(ctx))


def test_the_fragment_renders_what_the_template_would_for_each_visitor_and_token():
    cached = Template(
        LOAD + "{% fixed_fragment user.is_authenticated user.is_staff %}" + BODY + "{% endfixed_fragment %}"
    )
    plain = Template(LOAD + BODY)
    seen = set()
    for _ in range(2):  # the second round comes from the stored renderings
        for user in (U(False, False), U(True, False), U(True, True)):
            for token in ("tokenA1", "tokenB2"):
                ctx = {"user": user, "csrf_token": token, "SITE_NAME": "平台", "DEBUG": False}
                got = cached.render(Context(ctx))
                assert got == plain.render(Context(ctx))
                assert got.count(token) == 2  # the attribute and the form field
                seen.add(got)
    assert len(seen) == 6  # three kinds of visitor × two tokens: no rendering served to another
    assert len(cached.nodelist[-1].memo) == 3


def test_without_a_csrf_token_it_renders_as_written():
    got, want = both({"user": U(True, False), "SITE_NAME": "平台"})
    assert got == want and "csrfmiddlewaretoken" not in got


def test_a_settings_change_is_seen(settings):
    t = Template(
        LOAD + "{% fixed_fragment %}{{ SITE_NAME }}{% if DEBUG %} debug{% endif %}{% endfixed_fragment %}"
    )
    assert t.render(Context({"csrf_token": "t", "SITE_NAME": "甲", "DEBUG": False})) == "甲"
    settings.SUPPORT_PHONE = "0471-0000000"  # any setting moves the generation on
    assert t.render(Context({"csrf_token": "t", "SITE_NAME": "乙", "DEBUG": True})) == "乙 debug"


@pytest.mark.parametrize(
    "inside",
    [
        "{{ user.name }}",  # personal data: not a key, not a site fact
        "{{ SITE_NAME|upper }}",  # filters are not checked: refused
        "{% if user.id_number %}x{% endif %}",
        "{% url 'credits:year' y %}",  # an argument: per request
        "{% include 'partials/message.html' %}",
        "{% for x in xs %}{{ x }}{% endfor %}",
        "{% block b %}{% endblock %}",
        "{% static path %}",
        '{% if "z" in csrf_token %}z{% endif %}',  # the token is the marker while rendering
        "{% if csrf_token %}t{% endif %}",
        '{{ "x" }}',
        '{{ _("x") }}',
        '{% if user.is_authenticated == _("x") %}x{% endif %}',
        "{% fixed_fragment %}x{% endfixed_fragment %}",
    ],
)
def test_anything_that_could_differ_between_people_is_refused_when_parsed(inside):
    with pytest.raises(TemplateSyntaxError):
        Template(LOAD + "{% fixed_fragment user.is_authenticated %}" + inside + "{% endfixed_fragment %}")


@pytest.mark.parametrize("key", ["user.name|length", "user.id_number", "request.GET.q", '"k"', "user"])
def test_a_key_is_the_kind_of_visitor_only(key):
    with pytest.raises(TemplateSyntaxError):
        Template(LOAD + "{% fixed_fragment " + key + " %}x{% endfixed_fragment %}")


def test_a_key_value_that_is_not_yes_or_no_renders_as_written_and_is_not_stored():
    t = Template(
        LOAD + "{% fixed_fragment user.is_authenticated user.is_staff %}" + BODY + "{% endfixed_fragment %}"
    )
    ctx = {"user": U(1, 0), "csrf_token": "tok", "SITE_NAME": "平台"}
    assert t.render(Context(ctx)) == Template(LOAD + BODY).render(Context(ctx))
    assert t.nodelist[-1].memo == {}


def test_site_facts_a_view_passes_are_part_of_the_key():
    t = Template(
        LOAD + "{% fixed_fragment %}{{ SITE_NAME }}{% if DEBUG %}!{% endif %}{% endfixed_fragment %}"
    )
    assert t.render(Context({"SITE_NAME": "甲", "csrf_token": "t"})) == "甲"
    assert t.render(Context({"SITE_NAME": "乙", "DEBUG": True, "csrf_token": "t"})) == "乙!"
    assert t.render(Context({"SITE_NAME": "甲", "csrf_token": "t"})) == "甲"


def test_settings_changes_empty_the_stored_renderings(settings):
    t = Template(LOAD + "{% fixed_fragment %}{{ SITE_NAME }}{% endfixed_fragment %}")
    for i in range(40):  # more than a node stores: each change starts afresh, so it keeps storing
        settings.SUPPORT_PHONE = f"0471-{i:07d}"
        assert t.render(Context({"SITE_NAME": str(i)})) == str(i)
        assert len(t.nodelist[-1].memo) == 1


def test_a_fragment_without_the_token_never_asks_for_it():
    asked = []

    class Token:
        def __bool__(self):
            asked.append(1)
            return True

    link = "<link href=\"{% static 'css/site.css' %}\">"
    t = Template(LOAD + "{% fixed_fragment %}" + link + "{% endfixed_fragment %}")
    assert "site.css" in t.render(Context({"csrf_token": Token()}))
    assert asked == []  # asking would set the CSRF cookie on a page that needs none


def _tokens(html):
    hx = re.search(r'hx-headers=\'\{"X-CSRFToken": "([A-Za-z0-9]+)"\}\'', html).group(1)
    form = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', html).group(1)
    return hx, form


@pytest.mark.django_db
def test_each_learner_gets_a_token_of_their_own_secret_and_it_signs_them_out(register_learner):
    """Two learners' dashboards: each page's token (in the htmx header and the sign-out form)
    unmasks to that learner's CSRF secret, differs on every request, and is accepted by the
    sign-out form (CSRF enforced)."""
    secrets, pages = [], []
    for name, email in (("李甲", "jia@example.com"), ("王乙", "yi@example.com")):
        client = Client(enforce_csrf_checks=True)
        client.force_login(register_learner(name=name, email=email))
        first, second = (client.get("/accounts/dashboard/") for _ in range(2))
        assert first.status_code == second.status_code == 200
        (hx1, form1), (hx2, form2) = _tokens(first.content.decode()), _tokens(second.content.decode())
        assert hx1 == form1 and hx2 == form2 and hx1 != hx2  # one per page, masked afresh each time
        secret = client.cookies["csrftoken"].value
        assert {_unmask_cipher_token(t) for t in (hx1, form1, hx2, form2)} == {secret}
        secrets.append(secret)
        pages.append(first.content.decode())
        r = client.post("/accounts/logout/", {"csrfmiddlewaretoken": form2})
        assert r.status_code == 302
        assert client.get("/accounts/dashboard/").status_code == 302  # signed out
    assert secrets[0] != secrets[1]
    assert "我的学习" in pages[0] and "我的学习" in pages[1]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_the_layout_loads_the_htmx_scripts_django_htmx_would(settings, debug):
    """templates/base.html writes htmx's script tag inside its fixed head fragment (not rendered
    per request) and django-htmx's debug helper only with DEBUG: together they must be what
    django-htmx's own {% htmx_script %} gives, so a new django-htmx that renames its files fails
    here rather than in a learner's browser."""
    from django_htmx.jinja import django_htmx_script, htmx_script

    settings.DEBUG = debug
    html = Client().get("/").content.decode()
    whole = str(htmx_script())
    debug_part = str(django_htmx_script())
    assert bool(debug_part) is debug
    assert whole == whole.replace(debug_part, "", 1) + debug_part  # the helper is the tail
    assert whole.replace(debug_part, "", 1) in html
    assert debug_part in html
    assert html.count("<script") == 2 + debug  # htmx, site.js and the helper with DEBUG


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/"])
def test_the_learner_and_staff_pages_name_the_site_icon(path):
    """Both layouts (templates/base.html and the staff's admin/base_site.html) link the site's
    icon, a file among the static files: without the link browsers ask for /favicon.ico, which
    the platform does not serve (a 404 on every first visit)."""
    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    html = Client().get(path).content.decode()
    assert f'<link rel="icon" href="{static("img/favicon.svg")}" type="image/svg+xml">' in html
    assert finders.find("img/favicon.svg")
