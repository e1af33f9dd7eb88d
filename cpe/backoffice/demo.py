"""Demo data for the embedded default: an agreement, a learner, one staff account per role.
Idempotent: running it again changes nothing that exists."""
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from cpe.accounts.models import User
from cpe.accounts.policy import id_check_char
from cpe.accounts.states import Region
from cpe.agreements.models import AgreementVersion
from cpe.agreements.services import agreement_accept, agreement_publish

from .roles import ROLES
from .services import roles_sync

AGREEMENT_V1 = Path(__file__).resolve().parent.parent / "agreements" / "data" / "agreement_v1.txt"
DEMO_ID_17 = "15010219900307123"
DEMO_LEARNER = {
    "name": "张明", "id_number": DEMO_ID_17 + id_check_char(DEMO_ID_17), "mobile": "13800000001",
    "email": "zhangming@example.com", "employer": "呼和浩特市某会计师事务所", "region": Region.HOHHOT,
}
DEMO_LEARNER_PASSWORD = "xuexi-2026"
STAFF_PASSWORD = "houtai-2026"


@transaction.atomic
def demo_seed() -> list[tuple[str, str, str]]:
    roles_sync()
    now = timezone.now()
    v1 = AgreementVersion.objects.filter(version="1.0").first()
    if v1 is None:
        v1 = agreement_publish(version="1.0", title="用户服务协议与隐私政策",
                               body=AGREEMENT_V1.read_text(), is_minor=False,
                               effective_at=now - timedelta(days=1), at=now - timedelta(days=1))
    _demo_catalog(now)
    from cpe.exams.demo import seed_question_banks

    seed_question_banks()
    from cpe.support.demo import seed_faq

    seed_faq()
    accounts = []
    learner = User.objects.filter(username="demo-learner").first()
    if learner is None:
        learner = User(username="demo-learner", mobile_verified_at=now, email_verified_at=now, **DEMO_LEARNER)
        learner.set_password(DEMO_LEARNER_PASSWORD)
        learner.save()
        agreement_accept(user=learner, version=v1, ip="127.0.0.1", user_agent="demo seed", at=now)
    accounts.append(("学员", f"{DEMO_LEARNER['id_number']} 或 {DEMO_LEARNER['mobile']}", DEMO_LEARNER_PASSWORD))
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
    return accounts


DEMO_COURSES = [
    # code, title, category, hours, teacher, chapters (title, seconds)
    ("2026-P01", "《企业会计准则》重点解读", "professional", 24, "王会计师",
     [("收入准则", 150), ("租赁准则", 150), ("金融工具", 120)]),
    ("2026-P02", "政府会计制度实务", "professional", 24, "李教授", [("预算会计", 120), ("财务会计", 120)]),
    ("2026-P03", "管理会计工具与应用", "professional", 16, "赵博士", [("全面预算", 120), ("成本管理", 120)]),
    ("2026-G01", "会计职业道德与诚信建设", "public", 16, "孙老师", [("职业道德规范", 120)]),
    ("2026-G02", "数字化转型与数据安全", "public", 10, "周老师", [("个人信息保护", 90)]),
]


def _demo_catalog(now):
    from cpe.catalog.models import Chapter, Course, Product, ProductKind, TrainingYear

    year, _ = TrainingYear.objects.get_or_create(year=2026, defaults={
        "required_hours": 90, "credits_per_hour": 1, "professional_min_hours": 60})
    for i, (code, title, category, hours, teacher, chapters) in enumerate(DEMO_COURSES):
        course, created = Course.objects.get_or_create(code=code, defaults={
            "year": year, "title": title, "category": category, "credit_hours": hours, "teacher": teacher,
            "position": i, "description": "演示课程（章节视频由 ffmpeg 测试源生成）。"})
        if created:
            Chapter.objects.bulk_create(Chapter(course=course, position=n + 1, title=t, duration_seconds=sec)
                                        for n, (t, sec) in enumerate(chapters))
    Product.objects.get_or_create(code="2026-ANNUAL", defaults={
        "title": "2026 年度会计人员继续教育课程", "kind": ProductKind.ANNUAL, "year": year, "price_fen": 19800})
    Product.objects.get_or_create(code="2026-G02-SINGLE", defaults={
        "title": "单门课程：数字化转型与数据安全", "kind": ProductKind.SINGLE, "year": year,
        "course": Course.objects.get(code="2026-G02"), "price_fen": 3000})
