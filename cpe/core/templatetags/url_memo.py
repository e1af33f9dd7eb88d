"""`{% url %}` with a per-process memo for a literal route name without arguments (the header's
and footer's links, on every page): Django reverses each one on every render, some fifteen per
page. Loaded as a template builtin after Django's own (config/settings/base.py TEMPLATES
"builtins"), so templates keep writing `{% url 'name' %}`.

The memo is keyed on everything the result depends on: the name, the current application
namespace (as Django's tag computes it), the request's URLconf and ROOT_URLCONF, and the script
prefix. A route with arguments, a name held in a variable, or `as var` is reversed as before.

A literal route name with positional arguments that are all positive integers this time (the
links to a course, a year, in the pages' loops) is memoised as a pattern instead: reversed once
per key with three sets of sentinel numbers (1, 7 and 13 digits), each of which must appear
exactly once in its URL and give the same pattern, else the name is reversed by Django every
time. The pattern is then filled with `str(n)`: what Django's `int` converter (and any converter
that accepted all three) gives. Any other argument (a string, zero, a negative number) takes
Django's way."""

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()
_memo: dict = {}


class MemoURLNode(URLNode):
    def render(self, context):
        current_app = current_app_of(context)
        key = (self.view_name.var, current_app, get_urlconf(), settings.ROOT_URLCONF, get_script_prefix())
        url = _memo.get(key)
        if url is None:
            url = _memo[key] = reverse(self.view_name.var, current_app=current_app)
        return conditional_escape(url) if context.autoescape else url


def current_app_of(context):
    """The current application namespace a {% url %} in this context reverses with, as Django's
    tag computes it (also part of the fixed fragments' key, cpe.core.templatetags.fixed_fragment)."""
    try:
        return context.request.current_app
    except AttributeError:
        try:
            return context.request.resolver_match.namespace
        except AttributeError:
            return None


def _sentinels(n: int):
    """Three sets of n distinct positive numbers: 1 digit, 7 digits, 13 digits."""
    return (
        [i + 1 for i in range(n)],
        [int(f"9{i % 10}81{i // 10:01d}26") for i in range(n)],
        [int(f"4{i % 10}{i // 10:01d}" + "3" * 10) for i in range(n)],
    )


def _pattern(name, nargs, current_app):
    """The URL of `name` as literal pieces and argument positions, or False when the sentinels
    do not show it faithfully (the name is then always reversed by Django)."""
    patterns = set()
    for values in _sentinels(nargs) if nargs <= 9 else ():
        try:
            url = reverse(name, args=values, current_app=current_app)
        except NoReverseMatch:
            return False
        for i, v in enumerate(values):
            if url.count(str(v)) != 1:
                return False
            url = url.replace(str(v), f"\x00{i}\x00")
        patterns.add(url)
    if len(patterns) != 1:
        return False
    pieces = patterns.pop().split("\x00")
    return tuple(int(p) if k % 2 else p for k, p in enumerate(pieces))


class MemoArgsURLNode(URLNode):
    def render(self, context):
        args = [a.resolve(context) for a in self.args]
        if not all(type(a) is int and a > 0 for a in args):
            return super().render(context)
        current_app = current_app_of(context)
        key = (self.view_name.var, len(args), current_app, get_urlconf(), settings.ROOT_URLCONF)
        key += (get_script_prefix(),)
        pattern = _memo.get(key)
        if pattern is None:
            pattern = _memo[key] = _pattern(self.view_name.var, len(args), current_app)
        if pattern is False:
            return super().render(context)
        url = "".join(str(args[p]) if k % 2 else p for k, p in enumerate(pattern))
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = django_url(parser, token)
    literal = isinstance(node.view_name.var, str) and not node.view_name.filters
    if literal and not node.kwargs and node.asvar is None:
        cls = MemoArgsURLNode if node.args else MemoURLNode
        return cls(node.view_name, node.args, node.kwargs, node.asvar)
    return node
