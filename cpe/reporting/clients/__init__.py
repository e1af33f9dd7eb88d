"""The AIS port. `get_client()` returns the adapter named by settings.AIS_CLIENT (a dotted
path, read at call time; default the HTTP adapter of docs/ais-interface.md)."""

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_CLIENT = "cpe.reporting.clients.http.HttpAisClient"


def get_client(**overrides):
    """Overrides go to the client's constructor (e.g. max_retries=1 for a page a person waits on)."""
    return import_string(getattr(settings, "AIS_CLIENT", DEFAULT_CLIENT))(**overrides)
