"""Demo data for the embedded default: an agreement, the current training year and the one
before it (relative to today in Asia/Shanghai), a learner, one staff account per role.
Idempotent: running it again changes nothing that exists (on a later date it adds that date's
year).

With `history`, the demo learner also has last year's record made through the real services: the
annual course paid on 1 September of last year, every chapter watched and every exam passed, so
the year is complete with its certificate; until 31 March an invoice can still be asked for it."""

from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from cpe.accounts.models import User
from cpe.accounts.policy import id_check_char
from cpe.accounts.second_factor import demo_enrol
from cpe.accounts.states import Region
from cpe.agreements.models import AgreementVersion
from cpe.agreements.services import agreement_accept, agreement_publish
from cpe.catalog.models import Chapter, Course, Product, ProductKind, TrainingYear
from cpe.core.timewin import LOCAL_TZ, local_date, local_midnight
from cpe.exams.demo import seed_question_banks
from cpe.exams.services import attempt_start, attempt_submit
from cpe.learning.services import play_heartbeat, play_start, progress_flush
from cpe.orders.gateways.base import PaymentNotice
from cpe.orders.models import Order
from cpe.orders.services import order_create, payment_confirm
from cpe.support.demo import seed_faq

from .roles import ROLES
from .services import roles_sync

AGREEMENT_V1 = Path(__file__).resolve().parent.parent / "agreements" / "data" / "agreement_v1.txt"
DEMO_ID_17 = "15010219900307123"
DEMO_LEARNER = {
    "name": "张明",
    "id_number": DEMO_ID_17 + id_check_char(DEMO_ID_17),
    "mobile": "13800000001",
    "email": "zhangming@example.com",
    "employer": "呼和浩特市某会计师事务所",
    "region": Region.HOHHOT,
}
DEMO_LEARNER_PASSWORD = "xuexi-demo"
STAFF_PASSWORD = "houtai-demo"


def demo_years(at) -> tuple[int, int]:
    """(last year, this year): the training years the demo offers, by the date in Shanghai."""
    this = local_date(at).year
    return this - 1, this


def annual_code(year: int) -> str:
    return f"{year}-ANNUAL"


def single_code(year: int) -> str:
    return f"{year}-G02-SINGLE"


def course_code(year: int, suffix: str) -> str:
    """The demo course of a year: course_code(year, "P01") is that year's first professional one."""
    return f"{year}-{suffix}"


@transaction.atomic
def demo_seed(*, history: bool = False, at=None) -> list[tuple[str, str, str]]:
    roles_sync()
    now = at or timezone.now()
    v1 = AgreementVersion.objects.filter(version="1.0").first()
    if v1 is None:
        v1 = agreement_publish(
            version="1.0",
            title="用户服务协议与隐私政策",
            body=AGREEMENT_V1.read_text(),
            is_minor=False,
            effective_at=_agreement_since(now),
            at=_agreement_since(now),
        )
    last, this = demo_years(now)
    _demo_catalog(last)
    _demo_catalog(this)

    seed_question_banks()

    seed_faq()
    accounts = []
    learner = User.objects.filter(username="demo-learner").first()
    if learner is None:
        # Registered when the demo agreement took effect, before last year's record.
        joined = v1.effective_at
        learner = User(
            username="demo-learner",
            mobile_verified_at=joined,
            email_verified_at=joined,
            date_joined=joined,
            **DEMO_LEARNER,
        )
        learner.set_password(DEMO_LEARNER_PASSWORD)
        learner.save()
        agreement_accept(user=learner, version=v1, ip="127.0.0.1", user_agent="demo seed", at=joined)
    if history:
        _demo_last_year(learner, last, now)
    # Last year is over: its record is shown, its course no longer sold.
    TrainingYear.objects.filter(year=last, is_open=True).update(is_open=False)
    accounts.append(
        ("学员", f"{DEMO_LEARNER['id_number']} 或 {DEMO_LEARNER['mobile']}", DEMO_LEARNER_PASSWORD)
    )
    for key, (group_name, _perms) in ROLES.items():
        user = User.objects.filter(username=key).first()
        if user is None:
            user = User(username=key, name=group_name, is_staff=True)
            user.set_password(STAFF_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=group_name))
        accounts.append((group_name, key, STAFF_PASSWORD))
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", STAFF_PASSWORD, name="超级管理员")
    accounts.append(("超级管理员", "admin", STAFF_PASSWORD))
    demo_staff_second_factors()
    return accounts


