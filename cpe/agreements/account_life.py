"""agreements' part of the account's life (cpe.accounts.lifecycle): the learner's acceptances in
the data copy (rules R14) and on closing (rules R11; docs/decisions/0010-closing.md): deleted with
a never-paid account, kept without IP and browser, and sealed into the archive, for a paid one.
Registered by AgreementsConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display

from .models import AgreementAcceptance


def _iso(t):
    return t.isoformat() if t else None


def _acceptances(user):
    return AgreementAcceptance.objects.filter(user=user).select_related("version").order_by("at", "id")


def _delete(user) -> int:
    # QuerySet.delete, not the model's delete(), which refuses single deletions by design.
    return AgreementAcceptance.objects.filter(user=user).delete()[0]


def _scrub(user, at) -> int:
    # Acceptances refuse model saves (immutable records); erasing their personal fields on
    # closing is the one sanctioned change, done by QuerySet.update.
    return AgreementAcceptance.objects.filter(user=user).update(ip=None, user_agent="")


def _archive(user) -> dict:
    return {
        "agreement_acceptances": [
            {
                "version": a.version_id,
                "decision": a.decision,
                "at": _iso(a.at),
                "ip": a.ip,
                "user_agent": a.user_agent,
            }
            for a in AgreementAcceptance.objects.filter(user=user).order_by("id")
        ]
    }


COLUMNS = (
    ("协议版本", "version.version"),
    ("协议标题", "version.title"),
    ("决定", display("decision")),
    ("时间", "at"),
    ("IP", "ip"),
    ("浏览器", "user_agent"),
)


def register() -> None:
    lifecycle.register_section(
        Section(
            "协议同意记录",
            _acceptances,
            order=30,
            models=("agreements.AgreementAcceptance",),
            columns=COLUMNS,
        )
    )
    lifecycle.register_closing_step(
        ClosingStep(
            "agreement_acceptances",
            order=80,
            models=("agreements.AgreementAcceptance",),
            reason="never paid: deleted (the consent ends with the account); paid: kept without IP and "
            "browser as evidence of the contract the payment was made under (电子商务法 Art. 31), "
            "sealed with them into the archive",
            delete=_delete,
            scrub=_scrub,
            archive=_archive,
        )
    )
