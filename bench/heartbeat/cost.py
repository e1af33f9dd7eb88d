"""One process, no server: what a heartbeat costs through the WSGI application gunicorn mounts
(bench/heartbeat/wsgi.py: the operations layer, the heartbeat's door, Redis), against the
`floor` route of the same application sent the same bytes (read the body, one Redis script)
and the bare route; `judgement` is `hotpath.beat` called alone (the Redis round trip included, the
door's checks and WSGI not). CPU µs of this process per request and, under callgrind,
instructions.

    .venv/bin/python bench/heartbeat/cost.py [--learners 200] [--repeat 2000] [--cprofile PHASE]
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/hb.%p \\
        .venv/bin/python bench/heartbeat/cost.py --callgrind --repeat 300
    (then: callgrind_annotate /tmp/hb.<pid>.<n> | head; each phase is its own dump)

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_hbcost,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9, flushed).
Each simulated player claims the time that passed on this clock since its previous report
(less 0.2 s), as bench/heartbeat/load.py does, so every report is credited (checked)."""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2000)
    ap.add_argument("--cprofile", default="", help="print a cProfile of this phase (heartbeat, floor)")
    ap.add_argument("--callgrind", action="store_true", help="under callgrind --instr-atstart=no")
    ap.add_argument("--only", default="", help="measure this phase only (one callgrind dump per process)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import bench_env, fresh_stores, wsgi_call

    db_url, redis_url, env = bench_env(
        "cpe_bench_hbcost", 9, prefix="cpebench", settings="bench.heartbeat.settings"
    )
    fresh_stores(db_url, redis_url, env)
    import django

    django.setup()
    from bench.heartbeat.run import seed
    from bench.heartbeat.wsgi import application

    learners = seed(args.learners)
    from cpe.learning import hotpath
    from cpe.learning.services import web_session_hash

    sessions = {lr["key"]: web_session_hash(lr["sid"]) for lr in learners}
    players = {lr["key"]: {"seq": 0, "pos": 0.0, "t": time.perf_counter() - 30.0} for lr in learners}
    short = []

    def request(method, path, lr, body):
        return wsgi_call(
            application,
            method,
            path,
            body,
            HTTP_COOKIE=f"sessionid={lr['sid']}; csrftoken={lr['csrf']}",
            HTTP_X_PLAY_TOKEN=lr["token"],
            CONTENT_TYPE="application/json",
        )

    def call(phase, i):
        lr = learners[i % len(learners)]
        if phase == "bare":
            req, claim = ("GET", "/bare/", b""), None
        elif phase == "floor":
            body = b'{"seq":%d,"start":%.3f,"position":%.3f}' % (i + 1, 1000.0, 1005.0)
            req, claim = ("POST", f"/floor/{lr['key']}/heartbeat", body), None
        else:
            st = players[lr["key"]]
            now = time.perf_counter()
            claim = round(max(0.0, now - st["t"] - 0.2), 3)
            st["seq"] += 1
            body = b'{"seq":%d,"start":%.3f,"position":%.3f}' % (st["seq"], st["pos"], st["pos"] + claim)
            req = ("POST", f"/api/learning/sessions/{lr['key']}/heartbeat", body)
        if phase == "judgement":  # hotpath.beat alone, as the door calls it: no WSGI, no door checks
            r = hotpath.beat(
                key=lr["key"],
                seq=st["seq"],
                start=st["pos"],
                position=st["pos"] + claim,
                ip="127.0.0.1",
                web_session=sessions[lr["key"]],
            )
            st["t"], st["pos"] = now, round(st["pos"] + claim, 3)
            if r.credited < claim - 0.0005:
                short.append(r)
            return
        status, out = request(req[0], req[1], lr, req[2])
        assert status.startswith("200"), (phase, status, out[:200])
        if claim is not None:
            st["t"], st["pos"] = now, round(st["pos"] + claim, 3)
            if json.loads(out)["credited"] < claim - 0.0005:
                short.append(out)

    def cg(*a):
        subprocess.run(["callgrind_control", *a, str(os.getpid())], check=True, capture_output=True)

    phases = ("bare", "floor", "heartbeat", "judgement")
    for phase in phases:  # warm: every learner once (the heartbeat's hints filled)
        for i in range(len(learners)):
            call(phase, i)
    print(f"{'phase':10s} {'cpu_us':>8s} {'median':>8s}")
    for phase in phases:
        if args.only and phase != args.only:
            continue
        if args.callgrind:
            gc.collect()
            cg("-i", "on")
            for i in range(args.repeat):
                call(phase, i)
            cg(f"--dump={phase}")
            cg("-i", "off")
            continue
        times = []
        for i in range(args.repeat):
            t = time.process_time_ns()
            call(phase, i)
            times.append((time.process_time_ns() - t) / 1000)
        print(f"{phase:10s} {sum(times) / len(times):8.1f} {statistics.median(times):8.1f}", flush=True)
        if phase == args.cprofile:
            import cProfile
            import pstats

            pr = cProfile.Profile(time.process_time)
            pr.enable()
            for i in range(args.repeat):
                call(phase, i)
            pr.disable()
            pstats.Stats(pr).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
                int(os.environ.get("N", "40"))
            )
    print(f"reports credited less than claimed: {len(short)}")


if __name__ == "__main__":
    main()
