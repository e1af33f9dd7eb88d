"""Load generator (own process, asyncio streams, keep-alive): every learner submits its paper
once; the submissions are spread over SECONDS. Writes latencies and statuses.

usage: load.py PORT SECONDS CONNECTIONS learners.json out.json"""
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
        body = urlencode([(f"q{pos}", v) for pos, vals in lr["answers"].items() for v in vals]
                         + [("csrfmiddlewaretoken", lr["csrf"])])
        req = (f"POST /exams/attempt/{lr['attempt']}/submit/ HTTP/1.1\r\nHost: b\r\n"
               f"Cookie: sessionid={lr['sid']}; csrftoken={lr['csrf']}\r\nReferer: http://b/\r\n"
               f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()
        t = time.perf_counter()
        status, payload = await exchange(reader, writer, req)
        lat.append(time.perf_counter() - t)
        statuses[str(lr["attempt"])] = status
        if status != 302 and len([s for s in statuses.values() if s != 302]) < 3:
            print("error", status, payload[:300], file=sys.stderr)
    writer.close()


async def main():
    port, seconds, conns = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    learners = json.load(open(sys.argv[4]))
    jobs = list(enumerate(learners))
    spacing = seconds / max(1, len(jobs))
    lat, statuses = [], {}
    t0 = time.perf_counter()
    await asyncio.gather(*(conn(port, jobs[c::conns], t0, spacing, lat, statuses) for c in range(conns)))
    elapsed = time.perf_counter() - t0
    lat.sort()
    json.dump({"elapsed": elapsed, "statuses": statuses, "p50_ms": lat[len(lat) // 2] * 1000,
               "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, "max_ms": lat[-1] * 1000},
              open(sys.argv[5], "w"))


asyncio.run(main())
