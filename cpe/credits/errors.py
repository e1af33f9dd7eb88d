from cpe.core.errors import ApplicationError


class CreditError(ApplicationError):
    """A refused credit or certificate action; nothing changed."""
