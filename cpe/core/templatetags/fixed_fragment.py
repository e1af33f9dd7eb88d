"""`{% fixed_fragment key … %}…{% endfixed_fragment %}`: a piece of the layout that is the same
for every request with the same key values (the header's and footer's links for a visitor, a
learner or a member of staff), rendered once per process and key, then reused.

The layout (templates/base.html) renders its header and footer on every page: sixteen links,
a dozen conditions, the site's name and support lines, about 0.15 ms of each learner page's
0.4 ms of layout (bench/pages/cost.py). Their output depends only on who is looking (signed in,
staff), on settings and on the URL configuration, except for the CSRF token in the `hx-headers`
attribute and the sign-out form, which is per request: the fragment is rendered with a marker in
place of the token and the marker replaced by this request's token on every use.

What may be inside is checked when the template is parsed, so that nobody can later put one
person's data into a fragment that everyone is served: text, `{% if %}`, `{% url 'literal' %}`
without arguments, `{% static 'literal' %}`, `{% csrf_token %}`, and variables (without filters)
that are either a key of the fragment or one of SITE_FACTS (settings, the same for everyone).
Anything else is a TemplateSyntaxError.

The key of a stored rendering is the key values, the URL configuration and script prefix of
the request, autoescaping, and a generation that a settings change (tests' override_settings)
moves on. A page rendered without a CSRF token in its context (no request) renders the
fragment as written, every time."""

from django import template
from django.core.signals import setting_changed
from django.template.base import Node, TextNode, VariableNode
from django.template.defaulttags import CsrfTokenNode, IfNode, URLNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix, get_urlconf
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()

# Context names the same for every request of a process (cpe.core.context_processors.site).
SITE_FACTS = frozenset({"SITE_NAME", "SUPPORT_PHONE", "SUPPORT_EMAIL", "DEBUG"})
_MARK = "fixedfragmentcsrfmark0"  # letters and digits: escaping leaves it as it is
_MAX_KEYS = 32  # a key is a handful of booleans: more than this means a mistake; not stored
_generation = [0]


def _settings_changed(**kwargs):
    _generation[0] += 1


setting_changed.connect(_settings_changed, dispatch_uid="fixed_fragment_settings")


class FixedFragmentNode(Node):
    # Not walked by get_nodes_by_type: no block can be inside (_check), and `{% extends %}`
    # walks the whole parent template for its blocks on every render.
    child_nodelists = ()

    def __init__(self, nodelist, keys):
        self.nodelist, self.keys = nodelist, keys
        self.memo: dict = {}

    def render(self, context):
        token = context.get("csrf_token")
        if not token or token == "NOTPROVIDED":
            return self.nodelist.render(context)
        key = (
            tuple(k.resolve(context) for k in self.keys),
            get_urlconf(),
            get_script_prefix(),
            context.autoescape,
            _generation[0],
        )
        text = self.memo.get(key)
        if text is None:
            with context.push(csrf_token=_MARK):
                text = self.nodelist.render(context)
            if len(self.memo) < _MAX_KEYS:
                self.memo[key] = text
        return mark_safe(text.replace(_MARK, conditional_escape(str(token))))


def _plain_name(fe) -> str | None:
    """The dotted name a filter expression looks up, or None (a literal, or with filters)."""
    if fe.filters:
        return None
    var = getattr(fe, "var", None)
    return getattr(var, "var", None) if var is not None and var.literal is None else None


def _literal(fe) -> bool:
    return not fe.filters and isinstance(fe.var, str)


def _check_condition(cond, allowed, where):
    """An {% if %} condition: operators over allowed names (or literals)."""
    if cond is None:  # {% else %}
        return
    value = getattr(cond, "value", None)
    if value is not None:  # a TemplateLiteral
        if not (_literal(value) or _plain_name(value) in allowed):
            raise template.TemplateSyntaxError(f"{where}: '{value.token}' is not allowed in a fixed fragment")
        return
    for part in (getattr(cond, "first", None), getattr(cond, "second", None)):
        _check_condition(part, allowed, where)


def _check(nodelist, allowed):
    where = "fixed_fragment"
    for node in nodelist:
        if isinstance(node, (TextNode, CsrfTokenNode)):
            continue
        if isinstance(node, VariableNode):
            if _plain_name(node.filter_expression) not in allowed:
                raise template.TemplateSyntaxError(
                    f"{where}: '{{{{ {node.filter_expression.token} }}}}' is not allowed in a fixed fragment"
                )
        elif isinstance(node, IfNode):
            for cond, body in node.conditions_nodelists:
                _check_condition(cond, allowed, where)
                _check(body, allowed)
        elif isinstance(node, URLNode):
            if not _literal(node.view_name) or node.args or node.kwargs or node.asvar:
                raise template.TemplateSyntaxError(f"{where}: only {{% url 'name' %}} without arguments")
        elif isinstance(node, StaticNode):
            if not _literal(node.path) or node.varname:
                raise template.TemplateSyntaxError(f"{where}: only {{% static 'path' %}}")
        else:
            raise template.TemplateSyntaxError(
                f"{where}: {type(node).__name__} is not allowed in a fixed fragment"
            )


@register.tag
def fixed_fragment(parser, token):
    bits = token.split_contents()[1:]
    keys = [parser.compile_filter(b) for b in bits]
    names = {_plain_name(k) for k in keys}
    if None in names:
        raise template.TemplateSyntaxError(
            "fixed_fragment: each key is a plain name (no filters, no literals)"
        )
    nodelist = parser.parse(("endfixed_fragment",))
    parser.delete_first_token()
    _check(nodelist, SITE_FACTS | names | {"csrf_token"})
    return FixedFragmentNode(nodelist, keys)
