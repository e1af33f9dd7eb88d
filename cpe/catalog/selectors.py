from django.db.models import Count, Prefetch, QuerySet, Sum

from .models import Course, Product, TrainingYear


def catalog_years() -> QuerySet[TrainingYear]:
    """Open years with their published courses (chapter counts) and products on sale."""
    courses = (
        Course.objects.filter(is_published=True)
        .annotate(chapter_count=Count("chapters"), total_seconds=Sum("chapters__duration_seconds"))
        .order_by("position", "id")
    )
    return (
        TrainingYear.objects.filter(is_open=True)
        .prefetch_related(
            Prefetch("courses", queryset=courses),
            Prefetch("products", queryset=Product.objects.filter(is_active=True)),
        )
        .order_by("-year")
    )
