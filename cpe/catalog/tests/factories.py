"""Test factories of the catalog: training years, courses with their chapters, products.
Rows here hold no invariant a service keeps (staff edit them in the admin), so the factories
create them directly."""

import factory
from django.utils import timezone

from cpe.catalog.models import Chapter, Course, Product, ProductKind, TrainingYear


def this_year() -> int:
    """The training year of "today" (the process clock, in Shanghai): the one helper a test asks
    when it means the current year rather than a year it fixes itself."""
    from cpe.core.timewin import local_date

    return local_date(timezone.now()).year


class TrainingYearFactory(factory.django.DjangoModelFactory):
    """A training year with the model's rules (90 hours, 60 professional, one credit an hour)."""

    class Meta:
        model = TrainingYear
        django_get_or_create = ("year",)

    year = 2026


class CourseFactory(factory.django.DjangoModelFactory):
    """A published professional course of 24 hours, titled after its code, with `chapters`
    chapters of 20 seconds each (none unless asked)."""

    class Meta:
        model = Course
        skip_postgeneration_save = True

    year = factory.SubFactory(TrainingYearFactory)
    code = factory.Sequence(lambda n: f"C{n + 1}")
    title = factory.LazyAttribute(lambda o: f"课程{o.code}")
    category = "professional"
    credit_hours = 24

    @factory.post_generation
    def chapters(obj, create, extracted, **kwargs):
        """`chapters=2` makes two chapters; `chapters__seconds=120` sets their length."""
        for n in range(extracted or 0):
            ChapterFactory(course=obj, position=n + 1, duration_seconds=kwargs.get("seconds", 20))


class ChapterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chapter

    course = factory.SubFactory(CourseFactory)
    position = factory.Sequence(lambda n: n + 1)
    title = factory.LazyAttribute(lambda o: f"第{o.position}章")
    duration_seconds = 20


class AnnualProductFactory(factory.django.DjangoModelFactory):
    """The year's annual course product, 198.00 yuan, coded `<year>-ANNUAL`."""

    class Meta:
        model = Product
        django_get_or_create = ("code",)

    year = factory.SubFactory(TrainingYearFactory)
    code = factory.LazyAttribute(lambda o: f"{o.year.year}-ANNUAL")
    title = factory.LazyAttribute(lambda o: f"{o.year.year} 年度课程")
    kind = ProductKind.ANNUAL
    price_fen = 19800
