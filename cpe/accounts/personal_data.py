""" "下载我的个人信息" (rules R14, 个人信息保护法 Art. 45): everything the platform holds about one
learner, as a ZIP of a machine-readable JSON copy and a human-readable HTML page.

Three layers, in this order:
- the sections: what is exported, one `Section` per kind of record, each a read-only query on
  the owning app's models (filtered by the learner, never anyone else) and its columns; each app
  registers its own from its AppConfig.ready() (lifecycle.register_section, in the app's
  account_life.py), so this module knows no other app's tables;
- personal_data_collect / personal_data_build: read the sections into one ordered structure
  (Chinese keys, display values) and render it as JSON + HTML in a ZIP held in memory;
- personal_data_export: the one write — re-check the password, build, append the audit event.

What never goes into the file is policy (policy.PERSONAL_DATA_FORBIDDEN_ATTRS): a column that
names a forbidden attribute fails at import, before any learner could download it.
"""

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from django.template.loader import render_to_string
from django.utils import timezone

from cpe.core.audit import audit_record

from . import lifecycle, policy
from .errors import AccountError
from .lifecycle import Section

JSON_NAME = "个人信息.json"
HTML_NAME = "个人信息.html"
SCHEMA_VERSION = 1


# --- values --------------------------------------------------------------------------------------
_fmt = lifecycle.fmt


def _get(obj, spec: "str | Callable") -> Any:
    if callable(spec):
        return spec(obj)
    for part in spec.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# --- the sections: registered by each app (lifecycle.register_section) -------------------------
def sections() -> list[Section]:
    """The copy's sections in their order, as the apps registered them (their account_life.py)."""
    return lifecycle.sections()


# --- transfers to third parties (rules R14.3), registered by the apps that make them ------------
TRANSFERS_KEY = "向第三方提供的个人信息"
TRANSFER_COLUMNS = ("接收方", "目的", "提供的信息", "时间", "关联记录")


def _transfers(user) -> list[dict]:
    """Every transfer the apps record (lifecycle.register_transfers), oldest first (a stable
    sort: rows of the same second keep the order of registration)."""
    rows = [row for source in lifecycle.transfer_sources() for row in source(user)]
    rows.sort(key=lambda r: r["时间"])
    return rows


# --- reading and rendering ----------------------------------------------------------------------
def personal_data_collect(user, *, at: datetime) -> dict:
    """Everything held about `user`, as {section: rows}; the account is one {label: value}.
    Read-only (the heartbeat's write-behind is flushed first, so progress is current)."""
    lifecycle.export_prepare(user)
    data: dict[str, Any] = {
        "说明": "本文件是您在内蒙古会计人员继续教育平台上的个人信息副本（《个人信息保护法》第四十五条）。",
        "导出时间": _fmt(at),
        "格式版本": SCHEMA_VERSION,
    }
    for section in sections():
        rows = [
            {label: _fmt(_get(obj, spec)) for label, spec in section.columns} for obj in section.rows(user)
        ]
        data[section.key] = (rows[0] if rows else {}) if section.single else rows
    data[TRANSFERS_KEY] = _transfers(user)
    data["不包含的信息"] = list(policy.PERSONAL_DATA_NOT_EXPORTED)
    return data


def personal_data_html(data: dict) -> str:
    """A self-contained page (inline style, no scripts, no links out) with the same content."""
    shown = []
    for section in sections():
        labels = [label for label, _ in section.columns]
        shown.append(
            {
                "title": section.key,
                "single": section.single,
                "labels": labels,
                "note": section.note,
                "rows": data[section.key] if not section.single else None,
                "pairs": list(data[section.key].items()) if section.single else None,
            }
        )
    shown.append(
        {
            "title": TRANSFERS_KEY,
            "single": False,
            "labels": list(TRANSFER_COLUMNS),
            "rows": data[TRANSFERS_KEY],
            "note": "平台仅为各接收方的处理目的向其提供个人信息，每次向会计信息系统提供均有记录。",
        }
    )
    for s in shown:
        if s["rows"] is not None:
            s["cells"] = [[row.get(label, "") for label in s["labels"]] for row in s["rows"]]
    return render_to_string(
        "accounts/personal_data_file.html",
        {"data": data, "sections": shown, "not_exported": data["不包含的信息"]},
    )


def personal_data_build(user, *, at: datetime) -> bytes:
    """The ZIP (in memory): 个人信息.json and 个人信息.html."""
    data = personal_data_collect(user, at=at)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        stamp = timezone.localtime(at).timetuple()[:6]
        for name, text in (
            (JSON_NAME, json.dumps(data, ensure_ascii=False, indent=2)),
            (HTML_NAME, personal_data_html(data)),
        ):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


# --- the service --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonalDataFile:
    filename: str
    ascii_filename: str
    content: bytes


def personal_data_export(
    *, user, password: str, ip: str | None = None, at: datetime | None = None
) -> PersonalDataFile:
    """Re-authenticate, build the file, record the export in the audit log (who, when, IP; no
    personal data in the event). A wrong password raises AccountError and records nothing."""
    at = at or timezone.now()
    if not user.is_active or user.is_staff or not password or not user.check_password(password):
        raise AccountError(
            "wrong_password", "密码不正确，未生成文件。请重新输入您的登录密码。", field="password"
        )
    content = personal_data_build(user, at=at)
    name, ascii_name = policy.personal_data_filenames(at)
    audit_record(
        "account.personal_data_exported",
        actor=user,
        subject=user,
        ip=ip,
        at=at,
        data={"format": "zip", "bytes": len(content)},
    )
    return PersonalDataFile(name, ascii_name, content)
