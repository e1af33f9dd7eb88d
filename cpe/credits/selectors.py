"""Reads of the credit ledger: a learner's years (constant query count), the public query, and
what the AIS reporting reads (records to report, revocations)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet, Sum

from cpe.accounts.models import User
from cpe.accounts.policy import normalise_id_number
from cpe.catalog.models import Course, TrainingYear
from cpe.core.crypto import blind_index
from cpe.core.rows import FixedQuery
from cpe.core.timewin import local_date
from cpe.learning.models import Enrolment
from cpe.learning.selectors import enrolments_for_dashboard

from . import hooks, policy
from .models import Certificate, CertificateKind, CreditRecord, RecordStatus

_year_hours = FixedQuery(  # compiled once per process (cpe.core.rows): the order list, refunds
    lambda user_id, year_id: (
        CreditRecord.objects.filter(user_id=user_id, year_id=year_id, status=RecordStatus.ACTIVE)
        .values_list("category")
        .annotate(h=Sum("hours"))
        .values_list("category", "h")
    ),
    user_id=int,
    year_id=int,
)


def year_status_for(user: User, year: TrainingYear) -> policy.YearStatus:
    """The year's status from the learner's active records (one query)."""
    sums = dict(_year_hours(user_id=user.pk, year_id=year.pk))
    return policy.year_status(
        required_hours=year.required_hours,
        professional_min_hours=year.professional_min_hours,
        credits_per_hour=year.credits_per_hour,
        professional_hours=sums.get(policy.PROFESSIONAL) or 0,
        public_hours=sums.get(policy.PUBLIC) or 0,
    )


def year_active_records(user_id: int, year: TrainingYear) -> list[tuple[int, str, int]]:
    """(course_id, category, hours) of the learner's active records in the year (one query;
    a handful of rows: one per course passed that year)."""
    return list(
        CreditRecord.objects.filter(user_id=user_id, year=year, status=RecordStatus.ACTIVE).values_list(
            "course_id", "category", "hours"
        )
    )


def year_status_of(year: TrainingYear, active: list[tuple[int, str, int]]) -> policy.YearStatus:
    """The year's status from rows of year_active_records (no query)."""
    return policy.year_status(
        required_hours=year.required_hours,
        professional_min_hours=year.professional_min_hours,
        credits_per_hour=year.credits_per_hour,
        professional_hours=sum(h for _, cat, h in active if cat == policy.PROFESSIONAL),
        public_hours=sum(h for _, cat, h in active if cat == policy.PUBLIC),
    )


