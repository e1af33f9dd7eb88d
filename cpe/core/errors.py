"""Errors every service raises: a stable code, a Chinese message for the user, and
optionally the form field the message belongs next to."""


class ApplicationError(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self):
        return self.message
