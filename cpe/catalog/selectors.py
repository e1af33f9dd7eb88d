from collections import defaultdict

from django.db.models import Count, Sum

from cpe.core.rows import FixedQuery

from .models import Course, Product, TrainingYear


def catalog_years() -> list:
    """Open years, newest first, each with its published courses (`published`, with chapter
    counts and seconds) and its products on sale (`on_sale`). Three queries, each compiled once
    per process (cpe.core.rows): the years, the courses of the open years, their products."""
    years = _open_years()
    courses, products = defaultdict(list), defaultdict(list)
    for c in _open_courses():
        courses[c.year_id].append(c)
    for p in _open_products():
        products[p.year_id].append(p)
    for y in years:
        y.published, y.on_sale = courses[y.pk], products[y.pk]
    return years


_open_years = FixedQuery(lambda: TrainingYear.objects.filter(is_open=True).order_by("-year"))
_open_courses = FixedQuery(
    lambda: (
        Course.objects.filter(is_published=True, year__is_open=True)
        .annotate(chapter_count=Count("chapters"), total_seconds=Sum("chapters__duration_seconds"))
        .order_by("position", "id")
    )
)
_open_products = FixedQuery(lambda: Product.objects.filter(is_active=True, year__is_open=True))
