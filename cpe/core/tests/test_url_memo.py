"""`{% url 'name' %}` memoised per process (cpe.core.templatetags.url_memo) gives what Django's
tag gives, whatever it depends on: the URLconf, the script prefix, the current application."""

import pytest
from django.template import Context, Template
from django.template.defaulttags import URLNode as DjangoURLNode
from django.urls import reverse, set_script_prefix

from cpe.core.templatetags.url_memo import MemoURLNode


def render(src, **ctx):
    return Template(src).render(Context(ctx))


def test_a_literal_name_without_arguments_is_memoised_and_right():
    t = Template("{% url 'catalog:catalog' %}|{% url 'accounts:dashboard' %}")
    assert any(isinstance(n, MemoURLNode) for n in t.nodelist)
    for _ in range(2):
        assert t.render(Context()) == f"{reverse('catalog:catalog')}|{reverse('accounts:dashboard')}"


def test_arguments_a_variable_name_and_as_var_are_reversed_as_before():
    for src in ("{% url 'credits:year' 2026 %}", "{% url name %}", "{% url 'home' as u %}{{ u }}"):
        t = Template(src)
        assert not any(isinstance(n, MemoURLNode) for n in t.nodelist)
        assert any(isinstance(n, DjangoURLNode) for n in t.nodelist)
    assert render("{% url 'credits:year' 2026 %}") == reverse("credits:year", args=[2026])
    assert render("{% url name %}", name="home") == reverse("home")
    assert render("{% url 'home' as u %}[{{ u }}]") == f"[{reverse('home')}]"


def test_the_script_prefix_is_part_of_the_key():
    plain = render("{% url 'home' %}")
    try:
        set_script_prefix("/sub/")
        assert render("{% url 'home' %}") == "/sub" + plain
    finally:
        set_script_prefix("/")
    assert render("{% url 'home' %}") == plain


def test_another_urlconf_is_another_key(settings):
    assert render("{% url 'home' %}") == "/"
    settings.ROOT_URLCONF = "cpe.core.tests.urls_other"
    assert render("{% url 'home' %}") == "/elsewhere/"


def test_an_unknown_name_still_fails_loudly():
    from django.urls import NoReverseMatch

    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-route' %}")
