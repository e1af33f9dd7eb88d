from django.db.models import Q

from .models import AgreementAcceptance, AgreementVersion, Decision
from .policy import VersionFacts, displayed_version, required_major


def _facts(at):
    rows = AgreementVersion.objects.filter(effective_at__lte=at).values_list(
        "id", "is_minor", "amends_id", "effective_at")
    return [VersionFacts(*r) for r in rows]


def version_required(at) -> AgreementVersion | None:
    vid = required_major(_facts(at), at)
    return AgreementVersion.objects.get(pk=vid) if vid else None


def version_current(at) -> AgreementVersion | None:
    vid = displayed_version(_facts(at), at)
    return AgreementVersion.objects.get(pk=vid) if vid else None


def version_to_accept(at) -> AgreementVersion | None:
    """The text a learner accepts: the current one (the latest minor edit of the major
    version in force, if there is one)."""
    return version_current(at)


def accepted_major_ids(user) -> set[int]:
    return set(AgreementAcceptance.objects.filter(user=user, decision=Decision.ACCEPTED)
               .values_list("major_version_id", flat=True))


def required_major_id(at) -> int | None:
    return required_major(_facts(at), at)


def user_has_accepted(user, major_id: int) -> bool:
    return AgreementAcceptance.objects.filter(
        Q(user=user) & Q(major_version_id=major_id) & Q(decision=Decision.ACCEPTED)).exists()
