"""The SMS port: one method. Chosen by settings.SMS_BACKEND at call time."""


class SmsError(Exception):
    """A send that may succeed when retried."""


class BaseSmsBackend:
    is_fake = False

    def send(self, mobile: str, text: str) -> str:
        """Send one text; return the provider's message id."""
        raise NotImplementedError
