"""exams' part of the account's life (cpe.accounts.lifecycle): attempts in the data copy (rules R14).
Attempts stay on closing as records behind the credits (pseudonymous once the user row is
scrubbed); a never-paid account has none. Registered by ExamsConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import Section, display

from .models import Attempt


def _attempts(user):
    return Attempt.objects.filter(user=user).select_related("course").order_by("started_at", "id")


def register() -> None:
    lifecycle.register_section(
        Section(
            "考试记录",
            _attempts,
            order=130,
            models=("exams.Attempt",),
            columns=(
                ("课程", "course.title"),
                ("第几次", "number"),
                ("状态", display("status")),
                ("开始时间", "started_at"),
                ("交卷时间", "submitted_at"),
                ("得分", "score"),
                ("合格分", "pass_mark"),
                ("合格", "passed"),
            ),
        )
    )
    lifecycle.register_message_labels({"exam.graded": "考试成绩通知"})
