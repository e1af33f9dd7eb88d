from cpe.core.errors import ApplicationError


class ExamError(ApplicationError):
    """A refused exam action; nothing changed."""
