"""A question thread's status and its moves (rules R13 在线交互)."""

from django.db import models


class ThreadStatus(models.TextChoices):
    WAITING = "waiting", "待回复"
    ANSWERED = "answered", "已回复"
    CLOSED = "closed", "已关闭"


class ThreadEvent(models.TextChoices):
    FOLLOW_UP = "follow_up", "学员追问"
    ANSWER = "answer", "客服回复"
    CLOSE = "close", "关闭"


# (status, event) -> the status after it. A move not listed is refused.
TRANSITIONS = {
    (ThreadStatus.WAITING, ThreadEvent.FOLLOW_UP): ThreadStatus.WAITING,
    (ThreadStatus.ANSWERED, ThreadEvent.FOLLOW_UP): ThreadStatus.WAITING,
    (ThreadStatus.WAITING, ThreadEvent.ANSWER): ThreadStatus.ANSWERED,
    (ThreadStatus.ANSWERED, ThreadEvent.ANSWER): ThreadStatus.ANSWERED,
    (ThreadStatus.WAITING, ThreadEvent.CLOSE): ThreadStatus.CLOSED,
    (ThreadStatus.ANSWERED, ThreadEvent.CLOSE): ThreadStatus.CLOSED,
}
