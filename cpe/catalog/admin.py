from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.net import client_ip

from . import policy, services
from .models import Chapter, Course, Product, TrainingYear


class _FinanceFieldsAdmin(SafeModelAdmin):
    """Prices and year rules: read-only without the permission, and every save goes through
    catalog.services (permission checked again under a row lock, audited before/after)."""

    restricted: frozenset = frozenset()
    permission = ""
    refusal = ""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.has_perm(self.permission):
            readonly += [f for f in sorted(self.restricted) if f not in readonly]
        return readonly

    def has_add_permission(self, request):
        # A new product or year sets its price or rules.
        return super().has_add_permission(request) and request.user.has_perm(self.permission)

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        admin_self, may_change = self, request.user.has_perm(self.permission)

        class Form(form_class):
            def clean(self):
                cleaned = super().clean()
                if policy.restricted_change(self.changed_data, admin_self.restricted, may_change=may_change):
                    raise ValidationError(admin_self.refusal)
                return cleaned

        return Form

    def save_model(self, request, obj, form, change):
        self.save_through_service(obj, actor=request.user, ip=client_ip(request.META))


@admin.register(TrainingYear)
class TrainingYearAdmin(_FinanceFieldsAdmin):
    list_display = ["year", "required_hours", "professional_min_hours", "credits_per_hour", "is_open"]
    restricted, permission = policy.YEAR_RULE_FIELDS, services.YEAR_RULES_PERMISSION
    refusal = services.YEAR_RULES_REFUSAL[1]

    def save_through_service(self, obj, **kwargs):
        services.training_year_save(year=obj, **kwargs)


class ChapterInline(admin.TabularInline):
    model = Chapter
    extra = 1


@admin.register(Course)
class CourseAdmin(SafeModelAdmin):
    list_display = ["code", "title", "year", "category", "credit_hours", "is_published"]
    list_filter = ["year", "category", "is_published"]
    search_fields = ["code", "title", "teacher"]
    inlines = [ChapterInline]


@admin.register(Product)
class ProductAdmin(_FinanceFieldsAdmin):
    list_display = ["code", "title", "kind", "year", "price_fen", "validity_days", "is_active"]
    list_filter = ["year", "kind", "is_active"]
    restricted, permission = policy.PRICE_FIELDS, services.PRICE_PERMISSION
    refusal = services.PRICE_REFUSAL[1]

    def save_through_service(self, obj, **kwargs):
        services.product_save(product=obj, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "price_fen":  # the admin's integer input (5em) cuts off a price in fen
            kwargs["widget"] = forms.NumberInput(attrs={"class": "vTextField", "min": 1})
        return super().formfield_for_dbfield(db_field, request, **kwargs)
