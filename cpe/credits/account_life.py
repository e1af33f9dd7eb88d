"""credits' part of the account's life (cpe.accounts.lifecycle): credit records and certificates in
the data copy (rules R14); the enrolments closing fact (is the learning of a valid enrolment
finished? — rules R11, policy.closing_refusal); on closing, each certificate keeps only its
masked name (policy.holder_after_closing) and stays verifiable, and credit records stay as the
records reported to the AIS. Registered by CreditsConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display
from cpe.accounts.policy import EnrolmentFacts
from cpe.learning.models import Enrolment, EnrolmentStatus

from .models import Certificate, CreditRecord, RecordStatus
from .policy import holder_after_closing
from .selectors import year_complete


def _credits(user):
    return CreditRecord.objects.filter(user=user).select_related("year").order_by("passed_at", "id")


def _certificates(user):
    return Certificate.objects.filter(user=user).select_related("year").order_by("issued_at", "id")


def _enrolment_facts(user) -> list[EnrolmentFacts]:
    facts = []
    for e in Enrolment.objects.filter(user=user).select_related("product", "year"):
        if e.product.course_id:
            recorded = int(
                CreditRecord.objects.filter(
                    user=user, course_id=e.product.course_id, status=RecordStatus.ACTIVE
                ).exists()
            )
        else:
            recorded = int(year_complete(user, e.year))
        facts.append(
            EnrolmentFacts(
                valid_from=e.valid_from,
                valid_until=e.valid_until,
                closed=e.status == EnrolmentStatus.CLOSED,
                courses_total=1,
                courses_recorded=recorded,
            )
        )
    return facts


def _scrub_certificates(user, at) -> int:
    # A certificate keeps its masked name for verification (policy.holder_after_closing).
    certificates = list(Certificate.objects.filter(user=user).only("pk", "holder_name"))
    for cert in certificates:
        Certificate.objects.filter(pk=cert.pk).update(holder_name=holder_after_closing(cert.holder_name))
    return len(certificates)


def _archive(user) -> dict:
    return {
        "certificates": [
            {"number": c.number, "holder_name": c.holder_name}
            for c in Certificate.objects.filter(user=user).order_by("id")
        ]
    }


CREDIT_COLUMNS = (
    ("记录编号", "uid"),
    ("培训年度", "year.year"),
    ("课程编号", "course_code"),
    ("课程名称", "course_title"),
    ("类别", display("category")),
    ("学时", "hours"),
    ("学分", "credits"),
    ("考试成绩", "score"),
    ("考试合格时间", "passed_at"),
    ("状态", display("status")),
    ("撤销时间", "revoked_at"),
    ("撤销原因", "revoke_reason"),
)
CERTIFICATE_COLUMNS = (
    ("证书编号（查验编号）", "number"),
    ("类型", display("kind")),
    ("培训年度", "year.year"),
    ("姓名", "holder_name"),
    ("内容", "title"),
    ("学时", "hours"),
    ("学分", "credits"),
    ("签发时间", "issued_at"),
    ("状态", display("status")),
    ("撤销时间", "revoked_at"),
    ("撤销原因", "revoke_reason"),
)


def register() -> None:
    lifecycle.register_section(
        Section("学时记录", _credits, order=140, models=("credits.CreditRecord",), columns=CREDIT_COLUMNS)
    )
    lifecycle.register_section(
        Section(
            "证书", _certificates, order=150, models=("credits.Certificate",), columns=CERTIFICATE_COLUMNS
        )
    )
    lifecycle.register_closing_fact("enrolments", _enrolment_facts)
    lifecycle.register_closing_step(
        ClosingStep(
            "certificates",
            order=70,
            models=("credits.Certificate",),
            reason="kept verifiable with the masked name only (the full name sealed into the archive); "
            "a never-paid account has none",
            scrub=_scrub_certificates,
            archive=_archive,
        )
    )
    lifecycle.register_message_labels(
        {"credit.recorded": "学时记载通知", "certificate.issued": "证书签发通知"}
    )
