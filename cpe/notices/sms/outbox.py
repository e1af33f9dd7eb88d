from .base import BaseSmsBackend


class OutboxSmsBackend(BaseSmsBackend):
    """Embedded default: nothing leaves the machine; the message row itself is the outbox
    that /dev/outbox/ shows when DEBUG is on."""

    is_fake = True

    def send(self, mobile: str, text: str, *, event: str = "", params: dict | None = None) -> str:
        return "outbox"
