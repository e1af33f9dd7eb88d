"""The catalogue page: the open years, each with its published courses and its products on sale
(read with three fixed queries, cpe.catalog.selectors.catalog_years), and for a signed-in
learner what is already held."""

import pytest
from django.urls import reverse

from cpe.catalog.models import Course, Product, ProductKind, TrainingYear

pytestmark = pytest.mark.django_db


@pytest.fixture
def years():
    open_ = TrainingYear.objects.create(year=2031)
    older = TrainingYear.objects.create(year=2030)
    closed = TrainingYear.objects.create(year=2029, is_open=False)
    for y in (open_, older, closed):
        Course.objects.create(
            year=y, code=f"P{y.year}", title=f"专业{y.year}", category="professional", credit_hours=4
        )
        Course.objects.create(
            year=y,
            code=f"H{y.year}",
            title=f"未发布{y.year}",
            category="public",
            credit_hours=2,
            is_published=False,
        )
        Product.objects.create(
            code=f"{y.year}-ANNUAL",
            title=f"{y.year} 年度课程",
            kind=ProductKind.ANNUAL,
            year=y,
            price_fen=19800,
        )
        Product.objects.create(
            code=f"{y.year}-OLD",
            title=f"停售{y.year}",
            kind=ProductKind.ANNUAL,
            year=y,
            price_fen=100,
            is_active=False,
        )
    return open_, older, closed


def test_open_years_with_their_published_courses_and_products_on_sale(client, years):
    html = client.get(reverse("catalog:catalog")).content.decode()
    assert html.index("2031 年度") < html.index("2030 年度")  # newest first
    for y in (2031, 2030):
        assert f"专业{y}" in html and f"{y} 年度课程" in html
        assert f"未发布{y}" not in html and f"停售{y}" not in html
    assert "2029" not in html
    # each year's rows under its own heading
    assert html.index("2030 年度") < html.index("专业2030") and html.index("专业2031") < html.index(
        "2030 年度"
    )


def test_a_course_published_later_and_a_year_closed_show_at_the_next_request(client, years):
    open_, older, _ = years
    url = reverse("catalog:catalog")
    assert "未发布2031" not in client.get(url).content.decode()
    Course.objects.filter(code="H2031").update(is_published=True)
    TrainingYear.objects.filter(pk=older.pk).update(is_open=False)
    html = client.get(url).content.decode()
    assert "未发布2031" in html and "专业2030" not in html
