from django.conf import settings
from django.db import models

from . import policy


class QuestionType(models.TextChoices):
    SINGLE = policy.SINGLE, "单选题"
    MULTIPLE = policy.MULTIPLE, "多选题"
    JUDGE = policy.JUDGE, "判断题"


class QuestionPool(models.TextChoices):
    PRACTICE = policy.POOL_PRACTICE, policy.POOL_LABELS[policy.POOL_PRACTICE]
    EXAM = policy.POOL_EXAM, policy.POOL_LABELS[policy.POOL_EXAM]


class Question(models.Model):
    """One question of a course's bank. `options` are the texts in their original order;
    `answer` the indexes of the right ones (true/false: 0 正确, 1 错误). `pool` says where it is
    used: practice (chapter exercises and mock exams, answer shown at once) or exam (papers
    only, answer never shown); see exams.policy.paper_pool / practice_pool. A chapter, when set
    on a practice question, puts it in that chapter's exercises (章节练习)."""

    course = models.ForeignKey(
        "catalog.Course", on_delete=models.CASCADE, related_name="questions", verbose_name="课程"
    )
    chapter = models.ForeignKey(
        "catalog.Chapter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="questions",
        verbose_name="章节",
    )
    qtype = models.CharField("题型", max_length=8, choices=QuestionType.choices)
    pool = models.CharField(
        "题库",
        max_length=8,
        choices=QuestionPool.choices,
        default=policy.DEFAULT_POOL,
        help_text="练习题用于章节练习和模考题，作答后显示答案；考试题只用于正式考试，从不向学员显示答案。",
    )
    stem = models.TextField("题干")
    options = models.JSONField("选项", default=list)
    answer = models.JSONField("答案（选项序号）", default=list)
    explanation = models.TextField("解析", blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        ordering = ["course", "qtype", "id"]
        verbose_name = verbose_name_plural = "试题"
        indexes = [
            models.Index(fields=["course", "pool", "qtype", "is_active"], name="exams_q_course_pool_type")
        ]

    def __str__(self):
        return f"[{self.get_qtype_display()}] {self.stem[:40]}"

    @property
    def answer_letters(self) -> str:
        return (
            "".join("ABCDEFGH"[i] for i in self.answer)
            if self.qtype != policy.JUDGE
            else "、".join(policy.JUDGE_OPTIONS[i] for i in self.answer)
        )


class AttemptStatus(models.TextChoices):
    OPEN = "open", "作答中"
    GRADED = "graded", "已交卷"


class Attempt(models.Model):
    """One sitting of a course's exam: a paper drawn at start, answers saved as the learner
    goes, graded once at submission (or at the deadline with what was saved)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exam_attempts", verbose_name="学员"
    )
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, related_name="attempts", verbose_name="课程"
    )
    enrolment = models.ForeignKey(
        "learning.Enrolment", on_delete=models.PROTECT, related_name="exam_attempts", verbose_name="开通记录"
    )
    number = models.PositiveSmallIntegerField("第几次")
    status = models.CharField("状态", max_length=8, choices=AttemptStatus.choices, default=AttemptStatus.OPEN)
    started_at = models.DateTimeField("开始时间")
    deadline = models.DateTimeField("截止时间")
    submitted_at = models.DateTimeField("交卷时间", null=True, blank=True)
    auto_submitted = models.BooleanField("超时自动交卷", default=False)
    score = models.PositiveSmallIntegerField("得分", null=True, blank=True)
    pass_mark = models.PositiveSmallIntegerField("合格分")
    passed = models.BooleanField("合格", null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = verbose_name_plural = "考试记录"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course"],
                condition=models.Q(status="open"),
                name="one_open_attempt_per_course",
            ),
            models.UniqueConstraint(fields=["user", "course", "number"], name="attempt_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(score__isnull=False),
                name="graded_attempt_has_score",
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.course} · 第 {self.number} 次"

    @property
    def is_open(self):
        return self.status == AttemptStatus.OPEN


class AttemptItem(models.Model):
    """One question of a paper: its points, the shuffled order its options are shown in, the
    learner's saved answer (original option indexes) and, once graded, what it earned."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField("题号")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    qtype = models.CharField(max_length=8, choices=QuestionType.choices)
    points = models.PositiveSmallIntegerField("分值")
    option_order = models.JSONField(default=list)
    answer = models.JSONField(default=list, blank=True)
    saved_at = models.DateTimeField(null=True, blank=True)
    earned = models.PositiveSmallIntegerField(null=True, blank=True)

    # Not columns: set by services._locked_items for grading (the question's right option
    # indexes, and how many options it has).
    correct: list[int]
    n_options: int

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "position"], name="attempt_item_position_unique")
        ]
