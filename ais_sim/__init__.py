"""AIS simulator: a small stand-alone HTTP server that speaks the contract of
the AIS interface the platform defines for the regional accounting personnel information
system (docs/ais-interface.md). Standard library only: http.server + sqlite3. Not a Django app.

Run: python -m ais_sim --host 127.0.0.1 --port 8900 --db var/ais_sim.sqlite3 --seed demo
See ais_sim/README.md for the admin endpoints (seeding persons, injecting faults).
"""

from .server import SimConfig, make_server, serve_in_thread  # noqa: F401
from .store import Store  # noqa: F401

__all__ = ["SimConfig", "Store", "make_server", "serve_in_thread"]
