from cpe.core.errors import ApplicationError


class OrderError(ApplicationError):
    """A refused order, payment or refund action; nothing was changed."""