def demo_staff_second_factors():
    """Each demo staff account gets a confirmed second factor with a random key (encrypted like
    any other), so that `make run` can print the keys and `manage.py demo_otp_code` the current
    code. {username: factor}."""

    return {
        user.username: demo_enrol(user=user)
        for user in User.objects.filter(is_staff=True, username__in=[*ROLES, "admin"]).order_by("pk")
    }


def _agreement_since(now):
    """The demo agreement is in force from the start of last year, so that last year's demo
    record was made under it."""
    return local_midnight(date(demo_years(now)[0], 1, 1))


DEMO_COURSES = [
    # code suffix, title, category, hours, teacher, chapters (title, seconds)
    (
        "P01",
        "《企业会计准则》重点解读",
        "professional",
        24,
        "王会计师",
        [("收入准则", 150), ("租赁准则", 150), ("金融工具", 120)],
    ),
    ("P02", "政府会计制度实务", "professional", 24, "李教授", [("预算会计", 120), ("财务会计", 120)]),
    ("P03", "管理会计工具与应用", "professional", 16, "赵博士", [("全面预算", 120), ("成本管理", 120)]),
    ("G01", "会计职业道德与诚信建设", "public", 16, "孙老师", [("职业道德规范", 120)]),
    ("G02", "数字化转型与数据安全", "public", 10, "周老师", [("个人信息保护", 90)]),
]


def _demo_catalog(year_number: int):
    year, _ = TrainingYear.objects.get_or_create(
        year=year_number, defaults={"required_hours": 90, "credits_per_hour": 1, "professional_min_hours": 60}
    )
    for i, (suffix, title, category, hours, teacher, chapters) in enumerate(DEMO_COURSES):
        course, created = Course.objects.get_or_create(
            code=course_code(year_number, suffix),
            defaults={
                "year": year,
                "title": title,
                "category": category,
                "credit_hours": hours,
                "teacher": teacher,
                "position": i,
                "description": "演示课程（章节视频由 ffmpeg 测试源生成）。",
            },
        )
        if created:
            Chapter.objects.bulk_create(
                Chapter(course=course, position=n + 1, title=t, duration_seconds=sec)
                for n, (t, sec) in enumerate(chapters)
            )
    Product.objects.get_or_create(
        code=annual_code(year_number),
        defaults={
            "title": f"{year_number} 年度会计人员继续教育课程",
            "kind": ProductKind.ANNUAL,
            "year": year,
            "price_fen": 19800,
        },
    )
    Product.objects.get_or_create(
        code=single_code(year_number),
        defaults={
            "title": "单门课程：数字化转型与数据安全",
            "kind": ProductKind.SINGLE,
            "year": year,
            "course": Course.objects.get(code=course_code(year_number, "G02")),
            "price_fen": 3000,
        },
    )


def _demo_last_year(learner, year: int, now):
    """Last year's record, made through the real services at last year's instants: paid on
    1 September (10:00 Shanghai), each chapter watched and each exam passed in the days after."""

    if Order.objects.filter(user=learner, product__code=annual_code(year)).exists():
        return
    at = datetime.combine(date(year, 9, 1), time(10), tzinfo=LOCAL_TZ)
    order = order_create(user=learner, product_code=annual_code(year), ais_confirmed=True, at=at)
    payment_confirm(
        gateway_name="alipay",
        at=at,
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="DEMO" + order.number,
            amount_fen=order.amount_fen,
            paid_at=at,
        ),
    )
    for course in Course.objects.filter(year__year=year).prefetch_related("chapters").order_by("position"):
        at += timedelta(days=1)
        for chapter in course.chapters.all():
            s = play_start(user=learner, chapter_id=chapter.pk, at=at)
            at += timedelta(seconds=chapter.duration_seconds + 1)
            play_heartbeat(user=learner, key=s.key, seq=1, start=0, position=chapter.duration_seconds, at=at)
        progress_flush(learner.pk)
        at += timedelta(minutes=10)
        attempt = attempt_start(user=learner, course=course, at=at)
        right = {i.position: list(i.question.answer) for i in attempt.items.select_related("question")}
        attempt_submit(user=learner, attempt_id=attempt.pk, answers=right, at=at + timedelta(minutes=20))
