from cpe.core.errors import ApplicationError


class AccountError(ApplicationError):
    """A refused account action; nothing was changed."""
