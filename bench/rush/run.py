"""bench/rush: the year-end mix, raised until it no longer holds. Simulated learners each send a
heartbeat every 30 s while watching, open a page every 60 s, some submit an exam and some open
a course's purchase page (bench/rush/load.py); PostgreSQL, Redis, gunicorn with production's
settings (config/gunicorn.conf.py), the hot route in front of Django and the write-behind flusher
in its own process, as production runs them.

    .venv/bin/python bench/rush/run.py [--start 200] [--factor 1.5] [--max 5000] [--step-seconds 60]
                                       [--exam-share 0.1] [--buyer-share 0.05] [--connections 64]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_rush,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9, flushed).

Steps of --step-seconds, the number of learners multiplied by --factor each step, until a step's
p99 passes 500 ms or it has errors (or --max is reached). Each step prints its requests per kind,
its p99 per kind, its errors and how many requests were sent again on a new connection (a
kept-alive connection the server closed for idleness before any byte of answer: a browser resends
those, so they are not errors), and the CPU per second of the gunicorn workers, PostgreSQL and
Redis (what limits it). After the last step, a final flush, then the check: every learner's
stored watched seconds must equal what the server acknowledged to it, and every submission
answered 302 must be graded.
Not simulated: the payment itself (the gateway's round trip); a buyer opens the purchase page.
Last line: RESULT learners=… per_core=… p99_ms=… errors=… lost=…
(learners: the largest step that held; p99_ms and errors: that step's; lost: over the run)."""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
P99_LIMIT_MS = 500


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--start", type=int, default=200)
    ap.add_argument("--factor", type=float, default=1.5)
    ap.add_argument("--max", type=int, default=5000)
    ap.add_argument("--step-seconds", type=float, default=60)
    ap.add_argument("--exam-share", type=float, default=0.1)
    ap.add_argument("--buyer-share", type=float, default=0.05)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--flush-every", type=float, default=30)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import (
        bench_env,
        cpu_ticks,
        fresh_stores,
        postgres_backends,
        postgres_ticks,
        start_gunicorn,
    )

    db_url, redis_url, env = bench_env(
        "cpe_bench_rush",
        9,
        prefix="cpebenchr",
        settings="bench.heartbeat.settings",
        DB_POOL_MAX=str(args.threads + 1),
    )
    from bench.heartbeat.run import check

    fresh_stores(db_url, redis_url, env)

    import django

    django.setup()
    learners = seed(args.max, args.exam_share, args.buyer_share)
    tmp = Path(tempfile.mkdtemp(prefix="bench-rush-"))
    (tmp / "learners.json").write_text(json.dumps(learners))

    import redis

    redis_pid = redis.Redis.from_url(redis_url).info("server").get("process_id")
    server, port = start_gunicorn(
        "bench.heartbeat.wsgi:application", workers=args.workers, threads=args.threads, env=env
    )
    flusher = subprocess.Popen(
        [PY, str(ROOT / "bench/heartbeat/flusher.py"), str(args.flush_every)], cwd=ROOT, env=env
    )
    warm_up(port, learners)
    hz, cores = os.sysconf("SC_CLK_TCK"), os.cpu_count()
    held, steps, n = None, [], args.start
    try:
        while True:
            n = min(n, args.max)
            pg_pids = postgres_backends(db_url)
            before, pg0 = cpu_ticks(server.pid, redis_pid), postgres_ticks(pg_pids)
            out = tmp / f"step-{n}.json"
            subprocess.run(
                [
                    PY,
                    str(Path(__file__).parent / "load.py"),
                    str(port),
                    str(n),
                    str(args.step_seconds),
                    str(args.connections),
                    str(tmp / "learners.json"),
                    str(out),
                    str(tmp / "players.json"),
                ],
                check=True,
                env=env,
            )
            after, pg1 = cpu_ticks(server.pid, redis_pid), postgres_ticks(pg_pids)
            r = json.loads(out.read_text())
            secs = r["elapsed"]
            cpu = {
                "gunicorn": (after["server"] - before["server"]) / hz / secs,
                "postgres": sum(pg1[p] - pg0[p] for p in pg1 if p in pg0) / hz / secs,
                "redis": (after["redis"] - before["redis"]) / hz / secs,
                "machine": (after["machine"] - before["machine"]) / hz / secs,
                "idle": (after["idle"] - before["idle"]) / hz / secs,
            }
            ok = r["p99_ms"] <= P99_LIMIT_MS and r["errors"] == 0
            load_avg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            print(
                f"{n:6d} learners: {sum(r['requests'].values())} requests "
                f"({', '.join(f'{k} {v}' for k, v in sorted(r['requests'].items()))}) in {secs:.0f} s, "
                f"p99 {r['p99_ms']:.0f} ms "
                f"({', '.join(f'{k} {v:.0f}' for k, v in sorted(r['p99_by_kind'].items()))}), "
                f"errors {r['errors']} {r['errors_by_kind'] or ''} (resent {r.get('resent', 0)}); "
                f"CPU cores busy: gunicorn {cpu['gunicorn']:.2f}, "
                f"PostgreSQL {cpu['postgres']:.2f}, Redis {cpu['redis']:.2f}, "
                f"machine {cpu['machine']:.2f} of {cores} (idle {cpu['idle']:.2f}; "
                f"load average {load_avg}) -> {'held' if ok else 'NOT held'}",
                flush=True,
            )
            steps.append((n, r))
            if not ok:
                break
            held = (n, r)
            if n >= args.max:
                break
            n = int(n * args.factor)
    finally:
        flusher.terminate()
        flusher.wait(60)
        server.terminate()
        server.wait(90)  # graceful shutdown (graceful_timeout 30) takes longer on a busy machine

    from cpe.exams.models import Attempt
    from cpe.learning import hotpath

    flushed = hotpath.flush_dirty() if hotpath.enabled() else 0
    players = (
        json.loads((tmp / "players.json").read_text()) if (tmp / "players.json").exists() else {"earned": {}}
    )
    lost_credit, checked = check(players["earned"])
    submitted = [int(k[5:]) for k, ok in players.get("once", {}).items() if k.startswith("exam:") and ok]
    graded = Attempt.objects.filter(pk__in=submitted, status="graded").count()
    lost_exams = len(submitted) - graded
    print(
        f"final flush: {flushed} play sessions; "
        f"credit check: {checked} learners compared, {lost_credit} differ; "
        f"exams: {len(submitted)} answered 302, {graded} of them graded, {lost_exams} lost"
    )
    n_held, r_held = held if held else (0, steps[-1][1])
    print(
        f"RESULT learners={n_held} per_core={n_held // cores} p99_ms={r_held['p99_ms']:.0f} "
        f"errors={r_held['errors']} lost={lost_credit + lost_exams}"
    )


