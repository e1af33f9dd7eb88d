from django.db import models

from cpe.core.money import fen_to_yuan

from .policy import DEFAULT_VALIDITY_DAYS


class Category(models.TextChoices):
    PROFESSIONAL = "professional", "专业科目"
    PUBLIC = "public", "公需科目"


class TrainingYear(models.Model):
    """A calendar training year and its requirement (rules R3.1), edited by staff."""

    year = models.PositiveSmallIntegerField("培训年度", unique=True)
    required_hours = models.PositiveSmallIntegerField("应修学时", default=90)
    credits_per_hour = models.PositiveSmallIntegerField("每学时折合学分", default=1)
    professional_min_hours = models.PositiveSmallIntegerField("专业科目最低学时", default=60)
    is_open = models.BooleanField("开放购买", default=True)

    class Meta:
        ordering = ["-year"]
        verbose_name = verbose_name_plural = "培训年度"
        permissions = [("set_year_rules", "可设置培训年度的学时要求与开放购买")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(professional_min_hours__lte=models.F("required_hours")),
                name="professional_min_within_required",
            )
        ]

    def __str__(self):
        return f"{self.year} 年度"


class Course(models.Model):
    year = models.ForeignKey(
        TrainingYear, on_delete=models.PROTECT, related_name="courses", verbose_name="培训年度"
    )
    code = models.CharField("课程编号", max_length=32, unique=True)
    title = models.CharField("课程名称", max_length=200)
    category = models.CharField("类别", max_length=16, choices=Category.choices)
    credit_hours = models.PositiveSmallIntegerField("学时")
    teacher = models.CharField("主讲教师", max_length=100, blank=True)
    description = models.TextField("课程简介", blank=True)
    position = models.PositiveSmallIntegerField("排序", default=0)
    is_published = models.BooleanField("已发布", default=True)

    # Not columns: set on the rows learning.selectors.enrolments_for_dashboard returns.
    passed: bool

    class Meta:
        ordering = ["year", "position", "id"]
        verbose_name = verbose_name_plural = "课程"

    def __str__(self):
        return self.title


class Chapter(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="chapters", verbose_name="课程")
    position = models.PositiveSmallIntegerField("序号")
    title = models.CharField("章节名称", max_length=200)
    duration_seconds = models.PositiveIntegerField("时长（秒）")

    # Not columns: set on the rows learning.selectors.course_progress returns (progress_row is
    # the learner's learning.ChapterProgress, which catalog, below learning, does not name).
    progress_row: models.Model | None
    completed: bool
    share: float
    percent: int

    class Meta:
        ordering = ["course", "position"]
        verbose_name = verbose_name_plural = "章节"
        constraints = [models.UniqueConstraint(fields=["course", "position"], name="chapter_position_unique")]

    def __str__(self):
        return f"{self.position}. {self.title}"


class ProductKind(models.TextChoices):
    ANNUAL = "annual", "年度课程"
    SINGLE = "single", "单门课程"


class Product(models.Model):
    """What is sold: the year's annual course (all its courses) or one course (rules R3.3)."""

    code = models.CharField("商品编号", max_length=32, unique=True)
    title = models.CharField("名称", max_length=200)
    kind = models.CharField("类型", max_length=8, choices=ProductKind.choices, default=ProductKind.ANNUAL)
    year = models.ForeignKey(
        TrainingYear, on_delete=models.PROTECT, related_name="products", verbose_name="培训年度"
    )
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.PROTECT, verbose_name="课程")
    price_fen = models.PositiveIntegerField("价格（分）")
    validity_days = models.PositiveSmallIntegerField("有效期（天）", default=DEFAULT_VALIDITY_DAYS)
    is_active = models.BooleanField("在售", default=True)

    class Meta:
        ordering = ["-year", "kind", "id"]
        verbose_name = verbose_name_plural = "商品"
        permissions = [("set_price", "可设置商品价格与有效期")]
        constraints = [
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=models.Q(validity_days__gt=0), name="product_validity_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="annual", course__isnull=True)
                    | models.Q(kind="single", course__isnull=False)
                ),
                name="product_kind_matches_course",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def price_yuan(self):
        return fen_to_yuan(self.price_fen)
