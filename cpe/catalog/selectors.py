from django.db.models import Count, Prefetch, Sum

from cpe.core.rows import FixedQuery

from .models import Course, Product, TrainingYear


def catalog_years():
    """Open years with their published courses (chapter counts) and products on sale (a list;
    the years' query compiled once per process, cpe.core.rows; the prefetches as usual)."""
    return _catalog_years()


def _open_years():
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


_catalog_years = FixedQuery(_open_years)
