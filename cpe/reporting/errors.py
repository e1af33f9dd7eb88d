from cpe.core.errors import ApplicationError


class ReportingError(ApplicationError):
    """A refused reporting action; nothing was changed."""
