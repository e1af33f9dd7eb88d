"""How personal data is shown on pages, in the admin and in the audit log (rules R14)."""


def mask_id_number(value: str) -> str:
    """150102********123X: area code and the last four characters."""
    if not value:
        return ""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_mobile(value: str) -> str:
    """138****0000."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_email(value: str) -> str:
    """a***@example.com."""
    if not value or "@" not in value:
        return "*" * len(value or "")
    local, domain = value.split("@", 1)
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def mask_name(value: str) -> str:
    """张*、欧阳**: the family name's first character stays."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"