class YearSummary:
    """One training year of one learner: its rule, status, records and certificates."""

    def __init__(
        self, year: TrainingYear, records: list[CreditRecord], certificates: list[Certificate]
    ) -> None:
        self.year = year
        self.records = records  # all, newest first (active and revoked)
        self.active = [r for r in records if r.status == RecordStatus.ACTIVE]
        prof = sum(r.hours for r in self.active if r.category == policy.PROFESSIONAL)
        pub = sum(r.hours for r in self.active if r.category == policy.PUBLIC)
        self.status = policy.year_status(
            required_hours=year.required_hours,
            professional_min_hours=year.professional_min_hours,
            credits_per_hour=year.credits_per_hour,
            professional_hours=prof,
            public_hours=pub,
        )
        self.certificates = certificates
        self.year_certificate = next(
            (c for c in certificates if c.kind == CertificateKind.YEAR and c.is_valid), None
        )
        by_record = {c.record_id: c for c in certificates if c.kind == CertificateKind.COURSE}
        for r in records:
            r.cert = by_record.get(r.pk)

    @property
    def planner_line(self) -> str:
        return policy.planner_line(self.status)

    @property
    def chart(self) -> dict[str, int]:
        """Bar geometry for the inline SVG (widths in % of the requirement, capped at 100)."""
        s = self.status
        req = max(1, s.required_hours)
        return {
            "prof_pct": min(100, 100 * s.professional_hours // req),
            "pub_pct": min(100 - min(100, 100 * s.professional_hours // req), 100 * s.public_hours // req),
            "prof_min_pct": min(100, 100 * s.professional_min_hours // req),
        }


# The fixed queries of the dashboard and the year page, compiled once per process (cpe.core.rows).
_records_of = FixedQuery(
    lambda user_id: (
        CreditRecord.objects.filter(user_id=user_id).select_related("year").order_by("-passed_at")
    ),
    user_id=int,
)
_certificates_of = FixedQuery(
    lambda user_id: Certificate.objects.filter(user_id=user_id).order_by("-issued_at"), user_id=int
)
_passed_course_ids = FixedQuery(
    lambda user_id: CreditRecord.objects.filter(user_id=user_id, status=RecordStatus.ACTIVE).values_list(
        "course_id", flat=True
    ),
    user_id=int,
)
_published_courses_of_year = FixedQuery(
    lambda year_id: Course.objects.filter(year_id=year_id, is_published=True).order_by("position", "id"),
    year_id=int,
)


def year_summaries(user: User, years: Iterable[TrainingYear] = ()) -> list[YearSummary]:
    """The learner's years: those given (e.g. the years of their enrolments, already loaded)
    plus those with records, newest first. Three queries however many records exist."""
    records = _records_of(user_id=user.pk)
    certs = _certificates_of(user_id=user.pk)
    by_year = {y.pk: y for y in years}
    for r in records:
        by_year.setdefault(r.year_id, r.year)
    missing = {c.year_id for c in certs} - set(by_year)
    if missing:
        for y in TrainingYear.objects.filter(pk__in=missing):
            by_year[y.pk] = y
    recs: defaultdict[int, list[CreditRecord]] = defaultdict(list)
    cs: defaultdict[int, list[Certificate]] = defaultdict(list)
    for r in records:
        recs[r.year_id].append(r)
    for c in certs:
        cs[c.year_id].append(c)
    return [YearSummary(y, recs[y.pk], cs[y.pk]) for y in sorted(by_year.values(), key=lambda y: -y.year)]


def year_complete(user: User, year: TrainingYear) -> bool:
    return year_status_for(user, year).complete


def certificate_by_number(number: str) -> Certificate | None:
    number = policy.normalise_number(number)
    if not policy.is_verification_number(number):
        return None
    return Certificate.objects.select_related("year", "record", "user").filter(number=number).first()


def public_query(*, id_number: str, name: str) -> dict | None:
    """rules R10: the person's years (hours, completion, certificate numbers) if the ID number AND
    the name match an active account; else None, the same for every kind of miss."""
    import re

    value = normalise_id_number(id_number or "")
    user = None
    if re.fullmatch(r"\d{17}[\dX]", value):
        user = User.objects.filter(id_number_bidx=blind_index("id_number", value), is_staff=False).first()
    name = (name or "").strip()
    visible = policy.public_query_visible(
        found=user is not None,
        name_matches=bool(user and user.name == name),
        account_status=getattr(user, "status", ""),
    )
    if not visible or user is None:
        return None
    return {"user": user, "years": [y for y in year_summaries(user) if y.records]}


# --- for the AIS reporting (issue "reporting") -------------------------------------------------
def records_to_report(*, since_id: int = 0, limit: int = 500) -> QuerySet[CreditRecord]:
    """Active records in ledger order (stable id), with the person, for the AIS report."""
    return (
        CreditRecord.objects.filter(status=RecordStatus.ACTIVE, pk__gt=since_id)
        .select_related("user", "year")
        .order_by("pk")[:limit]
    )


def revocations(*, since: datetime | None = None, limit: int = 500) -> QuerySet[CreditRecord]:
    """Revoked records (the AIS reversals), oldest revocation first."""
    qs = CreditRecord.objects.filter(status=RecordStatus.REVOKED).select_related("user", "year")
    if since is not None:
        qs = qs.filter(revoked_at__gt=since)
    return qs.order_by("revoked_at", "pk")[:limit]


class YearPlanView:
    """The dashboard's planner for the current training year: its status, the plan and the
    year row (for links)."""

    def __init__(self, year: TrainingYear, status: policy.YearStatus, plan: policy.YearPlan) -> None:
        self.year, self.status, self.plan = year, status, plan

    @property
    def planner_line(self) -> str:
        return policy.planner_line(self.status)


def year_plan_for(
    *, enrolments: Iterable[Enrolment], summaries: Iterable[YearSummary], at: datetime
) -> YearPlanView | None:
    """The planner of the Shanghai calendar year of `at` (two queries at most: the year row when
    the learner has nothing in it yet, and its published courses)."""

    this_year = local_date(at).year
    summary = next((s for s in summaries if s.year.year == this_year), None)
    year = summary.year if summary else TrainingYear.objects.filter(year=this_year).first()
    if year is None:
        return None
    status = (
        summary.status
        if summary
        else policy.year_status(
            required_hours=year.required_hours,
            professional_min_hours=year.professional_min_hours,
            credits_per_hour=year.credits_per_hour,
            professional_hours=0,
            public_hours=0,
        )
    )
    passed: set[int] = {r.course_id for r in summary.active} if summary else set()
    open_ids = {
        c.pk
        for e in enrolments
        if e.year_id == year.pk and getattr(e, "state", "") == "valid"
        for c in e.courses
    }
    candidates = [
        policy.PlanCourse(c.pk, c.title, c.category, c.credit_hours, c.pk in open_ids)
        for c in _published_courses_of_year(year_id=year.pk)
        if c.pk not in passed
    ]
    return YearPlanView(year, status, policy.year_plan(status, candidates))


def certificate_records(cert: Certificate) -> list[CreditRecord]:
    """The credit records a certificate states: its own record, or for a year certificate the
    year's active records that existed when it was issued."""
    if cert.kind == CertificateKind.COURSE:
        return [cert.record] if cert.record is not None else []
    return list(
        CreditRecord.objects.filter(
            user_id=cert.user_id,
            year_id=cert.year_id,
            status=RecordStatus.ACTIVE,
            created_at__lte=cert.issued_at,
        ).order_by("passed_at")
    )


def certificate_report_facts(
    cert: Certificate, records: list[CreditRecord] | None = None
) -> policy.ReportFacts:
    """What the AIS acknowledged of the hours `cert` states (two queries at most; the second is
    reporting.selectors.acknowledged, registered by ReportingConfig.ready)."""
    records = certificate_records(cert) if records is None else records
    acked = hooks.acknowledged(r.pk for r in records)
    reported = sum(r.hours for r in records if r.pk in acked)
    last = max((t for t in acked.values() if t is not None), default=None)
    return policy.ReportFacts(
        hours=cert.hours,
        reported_hours=reported,
        last_reported_on=local_date(last) if last else None,
        person_status=cert.user.ais_status,
    )


def certificates_of(user: User) -> QuerySet[Certificate]:
    return Certificate.objects.filter(user=user).select_related("year").order_by("-issued_at")


def dashboard_studies(user: User, at: datetime) -> dict:
    """The dashboard's studying part (accounts.hooks.dashboard_studies): the enrolments with
    their passed courses, the years of the enrolments and credit records (hours, progress,
    planner, certificates; a constant number of queries, year_summaries) and what is still
    missing this (Shanghai) year with the courses that fill it."""
    passed = set(_passed_course_ids(user_id=user.pk))
    enrolments = enrolments_for_dashboard(user, at=at, passed=passed)
    credit_years = year_summaries(user, years={e.year_id: e.year for e in enrolments}.values())
    return {
        "enrolments": enrolments,
        "credit_years": credit_years,
        "year_plan": year_plan_for(enrolments=enrolments, summaries=credit_years, at=at),
    }
