"""Reads of the credit ledger: a learner's years (constant query count), the public query, and
what the AIS reporting reads (records to report, revocations)."""
from collections import defaultdict

from django.db.models import Sum

from cpe.catalog.models import TrainingYear

from . import policy
from .models import Certificate, CertificateKind, CreditRecord, RecordStatus


def year_status_for(user, year) -> policy.YearStatus:
    """The year's status from the learner's active records (one query)."""
    sums = dict(CreditRecord.objects.filter(user=user, year=year, status=RecordStatus.ACTIVE)
                .values_list("category").annotate(h=Sum("hours")).values_list("category", "h"))
    return policy.year_status(required_hours=year.required_hours, professional_min_hours=year.professional_min_hours,
                              credits_per_hour=year.credits_per_hour,
                              professional_hours=sums.get(policy.PROFESSIONAL) or 0,
                              public_hours=sums.get(policy.PUBLIC) or 0)


def year_active_records(user_id, year) -> list[tuple[int, str, int]]:
    """(course_id, category, hours) of the learner's active records in the year (one query;
    a handful of rows: one per course passed that year)."""
    return list(CreditRecord.objects.filter(user_id=user_id, year=year, status=RecordStatus.ACTIVE)
                .values_list("course_id", "category", "hours"))


def year_status_of(year, active: list[tuple[int, str, int]]) -> policy.YearStatus:
    """The year's status from rows of year_active_records (no query)."""
    return policy.year_status(
        required_hours=year.required_hours, professional_min_hours=year.professional_min_hours,
        credits_per_hour=year.credits_per_hour,
        professional_hours=sum(h for _, cat, h in active if cat == policy.PROFESSIONAL),
        public_hours=sum(h for _, cat, h in active if cat == policy.PUBLIC))


class YearSummary:
    """One training year of one learner: its rule, status, records and certificates."""

    def __init__(self, year, records, certificates):
        self.year = year
        self.records = records                     # all, newest first (active and revoked)
        self.active = [r for r in records if r.status == RecordStatus.ACTIVE]
        prof = sum(r.hours for r in self.active if r.category == policy.PROFESSIONAL)
        pub = sum(r.hours for r in self.active if r.category == policy.PUBLIC)
        self.status = policy.year_status(required_hours=year.required_hours,
                                         professional_min_hours=year.professional_min_hours,
                                         credits_per_hour=year.credits_per_hour,
                                         professional_hours=prof, public_hours=pub)
        self.certificates = certificates
        self.year_certificate = next((c for c in certificates if c.kind == CertificateKind.YEAR and c.is_valid), None)
        by_record = {c.record_id: c for c in certificates if c.kind == CertificateKind.COURSE}
        for r in records:
            r.cert = by_record.get(r.pk)

    @property
    def planner_line(self):
        return policy.planner_line(self.status)

    @property
    def chart(self):
        """Bar geometry for the inline SVG (widths in % of the requirement, capped at 100)."""
        s = self.status
        req = max(1, s.required_hours)
        return {
            "prof_pct": min(100, 100 * s.professional_hours // req),
            "pub_pct": min(100 - min(100, 100 * s.professional_hours // req), 100 * s.public_hours // req),
            "prof_min_pct": min(100, 100 * s.professional_min_hours // req),
        }


def year_summaries(user, years=()) -> list[YearSummary]:
    """The learner's years: those given (e.g. the years of their enrolments, already loaded)
    plus those with records, newest first. Three queries however many records exist."""
    records = list(CreditRecord.objects.filter(user=user).select_related("year").order_by("-passed_at"))
    certs = list(Certificate.objects.filter(user=user).order_by("-issued_at"))
    by_year = {y.pk: y for y in years}
    for r in records:
        by_year.setdefault(r.year_id, r.year)
    missing = {c.year_id for c in certs} - set(by_year)
    if missing:
        for y in TrainingYear.objects.filter(pk__in=missing):
            by_year[y.pk] = y
    recs, cs = defaultdict(list), defaultdict(list)
    for r in records:
        recs[r.year_id].append(r)
    for c in certs:
        cs[c.year_id].append(c)
    return [YearSummary(y, recs[y.pk], cs[y.pk]) for y in sorted(by_year.values(), key=lambda y: -y.year)]


def year_complete(user, year) -> bool:
    return year_status_for(user, year).complete


def certificate_by_number(number: str):
    number = policy.normalise_number(number)
    if not policy.is_verification_number(number):
        return None
    return Certificate.objects.select_related("year", "record", "user").filter(number=number).first()


def public_query(*, id_number: str, name: str):
    """rules R10: the person's years (hours, completion, certificate numbers) if the ID number AND
    the name match an active account; else None, the same for every kind of miss."""
    import re

    from cpe.accounts.models import User
    from cpe.accounts.policy import normalise_id_number
    from cpe.core.crypto import blind_index

    value = normalise_id_number(id_number or "")
    user = None
    if re.fullmatch(r"\d{17}[\dX]", value):
        user = User.objects.filter(id_number_bidx=blind_index("id_number", value), is_staff=False).first()
    name = (name or "").strip()
    visible = policy.public_query_visible(found=user is not None, name_matches=bool(user and user.name == name),
                                          account_status=getattr(user, "status", ""))
    if not visible:
        return None
    return {"user": user, "years": [y for y in year_summaries(user) if y.records]}


# --- for the AIS reporting (issue "reporting") -------------------------------------------------
def records_to_report(*, since_id: int = 0, limit: int = 500):
    """Active records in ledger order (stable id), with the person, for the AIS report."""
    return (CreditRecord.objects.filter(status=RecordStatus.ACTIVE, pk__gt=since_id).select_related("user", "year")
            .order_by("pk")[:limit])


def revocations(*, since=None, limit: int = 500):
    """Revoked records (the AIS reversals), oldest revocation first."""
    qs = CreditRecord.objects.filter(status=RecordStatus.REVOKED).select_related("user", "year")
    if since is not None:
        qs = qs.filter(revoked_at__gt=since)
    return qs.order_by("revoked_at", "pk")[:limit]


def certificates_of(user):
    return Certificate.objects.filter(user=user).select_related("year").order_by("-issued_at")

