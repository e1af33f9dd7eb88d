from django.contrib import admin

from cpe.core.admin_base import SafeModelAdmin

from .models import Chapter, Course, Product, TrainingYear


@admin.register(TrainingYear)
class TrainingYearAdmin(SafeModelAdmin):
    list_display = ["year", "required_hours", "professional_min_hours", "credits_per_hour", "is_open"]


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
class ProductAdmin(SafeModelAdmin):
    list_display = ["code", "title", "kind", "year", "price_fen", "validity_days", "is_active"]
    list_filter = ["year", "kind", "is_active"]
