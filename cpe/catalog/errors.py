from cpe.core.errors import ApplicationError


class CatalogError(ApplicationError):
    """A refused change to a product or a training year; nothing was changed."""
