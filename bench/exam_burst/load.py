"""Load generator (own process, asyncio streams, keep-alive): every learner submits its paper
once; the submissions are spread over SECONDS. Writes latencies and statuses.

usage: load.py PORT SECONDS CONNECTIONS learners.json out.json [baseline]

baseline: instead, for SECONDS, each connection posts the same signed-in form (its learners'
cookies, CSRF token and answers) to the trivial view /bench/hello/ as fast as it is answered:
what the same server costs for a signed-in POST of the same size that does no work."""

import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import exchange  # noqa: E402


async def conn(port, jobs, t0, spacing, lat, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for idx, lr in jobs:
        wait = t0 + idx * spacing - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        req = _post(lr, f"/exams/attempt/{lr['attempt']}/submit/")
        t = time.perf_counter()
        status, payload = await exchange(reader, writer, req)
        lat.append(time.perf_counter() - t)
        statuses[str(lr["attempt"])] = status
        if status != 302 and len([s for s in statuses.values() if s != 302]) < 3:
            print("error", status, payload[:300], file=sys.stderr)
    writer.close()


def _post(lr, path):
    body = urlencode(
        [(f"q{pos}", v) for pos, vals in lr["answers"].items() for v in vals]
        + [("csrfmiddlewaretoken", lr["csrf"])]
    )
    return (
        f"POST {path} HTTP/1.1\r\nHost: b\r\n"
        f"Cookie: sessionid={lr['sid']}; csrftoken={lr['csrf']}\r\nReferer: http://b/\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


async def baseline_conn(port, learners, deadline, lat, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    reqs = [_post(lr, "/bench/hello/") for lr in learners]
    i = 0
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        status, payload = await exchange(reader, writer, reqs[i % len(reqs)])
        lat.append(time.perf_counter() - t)
        statuses[status] = statuses.get(status, 0) + 1
        if status != 200 and statuses[status] < 3:
            print("baseline error", status, payload[:300], file=sys.stderr)
        i += 1
    writer.close()


async def baseline(port, seconds, conns, learners, out):
    lat, statuses = [], {}
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(
        *(baseline_conn(port, learners[c::conns], t0 + seconds, lat, statuses) for c in range(conns))
    )
    elapsed = time.perf_counter() - t0
    lat.sort()
    json.dump(
        {
            "elapsed": elapsed,
            "requests": len(lat),
            "errors": sum(n for s, n in statuses.items() if s != 200),
            "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "client_cpu": time.process_time() - cpu0,
        },
        open(out, "w"),
    )


async def main():
    port, seconds, conns = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    learners = json.load(open(sys.argv[4]))
    if sys.argv[6:] == ["baseline"]:
        return await baseline(port, seconds, conns, learners, sys.argv[5])
    jobs = list(enumerate(learners))
    spacing = seconds / max(1, len(jobs))
    lat, statuses = [], {}
    t0 = time.perf_counter()
    await asyncio.gather(*(conn(port, jobs[c::conns], t0, spacing, lat, statuses) for c in range(conns)))
    elapsed = time.perf_counter() - t0
    lat.sort()
    json.dump(
        {
            "elapsed": elapsed,
            "statuses": statuses,
            "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "max_ms": lat[-1] * 1000,
        },
        open(sys.argv[5], "w"),
    )


if __name__ == "__main__":
    asyncio.run(main())
