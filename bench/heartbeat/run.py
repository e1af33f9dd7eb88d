"""bench/heartbeat: heartbeat throughput against a bare WSGI app and a trivial Django view, in one
run, same gunicorn settings (production's, config/gunicorn.conf.py) and load; PostgreSQL + Redis as
in production.

    .venv/bin/python bench/heartbeat/run.py [--learners 20000] [--seconds 30] [--rounds 3]
                                            [--connections 16] [--flush-every 10] [--aio 2]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_learning,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/8, flushed).

The heartbeat is the production path (ADR 0003 "Speed"): the player's X-Play-Token, the WSGI stack
production mounts (config/wsgi.py: the operations layer, config/ops_wsgi.py, then the hot route in
front of Django, config/hotpath_wsgi.py; bench/heartbeat/wsgi.py), state in Redis, and the
write-behind flusher running as its own process during the run (every --flush-every s, more often
than production's heartbeat interval). The learners' play sessions are put in Redis as
`play_start` does. After the run a final
flush, then the check: every learner's stored seconds (PostgreSQL) must equal what the server
acknowledged to it.

`floor` is the bare app sent the heartbeat's own request bytes, reading the body and making one
Redis script call (a read and a write of one hash over the hot path's client): no heartbeat
design on this server that keeps the play state in Redis can beat it, so floor_per_wsgi is the
best heartbeat_per_wsgi reachable here and heartbeat_per_floor the share of it the platform's
code keeps.

The measured phases run in --rounds rounds (bare, floor, anonymous Django, heartbeat; --seconds split
between them), so that other load on the machine affects all alike; the flusher is paused between
heartbeat rounds. Each phase prints the CPU the machine, the gunicorn workers, Redis and the load
generator spent per request (/proc).

Baselines: `django_anon` is the trivial Django view through the full production middleware stack,
anonymous (no cookie): RESULT's heartbeat_per_django compares with it. `django` is the same view
with the learner's session cookie (session + user + agreement loads), printed for reference.
Last line: RESULT heartbeat_per_django=… heartbeat_per_wsgi=… p99_ms=… errors=… lost=…
floor_per_wsgi=… heartbeat_per_floor=…

--aio N: the trial door (bench/heartbeat/aio_door.py: the same door checks and judgement on an
asyncio server of N processes, the Redis commands of concurrent reports pipelined) measured in the
same rounds (bare_aio, floor_aio, heartbeat_aio), each door serving its own half of the learners;
then a line RESULT-AIO compares its heartbeat with the same baselines (django_anon and bare are
gunicorn's) and with its own server's bare and floor; the credit check covers both doors."""

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=30, help="per phase, over all rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--flush-every", type=float, default=10)
    ap.add_argument(
        "--aio",
        type=int,
        default=0,
        help="also measure the trial asyncio door (bench/heartbeat/aio_door.py) with this many "
        "processes, in the same rounds: phases bare_aio, floor_aio, heartbeat_aio; each door then "
        "serves its own half of --learners",
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import bench_env, fresh_stores, phase_line, start_gunicorn, wait_port

    db_url, redis_url, env = bench_env(
        "cpe_bench_learning",
        8,
        prefix="cpebench",
        settings="bench.heartbeat.settings",
        DB_POOL_MAX=str(args.threads + 1),
    )
    fresh_stores(db_url, redis_url, env)

    import django

    django.setup()
    learners = seed(args.learners)
    tmp = Path(tempfile.mkdtemp(prefix="bench-hb-"))
    if args.aio:  # each door its own half of the learners (a player's reports reach one door)
        half = len(learners) // 2
        learners, aio_learners = learners[:half], learners[half:]
        (tmp / "learners_aio.json").write_text(json.dumps(aio_learners))
    (tmp / "learners.json").write_text(json.dumps(learners))

    import redis

    redis_pid = redis.Redis.from_url(redis_url).info("server").get("process_id")
    server, port = start_gunicorn(
        "bench.heartbeat.wsgi:application", workers=args.workers, threads=args.threads, env=env
    )
    flusher, pause, aio = None, tmp / "flusher-pause", None
    ports = {"": (port, server.pid)}
    if args.aio:
        from bench.common import free_port

        aio_port = free_port()
        aio = subprocess.Popen(
            [PY, str(Path(__file__).parent / "aio_door.py"), str(aio_port), str(args.aio)], env=env
        )
        wait_port(aio_port)
        ports["_aio"] = (aio_port, aio.pid)
    phases = ["bare", "floor", "django_anon", "heartbeat"]
    if args.aio:
        phases += ["bare_aio", "floor_aio", "heartbeat_aio"]

    def on(phase):
        return ports["_aio" if phase.endswith("_aio") else ""]

    earned = {}
    try:
        pause.touch()
        flusher = subprocess.Popen(
            [PY, str(Path(__file__).parent / "flusher.py"), str(args.flush_every), str(pause)],
            cwd=ROOT,
            env=env,
        )
        for phase in ("bare", "floor", "django_anon", "django", *(("bare_aio", "floor_aio") if aio else ())):
            load(on(phase)[0], phase, 3, args.connections, tmp, tmp / "warm.json", env)  # warm-up
        results = {
            "django": measure(
                port, "django", args.seconds / args.rounds, args.connections, tmp, env, server.pid, redis_pid
            )
        }
        # Rounds, so that a change in the machine's other load affects all phases alike.
        for _ in range(args.rounds):
            for phase in phases:
                if phase.startswith("heartbeat"):
                    pause.unlink()
                else:
                    while not Path(f"{pause}.ack").exists():  # the flusher is between flushes
                        time.sleep(0.05)
                r = measure(
                    *on(phase)[:1],
                    phase,
                    args.seconds / args.rounds,
                    args.connections,
                    tmp,
                    env,
                    on(phase)[1],
                    redis_pid,
                )
                results[phase] = combine(results.get(phase), r)
                if phase.startswith("heartbeat"):
                    pause.touch()
                    earned = r["earned"]  # what every simulated player earned so far, both doors
        for phase in ("bare", "floor", "django_anon", "django", "heartbeat", *phases[4:]):
            r = results[phase]
            print(phase_line(phase, r), flush=True)
    finally:
        if flusher is not None:
            pause.unlink(missing_ok=True)
            flusher.terminate()
            flusher.wait(60)
        server.terminate()
        server.wait(10)
        if aio is not None:
            aio.terminate()
            aio.wait(10)

    from cpe.learning import hotpath

    t = time.time()
    flushed = hotpath.flush_dirty() if hotpath.enabled() else 0
    print(f"final flush: {flushed} play sessions written in {time.time() - t:.1f}s", flush=True)
    lost, checked = check(earned)
    hb, dj, anon, bare = results["heartbeat"], results["django"], results["django_anon"], results["bare"]
    floor = results["floor"]
    door = "redis hot path (X-Play-Token, WSGI route before the middleware)" if hotpath.enabled() else "ORM"
    print(f"heartbeat path: {door}")
    print(
        f"ratios: heartbeat/django(anonymous, full production middleware) {hb['rps'] / anon['rps']:.2f}  "
        f"heartbeat/django(signed-in) {hb['rps'] / dj['rps']:.2f}  "
        f"heartbeat/wsgi {hb['rps'] / bare['rps']:.2f}  (target >= 1.0 and >= 0.5, p99 < 100 ms)"
    )
    print(
        "the floor (bare WSGI, the heartbeat's request, one Redis script round trip, no rules): "
        f"floor/wsgi {floor['rps'] / bare['rps']:.2f}  heartbeat/floor {hb['rps'] / floor['rps']:.2f}  "
        "(what one round trip per report costs on this machine, and how much of the rest is the platform's)"
    )
    short = hb.get("short", [])
    why = ", ".join(f"{r or 'capped'}: {short.count(r)}" for r in sorted(set(short))) or "none"
    print(
        f"credit check: {checked} learners' stored seconds compared with what the server "
        "acknowledged to them, "
        f"{lost} differ; {len(short)} of {hb['requests']} reports were credited less than claimed "
        f"({why})"
    )
    print("RESULT compares with the anonymous trivial Django view (full production middleware stack)")
    print(
        f"RESULT heartbeat_per_django={hb['rps'] / anon['rps']:.2f} "
        f"heartbeat_per_wsgi={hb['rps'] / bare['rps']:.2f} "
        f"p99_ms={hb['p99_ms']:.1f} errors={hb['errors']} lost={lost} "
        f"floor_per_wsgi={floor['rps'] / bare['rps']:.2f} heartbeat_per_floor={hb['rps'] / floor['rps']:.2f}"
    )
    if args.aio:
        ha, ba, fa = results["heartbeat_aio"], results["bare_aio"], results["floor_aio"]
        errors = sum(results[p]["errors"] for p in ("heartbeat", "heartbeat_aio"))
        print(
            f"RESULT-AIO heartbeat_aio_per_django={ha['rps'] / anon['rps']:.2f} "
            f"heartbeat_aio_per_wsgi={ha['rps'] / bare['rps']:.2f} p99_ms={ha['p99_ms']:.1f} "
            f"errors={errors} lost={lost} heartbeat_aio_per_heartbeat={ha['rps'] / hb['rps']:.2f} "
            f"heartbeat_aio_per_floor_aio={ha['rps'] / fa['rps']:.2f} "
            f"heartbeat_aio_per_bare_aio={ha['rps'] / ba['rps']:.2f}"
        )


def load(port, phase, seconds, connections, tmp, out, env):
    subprocess.run(
        [
            PY,
            str(Path(__file__).parent / "load.py"),
            str(port),
            phase,
            str(seconds),
            str(connections),
            str(tmp / ("learners_aio.json" if phase.endswith("_aio") else "learners.json")),
            str(out),
            str(tmp / "players.json"),
        ],
        check=True,
        env=env,
    )
    return json.loads(out.read_text())


def measure(port, phase, seconds, connections, tmp, env, server_pid, redis_pid) -> dict:
    """One timed run of the load generator, with the CPU each part of the machine spent."""
    from bench.common import cpu_ticks

    before = cpu_ticks(server_pid, redis_pid)
    r = load(port, phase, seconds, connections, tmp, tmp / f"{phase}.json", env)
    after = cpu_ticks(server_pid, redis_pid)
    r["elapsed"] = r["requests"] / r["rps"]
    r["ticks"] = {k: after[k] - before[k] for k in after}
    return combine(None, r)


def combine(acc, r) -> dict:
    from bench.common import combine as add_up

    return add_up(acc, r, lambda acc, r: {"short": acc["short"] + r["short"]})


def seed(n):
    """n learners with a paid annual course, a signed-in web session (in Redis) and an open
    play session on a 10-hour chapter, made in bulk."""
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from cpe.accounts.models import User
    from cpe.accounts.sessions import SessionStore  # settings.SESSION_ENGINE (decision 0018)
    from cpe.agreements import selectors as agreement_selectors
    from cpe.agreements.services import agreement_publish
    from cpe.catalog.models import Chapter, Course, Product, TrainingYear
    from cpe.core.crypto import blind_index
    from cpe.core.timewin import local_date
    from cpe.learning import hotpath
    from cpe.learning.models import ChapterProgress, Enrolment, PlaySession
    from cpe.learning.services import web_session_hash
    from cpe.orders.models import Order

    t = time.time()
    now = timezone.now()
    agreement_publish(
        version="1.0",
        title="协议",
        body="正文",
        is_minor=False,
        effective_at=now - timedelta(days=1),
        at=now - timedelta(days=1),
    )
    year = TrainingYear.objects.create(year=local_date(timezone.now()).year)
    course = Course.objects.create(
        year=year, code="B1", title="基准课程", category="professional", credit_hours=10
    )
    chapter = Chapter.objects.create(course=course, position=1, title="十小时章节", duration_seconds=36000)
    product = Product.objects.create(code="B-ANNUAL", title="基准年度课程", year=year, price_fen=100)
    pw = User(username="x")
    pw.set_password("bench-password-1")
    users = User.objects.bulk_create(
        [
            User(
                username=f"b{i}",
                name="基准学员",
                password=pw.password,
                id_number=f"15010219900101{i:04d}",
                mobile=f"139{i:08d}",
                ais_status="found",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    # The agreement gate reads the accepted version from the session (set below), as it does
    # for a learner who accepted at sign-in.
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"B{i:010d}",
                user=u,
                product=product,
                subject="基准",
                amount_fen=100,
                validity_days=90,
                status="paid",
                created_at=now,
                paid_at=now - timedelta(minutes=5),
            )
            for i, u in enumerate(users)
        ],
        batch_size=2000,
    )
    enrolments = Enrolment.objects.bulk_create(
        [
            Enrolment(
                user=o.user,
                product=product,
                order=o,
                year=year,
                valid_from=o.paid_at,
                valid_until=o.paid_at + timedelta(days=90),
            )
            for o in orders
        ],
        batch_size=2000,
    )
    ChapterProgress.objects.bulk_create(
        [ChapterProgress(user=u, chapter=chapter) for u in users], batch_size=2000
    )
    started = now - timedelta(seconds=30)
    sessions = PlaySession.objects.bulk_create(
        [
            PlaySession(
                key=secrets.token_hex(16),
                user=e.user,
                enrolment=e,
                chapter=chapter,
                ip="127.0.0.1",
                started_at=started,
                last_at=started,
                play_until_check=10**9,
            )
            for e in enrolments
        ],
        batch_size=2000,
    )
    required = agreement_selectors.required_major_id(now)
    out = []
    for u, s in zip(users, sessions, strict=True):
        store = SessionStore()
        store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(u.pk), "cpe.accounts.auth.IdentifierBackend"
        store[HASH_SESSION_KEY] = u.get_session_auth_hash()
        store["agreement_ok"] = required
        store.create()
        u.session_key_hash = blind_index("session_key", store.session_key)
        s.web_session = web_session_hash(store.session_key)  # as play_start binds it: the cookie must match
        out.append({"key": s.key, "sid": store.session_key, "csrf": secrets.token_hex(16)})
    User.objects.bulk_update(users, ["session_key_hash"], batch_size=2000)
    PlaySession.objects.bulk_update(sessions, ["web_session"], batch_size=2000)
    prime(sessions, {p.user_id: p for p in ChapterProgress.objects.filter(chapter=chapter)}, 36000.0)
    for o, s in zip(out, sessions, strict=True):
        o["token"] = hotpath.play_token(s.key)
    print(f"seeded {n} learners with open play sessions in {time.time() - t:.0f}s", flush=True)
    return out


def prime(sessions, progress, duration):
    """What play_start does for each session with the hot path on (hotpath.session_opened), in
    pipelined batches."""
    import json as _json

    from cpe.learning import hotpath

    if not hotpath.enabled():
        return
    r, p = hotpath.client(), hotpath.prefix()
    for i in range(0, len(sessions), 1000):
        pipe = r.pipeline(transaction=False)
        for s in sessions[i : i + 1000]:
            d = hotpath.state_from_rows(s, progress[s.user_id], duration)
            pipe.hset(f"{p}s:{s.key}", mapping={"v": "1", "u": str(s.user_id), "j": _json.dumps(d)})
            pipe.pexpire(f"{p}s:{s.key}", hotpath.STATE_TTL_MS)
            pipe.set(f"{p}c:{s.user_id}", s.key, px=hotpath.STATE_TTL_MS)
        pipe.execute()


def check(earned):
    """Stored credit (the union of credited intervals) must equal, per learner, exactly what the
    server acknowledged to its simulated player (each answer's `credited` is rounded to 1 ms)."""
    from cpe.learning.models import ChapterProgress, PlaySession

    by_key = dict(PlaySession.objects.filter(key__in=list(earned)).values_list("key", "user_id"))
    stored = dict(
        ChapterProgress.objects.filter(user_id__in=list(by_key.values())).values_list(
            "user_id", "watched_seconds"
        )
    )
    differ = [
        (k, secs, stored.get(by_key[k], 0.0))
        for k, (secs, n) in earned.items()
        if abs(stored.get(by_key[k], 0.0) - secs) > 0.001 + 0.0005 * n
    ]
    for k, secs, got in differ[:5]:
        print(f"  differs: session {k[:8]}… acknowledged {secs:.3f} s, stored {got:.3f} s")
    return len(differ), len(earned)


if __name__ == "__main__":
    main()
