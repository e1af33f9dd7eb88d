from cpe.core.errors import ApplicationError


class ModerationError(ApplicationError):
    """A refused termination or ban: a stable code and a Chinese message; nothing changed."""
