"""`{% url 'name' %}` memoised per process (cpe.core.templatetags.url_memo) gives what Django's
tag gives, whatever it depends on: the URLconf, the script prefix, the current application."""

import pytest
from django.template import Context, Template
from django.template.defaulttags import URLNode as DjangoURLNode
from django.urls import NoReverseMatch, reverse, set_script_prefix

from cpe.core.templatetags import url_memo
from cpe.core.templatetags.url_memo import MemoArgsURLNode, MemoURLNode


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
    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-route' %}")


def test_positive_integer_arguments_fill_a_pattern_reversed_once(monkeypatch):
    t = Template("{% url 'credits:year' y %}|{% url 'learning:course' c %}")
    assert sum(isinstance(n, MemoArgsURLNode) for n in t.nodelist) == 2
    assert render("{% url 'credits:year' y %}", y=2026) == reverse("credits:year", args=[2026])
    reversed_ = []
    original = url_memo.reverse
    monkeypatch.setattr(url_memo, "reverse", lambda *a, **kw: reversed_.append(a) or original(*a, **kw))
    for y, c in ((2026, 7), (2027, 123456), (1999, 1)):
        want = f"{reverse('credits:year', args=[y])}|{reverse('learning:course', args=[c])}"
        assert t.render(Context({"y": y, "c": c})) == want
    assert len(reversed_) == 3  # the course's pattern (three sentinel sets), the year's was made above


def test_what_a_pattern_cannot_show_is_reversed_by_django(settings):
    settings.ROOT_URLCONF = "cpe.core.tests.urls_args"
    assert render("{% url 'two' 12 345 %}") == "/two/12/and/345/"
    assert render("{% url 'four_digits' 2026 %}") == "/year/2026/"
    with pytest.raises(NoReverseMatch):  # Django refuses it, so must the memo
        render("{% url 'four_digits' 12345 %}")
    assert render("{% url 'digit_in_path' 5 %}") == "/v1/item/5/"
    assert render("{% url 'text' 'a b' %}") == reverse("text", args=["a b"])
    assert render("{% url 'text' 42 %}") == "/name/42/"
    for other in (0, -3, True, "7", "x"):  # Django's way, whatever it answers

        def outcome(fn):
            try:
                return fn()
            except NoReverseMatch:
                return "NoReverseMatch"

        assert outcome(lambda o=other: render("{% url 'two' a 1 %}", a=o)) == outcome(
            lambda o=other: reverse("two", args=[o, 1])
        )
