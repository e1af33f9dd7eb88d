"""The load generator (own process, asyncio streams, keep-alive HTTP/1.1): each connection
cycles through its share of simulated learners and, per learner, through the phase's paths.

usage: load.py PORT PHASE SECONDS CONNECTIONS learners.json out.json
PHASE: django_anon (GET /bench/hello/, no cookie) | django (the same, signed in) |
       floor (GET /bench/page-floor/, signed in) | pages (each learner's real pages in turn, signed in)
Every answer must be 200 (a redirect is an error here: a signed-in learner with a valid
session and an accepted agreement is never sent elsewhere by these pages)."""

import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import exchange  # noqa: E402


async def run_conn(port, phase, deadline, learners, lat, errors, per_page):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    reqs = []
    for lr in learners:
        head = f"Host: b\r\nCookie: sessionid={lr['sid']}; csrftoken={lr['csrf']}\r\n\r\n"
        if phase == "django_anon":
            reqs.append(("hello", b"GET /bench/hello/ HTTP/1.1\r\nHost: b\r\n\r\n"))
        elif phase == "django":
            reqs.append(("hello", f"GET /bench/hello/ HTTP/1.1\r\n{head}".encode()))
        elif phase == "floor":
            reqs.append(("floor", f"GET /bench/page-floor/ HTTP/1.1\r\n{head}".encode()))
        else:
            reqs.extend((name, f"GET {path} HTTP/1.1\r\n{head}".encode()) for name, path in lr["pages"])
    random.Random(learners[0]["sid"]).shuffle(reqs)  # every page from the start, in no fixed order
    i = 0
    while time.perf_counter() < deadline:
        name, req = reqs[i % len(reqs)]
        i += 1
        t0 = time.perf_counter()
        status, payload = await exchange(reader, writer, req)
        dt = time.perf_counter() - t0
        lat.append(dt)
        per_page.setdefault(name, []).append(dt)
        if status != 200:
            errors.append(status)
            if len(errors) < 4:
                print("error", name, status, payload[:200], file=sys.stderr)
    writer.close()


async def main():
    port, phase, seconds, conns = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    learners = json.load(open(sys.argv[5]))
    lat, errors, per_page = [], [], {}
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(
        *(run_conn(port, phase, deadline, learners[c::conns], lat, errors, per_page) for c in range(conns))
    )
    elapsed = time.perf_counter() - start
    lat.sort()

    def p99(xs):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000 if xs else 0

    json.dump(
        {
            "phase": phase,
            "requests": len(lat),
            "elapsed": elapsed,
            "errors": len(errors),
            "p99_ms": p99(lat),
            "client_cpu": time.process_time() - cpu0,
            "pages": {
                k: {"n": len(v), "p99_ms": p99(v), "mean_ms": sum(v) / len(v) * 1000}
                for k, v in per_page.items()
            },
        },
        open(sys.argv[6], "w"),
    )


asyncio.run(main())
