"""The one base class of every staff-site list (``SafeModelAdmin``).

Django's ``ModelAdmin.lookup_allowed`` lets any query-string parameter that names a local
field through to ``QuerySet.filter``: ``?password__startswith=argon2$…`` or
``?session_key_hash__gte=8`` on a list that never shows those columns answers "rows / no rows",
and a few hundred requests read a whole secret out, one character at a time. Here a list
can be filtered only by what it declares:

* the parameters of its ``list_filter`` entries (a field path with the lookups Django's own
  field filters send: ``__exact``, ``__isnull``, ``__gte``, ``__lt``, ``__isempty``, and for a
  relation ``<path>__<target pk>__exact``; a ``SimpleListFilter``'s ``parameter_name``);
* its ``date_hierarchy`` (``__year``, ``__month``, ``__day``);
* ``extra_lookups``: exact parameter names its own links use (e.g. ``user__id__exact``);
* the fixed (lookup, value) pairs of a raw-id popup's ``limit_choices_to`` (as Django does).

Everything else is refused with ``DisallowedModelAdminLookup`` (HTTP 400), whatever the value:
a matching and a non-matching prefix get the same answer. ``?q=`` searches only
``search_fields`` and ``?o=`` orders only by ``list_display`` columns (Django's own rules), so
neither reaches a field the list does not declare. What a list may declare (no password, key,
token, hash or blind index) is checked by ``cpe/core/tests/test_admin_base.py`` over every
registered admin.
"""

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.filters import ListFilter, SimpleListFilter
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP

# The lookups Django's built-in field filters put in the query string for a field path.
FIELD_FILTER_LOOKUPS = ("exact", "isnull", "gte", "lt", "isempty")
DATE_HIERARCHY_LOOKUPS = ("year", "month", "day")


class SafeModelAdmin(admin.ModelAdmin):
    """Base of every ModelAdmin in the project: a list filters only by its declared filters."""

    # Exact query parameters (not prefixes) that this admin's own links put on its list.
    extra_lookups: tuple[str, ...] = ()

    class Media:
        # Layout of lists and read-only blocks (static/css/staff.css): filters above the list
        # so that every column fits at 1280 px; below 768 px each row is a card whose lines
        # are labelled with the column headers (static/js/staff-list.js).
        css = {"all": ["css/staff.css"]}
        js = ["js/staff-list.js"]

    def declared_lookups(self, request) -> frozenset[str]:
        """Every query parameter this list accepts as a filter."""
        allowed = set(self.extra_lookups)
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                allowed.add(item.parameter_name)
                continue
            if isinstance(item, type) and issubclass(item, ListFilter):
                # A ListFilter that is not a SimpleListFilter declares no fixed parameter:
                # it must name what it reads in extra_lookups.
                continue
            path = item[0] if isinstance(item, (list, tuple)) else item
            allowed.update(_field_filter_lookups(self.model, path))
        if self.date_hierarchy:
            allowed.update(f"{self.date_hierarchy}{LOOKUP_SEP}{lk}" for lk in DATE_HIERARCHY_LOOKUPS)
        return frozenset(allowed)

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in self.declared_lookups(request):
            return True
        # A raw-id popup for a ForeignKey with limit_choices_to: only its fixed (lookup, value)
        # pairs, exactly as Django allows them (the value is fixed, so nothing can be probed).
        for fk_lookup in self.model._meta.related_fkey_lookups:
            if callable(fk_lookup):
                fk_lookup = fk_lookup()
            if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
                return True
        return False


class ReadOnlyAdmin(SafeModelAdmin):
    """A list and its rows shown, never added, changed or deleted here: what it holds changes
    only through the owning app's services (the ledger, payments, the AIS outbox, play sessions)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _field_filter_lookups(model, path: str) -> set[str]:
    try:
        field = get_fields_from_path(model, path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return set()
    lookups = {f"{path}{LOOKUP_SEP}{lk}" for lk in FIELD_FILTER_LOOKUPS}
    target = getattr(field, "target_field", None)
    if field.is_relation and target is not None:
        # RelatedFieldListFilter: "<path>__<target field>__exact" (the related row's pk).
        lookups.add(f"{path}{LOOKUP_SEP}{target.name}{LOOKUP_SEP}exact")
    return lookups
