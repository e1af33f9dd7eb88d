"""The SMS port: one method. Chosen by settings.SMS_BACKEND at call time."""


class SmsError(Exception):
    """A send that may succeed when retried."""


class BaseSmsBackend:
    is_fake = False

    def send(self, mobile: str, text: str, *, event: str = "", params: dict | None = None) -> str:
        """Send one text; return the provider's message id. `event` and `params` let a
        template-based provider pick the approved template and fill it (cpe.notices.sms.aliyun)."""
        raise NotImplementedError
