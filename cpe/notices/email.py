from django.core.mail.backends.base import BaseEmailBackend


class OutboxEmailBackend(BaseEmailBackend):
    """Embedded default for e-mail: accepted and kept in the outbox table only."""

    is_fake = True

    def send_messages(self, email_messages):
        return len(email_messages)
