"""Every audit event code written anywhere has a Chinese label, and the audit log shows labels
and people, not codes and sign-in names."""

import ast
from pathlib import Path

import pytest
from django.urls import reverse

from cpe.core.audit_labels import EVENT_LABELS

ROOT = Path(__file__).resolve().parents[2]  # cpe/

# Call sites whose code is built at run time, and every code each can write. A new dynamic call
# site fails test_every_emitted_code_has_a_label until it is listed here.
DYNAMIC = {
    ("accounts/services.py", "f\"identity_change.{('approved' if approve else 'rejected')}\""): {
        "identity_change.approved",
        "identity_change.rejected",
    },
    ("accounts/services.py", "f\"account.minor_{('approved' if approve else 'rejected')}\""): {
        "account.minor_approved",
        "account.minor_rejected",
    },
    ("agreements/services.py", "f'agreement.{decision}'"): {"agreement.accepted", "agreement.declined"},
    ("catalog/services.py", "f'{event}_{action}'"): {
        "catalog.product_created",
        "catalog.product_changed",
        "catalog.year_created",
        "catalog.year_changed",
    },
}


def emitted_codes():
    """(file, code expression) of every audit_record call outside the tests, with the codes it
    can write (a string constant, a choice of two, a module-level constant, or DYNAMIC's list)."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        if "tests" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            if not (
                isinstance(node, ast.Call)
                and node.args
                and getattr(func, "id", getattr(func, "attr", None)) == "audit_record"
            ):
                continue
            arg, rel = node.args[0], str(path.relative_to(ROOT))
            if isinstance(arg, ast.Constant):
                codes = {arg.value}
            elif (
                isinstance(arg, ast.IfExp)
                and isinstance(arg.body, ast.Constant)
                and isinstance(arg.orelse, ast.Constant)
            ):
                codes = {arg.body.value, arg.orelse.value}
            elif isinstance(arg, ast.Name) and arg.id in constants:
                codes = {constants[arg.id]}
            else:
                codes = DYNAMIC.get((rel, ast.unparse(arg)))
            out.append((rel, ast.unparse(arg), codes))
    return out


def test_every_emitted_code_has_a_label():
    sites = emitted_codes()
    assert len(sites) > 50  # the scan does find the calls
    unknown = [(f, expr) for f, expr, codes in sites if codes is None]
    assert not unknown, f"audit codes built at run time, not listed in DYNAMIC: {unknown}"
    missing = sorted({c for _, _, codes in sites for c in codes} - set(EVENT_LABELS))
    assert not missing, f"audit codes without a label in cpe/core/audit_labels.py: {missing}"
    # Each dynamic site still exists (a stale entry would hide nothing, but says the list is kept).
    assert {(f, e) for f, e, _ in sites} >= set(DYNAMIC)


def test_labels_are_chinese_and_distinct():
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in EVENT_LABELS.values())
    assert len(set(EVENT_LABELS.values())) == len(EVENT_LABELS)


@pytest.mark.django_db
def test_audit_log_shows_labels_and_people(client, register_learner, django_user_model):
    from django.contrib.auth.models import Group

    from cpe.backoffice.services import roles_sync
    from cpe.core.audit import audit_record

    roles_sync()
    learner = register_learner(name="巴特尔")
    finance = django_user_model.objects.create_user("fin", "x", is_staff=True, name="财务甲")
    audit_record("refund.approved", actor=finance, subject=learner, data={"note": "同意"})
    audit_record("refund.requested", actor=learner, subject=learner)
    auditor = django_user_model.objects.create_user("aud", "x", is_staff=True, name="审计乙")
    auditor.groups.add(Group.objects.get(name="审计人员"))
    client.force_login(auditor)
    url = reverse("admin:core_auditevent_changelist")
    html = client.get(url).content.decode()
    assert "批准退款" in html and "申请退款" in html
    assert "工作人员 财务甲（fin）" in html and "学员 巴特尔" in html
    assert f"learner:{learner.username}" not in html
    # The filter offers labels and still filters by code.
    filtered = client.get(url, {"event_type__exact": "refund.approved"}).content.decode()
    assert "工作人员 财务甲（fin）" in filtered and "学员 巴特尔" not in filtered
