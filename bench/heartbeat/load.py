"""The load generator, run as its own process: keep-alive HTTP/1.1 over asyncio streams (no
third-party client). Each connection cycles through its share of simulated learners; a
learner claims exactly the time that passed on this clock since its previous report, which is
what an honest 1x player earns; the credit the server acknowledged per learner (and how many
reports) is written out for the check.

usage: load.py PORT PHASE SECONDS CONNECTIONS learners.json out.json [players.json]
PHASE: bare | floor | django | django_anon | heartbeat, or bare_aio | floor_aio | heartbeat_aio
(the same requests, sent to bench/heartbeat/aio_door.py)
players.json (heartbeat): the simulated players' state and what they earned, carried from one
round to the next (read if present, written at the end)."""

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import exchange  # noqa: E402


async def run_conn(port, phase, deadline, learners, lat, errors, earned, short, state):
    phase = phase.removesuffix("_aio")  # the same requests to the trial's asyncio door (aio_door.py)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for lr in learners:
        state.setdefault(lr["key"], {"seq": 0, "pos": 0.0, "t": None})
    heads = {}  # each learner's request line and headers, built once (the client should cost little)
    for lr in learners:
        cookie = f"sessionid={lr['sid']}; csrftoken={lr['csrf']}"
        heads[lr["key"]] = (
            f"GET /bench/hello/ HTTP/1.1\r\nHost: b\r\nCookie: {cookie}\r\n\r\n".encode(),
            f"POST /api/learning/sessions/{lr['key']}/heartbeat HTTP/1.1\r\nHost: b\r\nCookie: {cookie}\r\n"
            f"X-Play-Token: {lr['token']}\r\nContent-Type: application/json\r\nContent-Length: ".encode(),
            f"POST /floor/{lr['key']}/heartbeat HTTP/1.1\r\nHost: b\r\nCookie: {cookie}\r\n"
            f"X-Play-Token: {lr['token']}\r\nContent-Type: application/json\r\nContent-Length: ".encode(),
        )
    i = 0
    while time.perf_counter() < deadline:
        lr = learners[i % len(learners)]
        i += 1
        if phase == "bare":
            req, claim = b"GET /bare/ HTTP/1.1\r\nHost: b\r\n\r\n", None
        elif phase == "floor":  # the heartbeat's own bytes (headers and body), to the floor app
            body = b'{"seq":%d,"start":%.3f,"position":%.3f}' % (i, 1000.0, 1005.0)
            req, claim = b"%s%d\r\n\r\n%s" % (heads[lr["key"]][2], len(body), body), None
        elif phase == "django_anon":
            req, claim = b"GET /bench/hello/ HTTP/1.1\r\nHost: b\r\n\r\n", None
        elif phase == "django":
            req, claim = heads[lr["key"]][0], None
        else:
            st = state[lr["key"]]
            now = time.perf_counter()
            if st["t"] is None:
                st["t"] = now - 30.0  # the sessions were opened (seeded) well before the run
            claim = round(max(0.0, now - st["t"] - 0.2), 3)  # 0.2 s less than this clock's time
            st["seq"] += 1
            body = b'{"seq":%d,"start":%.3f,"position":%.3f}' % (st["seq"], st["pos"], st["pos"] + claim)
            req = b"%s%d\r\n\r\n%s" % (heads[lr["key"]][1], len(body), body)
        t0 = time.perf_counter()
        status, payload = await exchange(reader, writer, req)
        lat.append(time.perf_counter() - t0)
        if status != 200:
            errors.append(status)
            if len(errors) < 3:
                print("error", status, payload[:200], file=sys.stderr)
            continue
        if claim is not None:
            st["t"] = now
            st["pos"] = round(st["pos"] + claim, 3)
            # What the server says this report earned ({"credited":…,"reason":…}); less than the
            # claim only when the server saw less time pass (a report delayed > 2 s in a queue).
            credited = float(payload[12 : payload.index(b",")])
            got = earned.setdefault(lr["key"], [0.0, 0])
            got[0] += credited
            got[1] += 1
            if credited < claim - 0.0005:
                short.append(payload[payload.index(b'"reason":') + 10 :].split(b'"', 1)[0].decode())
    writer.close()


async def main():
    port, phase, seconds, conns = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    learners = json.load(open(sys.argv[5]))
    players = Path(sys.argv[7]) if len(sys.argv) > 7 else None
    carried = json.loads(players.read_text()) if players and players.exists() else {"state": {}, "earned": {}}
    state, earned = carried["state"], carried["earned"]  # perf_counter is the system's monotonic clock
    lat, errors, short = [], [], []
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(
        *(
            run_conn(port, phase, deadline, learners[c::conns], lat, errors, earned, short, state)
            for c in range(conns)
        )
    )
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    lat.sort()
    out = {
        "phase": phase,
        "requests": len(lat),
        "rps": len(lat) / elapsed,
        "errors": len(errors),
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else 0,
        "earned": earned,
        "short": short,
        "client_cpu": cpu,
    }
    json.dump(out, open(sys.argv[6], "w"))
    if players:
        players.write_text(json.dumps(carried))


asyncio.run(main())
