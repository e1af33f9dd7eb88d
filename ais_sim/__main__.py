"""python -m ais_sim [--host 127.0.0.1] [--port 8900] [--db var/ais_sim.sqlite3] [--seed demo|FILE.json]...

Port: --port, else the AIS_PORT environment variable, else 8900 (0 picks a free port).
Provider code and secret: --provider-code / --secret, else AIS_PROVIDER_CODE / AIS_SECRET, else
the demo pair (CPE-DEMO and the demo secret in .env.example).
The first line on stdout is "AIS simulator listening on http://HOST:PORT" (tests read it).
"""

import argparse
import ipaddress
import json
import os
import signal
import sys
from pathlib import Path

from .server import DEMO_PROVIDER_CODE, DEMO_SECRET, SimConfig, make_server, seed_persons
from .store import Store

DEMO_SEED = Path(__file__).resolve().parent / "demo_persons.json"


def load_seed(spec: str) -> list[dict]:
    path = DEMO_SEED if spec == "demo" else Path(spec)
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["persons"] if isinstance(data, dict) else data


def _stop(signum, frame):
    raise KeyboardInterrupt


def _dev_clock() -> None:
    """`make run CLOCK=…` moves every process's wall clock by one offset (CPE_DEV_CLOCK_OFFSET,
    seconds): the simulator's too, or the platform's signed timestamps would look stale."""
    offset = os.environ.get("CPE_DEV_CLOCK_OFFSET")
    if offset:
        import time

        import time_machine

        time_machine.travel(time.time() + float(offset), tick=True).start()


def main(argv=None) -> int:
    _dev_clock()
    parser = argparse.ArgumentParser(
        prog="python -m ais_sim", description="AIS simulator (docs/ais-interface.md)"
    )
    parser.add_argument("--host", default=os.environ.get("AIS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=None, help="default: $AIS_PORT or 8900; 0 = a free port")
    parser.add_argument(
        "--db",
        default=os.environ.get("AIS_SIM_DB", "var/ais_sim.sqlite3"),
        help="SQLite file of the simulator's own state (':memory:' for none)",
    )
    parser.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="demo|FILE.json",
        help="persons to add (upsert) at start; repeatable",
    )
    parser.add_argument("--reset", action="store_true", help="empty the store before seeding")
    parser.add_argument("--provider-code", default=os.environ.get("AIS_PROVIDER_CODE", DEMO_PROVIDER_CODE))
    parser.add_argument("--secret", default=os.environ.get("AIS_SECRET", DEMO_SECRET))
    parser.add_argument("--window", type=int, default=300, help="timestamp tolerance in seconds")
    parser.add_argument("--no-admin", action="store_true", help="disable the /_sim/ endpoints")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    port = args.port if args.port is not None else int(os.environ.get("AIS_PORT") or 8900)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not args.allow_remote:
        parser.error(
            f"--host {args.host} is not loopback; the simulator is for this machine only "
            "(pass --allow-remote to insist)"
        )
    if args.db != ":memory:":
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    store = Store(args.db)
    if args.reset:
        store.reset()
    for spec in args.seed:
        seeded = seed_persons(store, load_seed(spec))
        print(f"seeded {len(seeded)} person(s) from {spec}", file=sys.stderr)
    config = SimConfig(
        provider_code=args.provider_code,
        secret=args.secret,
        window=args.window,
        admin=not args.no_admin,
        verbose=args.verbose,
    )
    server = make_server(args.host, port, config=config, store=store)
    host, real_port = server.server_address[:2]
    print(f"AIS simulator listening on http://{host}:{real_port}", flush=True)
    print(f"provider code {config.provider_code}; store {args.db}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
