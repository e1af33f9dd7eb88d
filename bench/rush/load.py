"""The rush's load generator (own process, asyncio streams, keep-alive connections from a pool):
N simulated learners for SECONDS, each on its own schedule (open loop: a slow server does not
slow the learners down, their requests queue):
- a heartbeat every 30 s while watching (the player's report: X-Play-Token, claims the time that
  passed on this clock since its previous report, less 0.2 s);
- a page every 60 s (dashboard, catalog, course page, year page, order list, in turn);
- an exam submission, once, for the learners given an open attempt;
- the purchase page of a course, once, for the learners marked as buyers.
Latency is measured from when the request was due (a request waiting for a free connection
counts). Writes latencies per kind, errors, and per play session the credit the server
acknowledged (for the check after the final flush).

usage: load.py PORT N SECONDS CONNECTIONS learners.json out.json players.json"""

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import exchange  # noqa: E402

HEARTBEAT_EVERY, PAGE_EVERY = 30.0, 60.0


class Pool:
    def __init__(self, port, size):
        self.port, self.free, self.sem = port, [], asyncio.Semaphore(size)
        self.resent = 0  # requests sent again after a kept-alive connection closed unanswered

    async def request(self, raw):
        async with self.sem:
            reused = bool(self.free)
            conn = self.free.pop() if reused else await asyncio.open_connection("127.0.0.1", self.port)
            try:
                out = await exchange(*conn, raw)
            except asyncio.IncompleteReadError as exc:
                conn[1].close()
                if not (reused and not exc.partial):
                    raise
                # A kept-alive connection the server closed for idleness as this request went
                # out: no byte of answer came, so nothing was done; a browser sends it again.
                self.resent += 1
                conn = await asyncio.open_connection("127.0.0.1", self.port)
                out = await exchange(*conn, raw)
            except Exception:
                conn[1].close()
                raise
            self.free.append(conn)
            return out


async def main():
    port, n, seconds, size = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    learners = json.load(open(sys.argv[5]))[:n]
    players = Path(sys.argv[7])
    carried = json.loads(players.read_text()) if players.exists() else {"state": {}, "earned": {}}
    state, earned = carried["state"], carried["earned"]
    once = carried.setdefault("once", {})  # exam submissions and purchase pages already sent (one each)
    pool = Pool(port, size)
    lat, errors = {}, {}
    rng = random.Random(n)
    t0 = time.perf_counter()
    end = t0 + seconds

    async def send(kind, due, raw, expect):
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            status, body = await pool.request(raw)
        except Exception as exc:  # noqa: BLE001 - a refused or dropped connection is an error
            status, body = 0, repr(exc).encode()
        lat.setdefault(kind, []).append(time.perf_counter() - due)
        if status != expect:
            errors[kind] = errors.get(kind, 0) + 1
            if sum(errors.values()) < 4:
                print("error", kind, status, body[:200], file=sys.stderr)
            return None
        return body

    async def exam(attempt, due, raw):
        once[f"exam:{attempt}"] = (await send("exam", due, raw, 302)) is not None  # answered 302

    async def learner(lr, i):
        cookie = f"Cookie: sessionid={lr['sid']}; csrftoken={lr['csrf']}\r\n"
        st = state.setdefault(lr["key"], {"seq": 0, "pos": 0.0, "t": None})
        tasks = []
        hb_at = t0 + rng.random() * HEARTBEAT_EVERY
        page_at = t0 + rng.random() * PAGE_EVERY
        pages = [
            "/accounts/dashboard/",
            "/courses/",
            f"/learn/course/{lr['course']}/",
            f"/credits/year/{lr['year']}/",
            "/orders/",
        ]
        if lr.get("attempt") and f"exam:{lr['attempt']}" not in once:
            once[f"exam:{lr['attempt']}"] = None
            body = urlencode(
                [(f"q{p}", v) for p, vals in lr["answers"].items() for v in vals]
                + [("csrfmiddlewaretoken", lr["csrf"])]
            )
            raw = (
                f"POST /exams/attempt/{lr['attempt']}/submit/ HTTP/1.1\r\nHost: b\r\n{cookie}Referer: http://b/\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}"
            )
            tasks.append(asyncio.create_task(exam(lr["attempt"], t0 + rng.random() * seconds, raw.encode())))
        if lr.get("buyer") and f"buy:{lr['key']}" not in once:
            once[f"buy:{lr['key']}"] = None
            raw = f"GET /orders/buy/{lr['buy']}/ HTTP/1.1\r\nHost: b\r\n{cookie}\r\n"
            tasks.append(asyncio.create_task(send("buy", t0 + rng.random() * seconds, raw.encode(), 200)))
        k = i
        while min(hb_at, page_at) < end:
            if page_at <= hb_at:
                raw = f"GET {pages[k % len(pages)]} HTTP/1.1\r\nHost: b\r\n{cookie}\r\n"
                k += 1
                tasks.append(asyncio.create_task(send("page", page_at, raw.encode(), 200)))
                page_at += PAGE_EVERY
                continue
            await asyncio.sleep(max(0.0, hb_at - time.perf_counter()))
            now = time.perf_counter()
            if st["t"] is None:
                st["t"] = now - HEARTBEAT_EVERY
            claim = round(max(0.0, now - st["t"] - 0.2), 3)
            st["seq"] += 1
            body = b'{"seq":%d,"start":%.3f,"position":%.3f}' % (st["seq"], st["pos"], st["pos"] + claim)
            raw = (
                f"POST /api/learning/sessions/{lr['key']}/heartbeat HTTP/1.1\r\nHost: b\r\n{cookie}"
                f"X-Play-Token: {lr['token']}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            answer = await send("heartbeat", hb_at, raw, 200)
            if answer is not None:
                st["t"], st["pos"] = now, round(st["pos"] + claim, 3)
                got = earned.setdefault(lr["key"], [0.0, 0])
                got[0] += float(answer[12 : answer.index(b",")])
                got[1] += 1
            else:
                st["seq"] -= 1  # not acknowledged: the player reports the same interval again
            hb_at += HEARTBEAT_EVERY
        await asyncio.gather(*tasks)

    await asyncio.gather(*(learner(lr, i) for i, lr in enumerate(learners)))

    def p99(xs):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000 if xs else 0.0

    every = [x for xs in lat.values() for x in xs]
    json.dump(
        {
            "requests": {k: len(v) for k, v in lat.items()},
            "p99_ms": p99(every),
            "p99_by_kind": {k: p99(v) for k, v in lat.items()},
            "errors": sum(errors.values()),
            "errors_by_kind": errors,
            "resent": pool.resent,
            "elapsed": time.perf_counter() - t0,
        },
        open(sys.argv[6], "w"),
    )
    players.write_text(json.dumps(carried))


asyncio.run(main())
