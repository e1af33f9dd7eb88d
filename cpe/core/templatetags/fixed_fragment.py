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
person's data into a fragment that everyone is served: text, `{% if %}` over allowed names and
literals, `{% url 'literal' %}` without arguments, `{% static 'literal' %}`, `{% csrf_token %}`
and `{{ csrf_token }}`, and variables (without filters) that are a key or one of SITE_FACTS
(settings, the same for everyone). A key is one of KEYS (who is looking, a yes or no). Anything
else is a TemplateSyntaxError.

The key of a stored rendering is the key values (each must be True or False, else the fragment
renders as written), the values of the site facts the fragment shows, the request's URL
configuration, script prefix and current application, the active language and autoescaping.
A settings change (tests' override_settings) empties the stored renderings. The CSRF marker is
random per process, so no input can contain it. A fragment that uses the token renders as
written when the context has none (no request); one that does not use it never asks for it
(asking sets the CSRF cookie)."""

import secrets

from django import template
from django.core.signals import setting_changed
from django.template.base import Node, TextNode, Variable, VariableNode
from django.template.defaulttags import CsrfTokenNode, IfNode, URLNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix, get_urlconf
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from cpe.core.templatetags.url_memo import current_app_of

register = template.Library()

# Context names the same for every request of a process (cpe.core.context_processors.site).
SITE_FACTS = frozenset({"SITE_NAME", "SUPPORT_PHONE", "SUPPORT_EMAIL", "DEBUG"})
# What a fragment may depend on about the visitor: the kind of visitor, never who.
KEYS = frozenset({"user.is_authenticated", "user.is_staff"})
_TOKEN = "csrf_token"
_MARK = "ffcsrf" + secrets.token_hex(16)  # letters and digits: escaping leaves it as it is
_MAX_KEYS = 32  # a handful of yes/no keys: more than this means a mistake; not stored
_generation = [0]


def _settings_changed(**kwargs):
    _generation[0] += 1


setting_changed.connect(_settings_changed, dispatch_uid="fixed_fragment_settings")


class FixedFragmentNode(Node):
    # Not walked by get_nodes_by_type: no block can be inside (_check), and `{% extends %}`
    # walks the whole parent template for its blocks on every render.
    child_nodelists = ()

    def __init__(self, nodelist, keys, facts, uses_token):
        self.nodelist, self.keys, self.facts, self.uses_token = nodelist, keys, facts, uses_token
        self.memo: dict = {}
        self.generation = _generation[0]

    def render(self, context):
        if self.generation != _generation[0]:
            self.memo, self.generation = {}, _generation[0]
        token = None
        if self.uses_token:
            token = context.get(_TOKEN)
            if not token or token == "NOTPROVIDED":
                return self.nodelist.render(context)
        values = tuple(k.resolve(context) for k in self.keys)
        facts = tuple(context.get(name) for name in self.facts)
        if any(type(v) is not bool for v in values) or any(
            f is not None and type(f) not in (str, bool) for f in facts
        ):
            return self.nodelist.render(context)
        key = (
            values,
            facts,
            get_urlconf(),
            get_script_prefix(),
            current_app_of(context),
            get_language(),
            context.autoescape,
        )
        text = self.memo.get(key)
        if text is None:
            with context.push(csrf_token=_MARK):
                text = self.nodelist.render(context)
            if len(self.memo) < _MAX_KEYS:
                self.memo[key] = text
        if token is not None:
            text = text.replace(_MARK, conditional_escape(str(token)))
        return mark_safe(text)


def _plain_name(fe) -> str | None:
    """The dotted name a filter expression looks up, or None (a literal, a translation, filters)."""
    var = fe.var
    if fe.filters or not isinstance(var, Variable) or var.literal is not None or var.translate:
        return None
    return var.var


def _literal(fe) -> bool:
    return not fe.filters and isinstance(fe.var, str)


class _Seen:
    """What a fragment's body uses: the site facts, and whether the CSRF token."""

    def __init__(self):
        self.facts: set[str] = set()
        self.token = False

    def name(self, name, allowed, token_ok):
        if name == _TOKEN and token_ok:
            self.token = True
        elif name in SITE_FACTS:
            self.facts.add(name)
        elif name not in allowed:
            raise template.TemplateSyntaxError(f"fixed_fragment: '{name}' is not allowed in a fixed fragment")


def _check_condition(cond, allowed, seen):
    """An {% if %} condition: operators over allowed names (not the CSRF token) or literals."""
    if cond is None:  # {% else %}
        return
    value = getattr(cond, "value", None)
    if value is not None:  # a TemplateLiteral
        if not _literal(value):
            name = _plain_name(value)
            if name is None:
                raise template.TemplateSyntaxError(
                    f"fixed_fragment: '{value.token}' is not allowed in a fixed fragment's condition"
                )
            seen.name(name, allowed, token_ok=False)
        return
    for part in (getattr(cond, "first", None), getattr(cond, "second", None)):
        _check_condition(part, allowed, seen)


def _check(nodelist, allowed, seen):
    for node in nodelist:
        if isinstance(node, TextNode):
            continue
        if isinstance(node, CsrfTokenNode):
            seen.token = True
        elif isinstance(node, VariableNode):
            name = _plain_name(node.filter_expression)
            if name is None:
                raise template.TemplateSyntaxError(
                    f"fixed_fragment: '{{{{ {node.filter_expression.token} }}}}' is not allowed inside"
                )
            seen.name(name, allowed, token_ok=True)
        elif isinstance(node, IfNode):
            for cond, body in node.conditions_nodelists:
                _check_condition(cond, allowed, seen)
                _check(body, allowed, seen)
        elif isinstance(node, URLNode):
            if not _literal(node.view_name) or node.args or node.kwargs or node.asvar:
                raise template.TemplateSyntaxError("fixed_fragment: only {% url 'name' %} without arguments")
        elif isinstance(node, StaticNode):
            if not _literal(node.path) or node.varname:
                raise template.TemplateSyntaxError("fixed_fragment: only {% static 'path' %}")
        else:
            name = type(node).__name__
            raise template.TemplateSyntaxError(f"fixed_fragment: {name} is not allowed in a fixed fragment")


@register.tag
def fixed_fragment(parser, token):
    keys = [parser.compile_filter(b) for b in token.split_contents()[1:]]
    names = [_plain_name(k) for k in keys]
    if not all(n in KEYS for n in names):
        raise template.TemplateSyntaxError(f"fixed_fragment: each key is one of {sorted(KEYS)}")
    nodelist = parser.parse(("endfixed_fragment",))
    parser.delete_first_token()
    seen = _Seen()
    _check(nodelist, set(names), seen)
    return FixedFragmentNode(nodelist, keys, sorted(seen.facts), seen.token)
