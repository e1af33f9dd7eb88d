from cpe.core.errors import ApplicationError


class SupportError(ApplicationError):
    """A refused question, follow-up, answer or close; nothing was changed."""
