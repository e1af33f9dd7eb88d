"""`{% url %}` with a per-process memo for a literal route name without arguments (the header's
and footer's links, on every page): Django reverses each one on every render, some fifteen per
page. Loaded as a template builtin after Django's own (config/settings/base.py TEMPLATES
"builtins"), so templates keep writing `{% url 'name' %}`.

The memo is keyed on everything the result depends on: the name, the current application
namespace (as Django's tag computes it), the request's URLconf and ROOT_URLCONF, and the script
prefix. A route with arguments, a name held in a variable, or `as var` is reversed as before."""

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()
_memo: dict = {}


class MemoURLNode(URLNode):
    def render(self, context):
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        key = (self.view_name.var, current_app, get_urlconf(), settings.ROOT_URLCONF, get_script_prefix())
        url = _memo.get(key)
        if url is None:
            url = _memo[key] = reverse(self.view_name.var, current_app=current_app)
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = django_url(parser, token)
    literal = isinstance(node.view_name.var, str) and not node.view_name.filters
    if literal and not node.args and not node.kwargs and node.asvar is None:
        return MemoURLNode(node.view_name, node.args, node.kwargs, node.asvar)
    return node