def warm_up(port, learners):
    """Every worker booted and its first pages rendered before the first step is timed (gunicorn
    accepts connections before its workers have loaded Django)."""
    import socket

    for lr in learners[:24]:
        for path in ("/accounts/dashboard/", "/courses/"):
            with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
                s.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n"
                    f"Cookie: sessionid={lr['sid']}\r\n\r\n".encode()
                )
                while s.recv(65536):
                    pass


def seed(n, exam_share, buyer_share):
    """n learners as bench/heartbeat seeds them (a paid annual course, a signed-in web session, an
    open play session on a 10-hour chapter, primed in Redis); a share of them with an open exam
    attempt, a share marked as buyers of a single course."""
    from datetime import timedelta

    from django.utils import timezone

    from bench.heartbeat.run import seed as seed_players
    from cpe.catalog.models import Course, Product
    from cpe.exams import policy
    from cpe.exams.models import Attempt, AttemptItem, Question
    from cpe.exams.tests.factories import make_bank
    from cpe.learning.models import Enrolment

    learners = seed_players(n)
    t = time.time()
    course = Course.objects.get(code="B1")
    other = Course.objects.create(
        year=course.year, code="B2", title="基准单门课程", category="public", credit_hours=4
    )
    Product.objects.create(
        code="B-ONE", title="基准单门课程", kind="single", year=course.year, course=other, price_fen=3000
    )
    make_bank(course, per_type=15)
    questions = list(Question.objects.filter(course=course, pool=policy.paper_pool()))
    bank, by_id = {}, {q.pk: q for q in questions}
    for q in questions:
        bank.setdefault(q.qtype, []).append(q.pk)
    counts = {q.pk: len(q.options) for q in questions}
    rng = random.Random(11)
    enrolments = {e.user.username: e for e in Enrolment.objects.select_related("user")}
    now = timezone.now()
    takers = [i for i in range(n) if rng.random() < exam_share]
    attempts = Attempt.objects.bulk_create(
        [
            Attempt(
                user=enrolments[f"b{i}"].user,
                course=course,
                enrolment=enrolments[f"b{i}"],
                number=1,
                started_at=now,
                deadline=now + timedelta(hours=6),
                pass_mark=policy.PASS_MARK,
            )
            for i in takers
        ],
        batch_size=2000,
    )
    items = []
    for i, a in zip(takers, attempts, strict=True):
        answers = {}
        for pos, d in enumerate(policy.draw_paper(bank, counts, policy.PAPER_COMPOSITION, rng), 1):
            q = by_id[d.question_id]
            answers[pos] = list(q.answer) if rng.random() < 0.8 else [0]
            items.append(
                AttemptItem(
                    attempt=a,
                    position=pos,
                    question_id=d.question_id,
                    qtype=d.qtype,
                    points=d.points,
                    option_order=list(d.option_order),
                )
            )
        learners[i].update(attempt=a.pk, answers=answers)
    AttemptItem.objects.bulk_create(items, batch_size=5000)
    for lr in learners:
        lr.update(course=course.pk, year=course.year.year)
        if rng.random() < buyer_share:
            lr.update(buyer=True, buy="B-ONE")
    print(f"gave {len(takers)} learners an open attempt in {time.time() - t:.0f}s", flush=True)
    return learners


if __name__ == "__main__":
    main()
