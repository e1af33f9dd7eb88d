"""bench/exam_burst: 1,000 learners submit their exam papers within 10 s against gunicorn +
PostgreSQL + Redis (as production). Each submission posts all 30 answers; half the learners
pass (a credit record and a certificate are written in the grading transaction).

    .venv/bin/python bench/exam_burst/run.py [--learners 1000] [--seconds 10] [--connections 32]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_exams,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/13, flushed).
Baseline, measured in the same run against the same server (--baseline-seconds, half before the
burst and half after): the same learners post the same signed-in form to the trivial view
/bench/hello/ as fast as they are answered. It gives what this machine, at this moment, does
with a signed-in POST that does no work: its throughput, its p99 and the gunicorn CPU per request.
The submissions are printed beside it as ratios (their CPU per request over the baseline's; the
burst's arrival rate over the baseline's throughput), which move far less with the machine's other
load than the absolute figures do.

Last line: RESULT submitted=… graded=… lost=… p99_ms=… elapsed_s=… baseline_rps=… baseline_p99_ms=…
cpu_per_baseline=…
(submitted: answered 302 by the server; graded: attempts graded in the database afterwards;
lost: submitted but not graded, or graded with a score other than the one its answers earn;
cpu_per_baseline: gunicorn CPU per submission over gunicorn CPU per baseline request)."""

import argparse
import json
import os
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
    ap.add_argument("--learners", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)  # config/gunicorn.conf.py's
    ap.add_argument("--baseline-seconds", type=float, default=6)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import bench_env, cpu_ticks, fresh_stores, start_gunicorn

    db_url, redis_url, env = bench_env(
        "cpe_bench_exams",
        13,
        prefix="cpebenchx",
        settings="bench.exam_burst.settings",
        DB_POOL_MAX=str(args.threads + 1),
    )
    fresh_stores(db_url, redis_url, env)

    import django

    django.setup()
    learners, expected = seed(args.learners)
    tmp = Path(tempfile.mkdtemp(prefix="bench-exam-"))
    (tmp / "learners.json").write_text(json.dumps(learners))

    server, port = start_gunicorn(
        "bench.exam_burst.wsgi:application", workers=args.workers, threads=args.threads, env=env
    )
    hz = os.sysconf("SC_CLK_TCK")

    def load(seconds, out, *extra):
        before = cpu_ticks(server.pid, None)
        subprocess.run(
            [
                PY,
                str(Path(__file__).parent / "load.py"),
                str(port),
                str(seconds),
                str(args.connections),
                str(tmp / "learners.json"),
                str(out),
                *extra,
            ],
            check=True,
            env=env,
        )
        after = cpu_ticks(server.pid, None)
        r = json.loads(out.read_text())
        r["server_cpu"] = (after["server"] - before["server"]) / hz
        r["machine_cpu"] = (after["machine"] - before["machine"]) / hz
        return r

    try:
        load(2, tmp / "warm.json", "baseline")  # every worker thread's connections opened
        b1 = load(args.baseline_seconds / 2, tmp / "base1.json", "baseline")
        uptime_burst = Path("/proc/loadavg").read_text().split()[:3]
        r = load(args.seconds, tmp / "out.json")
        b2 = load(args.baseline_seconds / 2, tmp / "base2.json", "baseline")
    finally:
        server.terminate()
        server.wait(90)  # graceful shutdown (graceful_timeout 30) takes longer on a busy machine

    from cpe.credits.models import CreditRecord
    from cpe.exams.models import Attempt

    submitted = {int(k) for k, s in r["statuses"].items() if s == 302}
    graded = dict(Attempt.objects.filter(status="graded").values_list("pk", "score"))
    lost = sum(1 for a in expected if a not in graded or graded[a] != expected[a])
    credits = CreditRecord.objects.count()
    passes = sum(1 for s in expected.values() if s >= 60)
    print(
        f"{len(expected)} submissions over {r['elapsed']:.1f} s: {len(submitted)} answered 302, "
        f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms; "
        f"{len(graded)} graded in the database, {credits} credit records for {passes} passes"
    )
    n_base = b1["requests"] + b2["requests"]
    base_rps = n_base / (b1["elapsed"] + b2["elapsed"])
    base_p99 = max(b1["p99_ms"], b2["p99_ms"])
    base_cpu = (b1["server_cpu"] + b2["server_cpu"]) / max(1, n_base) * 1e6
    sub_cpu = r["server_cpu"] / max(1, len(expected)) * 1e6
    print(
        f"baseline (signed-in trivial POST of the same form, same server, same run): {base_rps:.0f} req/s, "
        f"p99 {base_p99:.0f} ms, gunicorn CPU {base_cpu:.0f} us/request, errors {b1['errors'] + b2['errors']}"
    )
    print(
        f"submission: gunicorn CPU {sub_cpu:.0f} us/request = {sub_cpu / base_cpu:.1f} x the baseline's; "
        f"arrivals {len(expected) / args.seconds:.0f}/s "
        f"= {len(expected) / args.seconds / base_rps:.2f} x the "
        f"baseline's throughput; p99 {r['p99_ms']:.0f} ms = {r['p99_ms'] / base_p99:.1f} x the baseline's p99"
    )
    print(f"machine load average at the burst (1, 5, 15 min): {' '.join(uptime_burst)}")
    print(
        f"RESULT submitted={len(submitted)} graded={len(graded)} lost={lost} p99_ms={r['p99_ms']:.0f} "
        f"elapsed_s={r['elapsed']:.1f} baseline_rps={base_rps:.0f} baseline_p99_ms={base_p99:.0f} "
        f"cpu_per_baseline={sub_cpu / base_cpu:.1f}"
    )


def seed(n):
    """n learners, each with a paid annual course, every chapter complete, a signed-in web
    session (in Redis) and an open exam attempt; returns their answers and expected scores."""
    import random
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
    from cpe.exams import policy
    from cpe.exams.models import Attempt, AttemptItem, Question
    from cpe.exams.tests.factories import make_bank
    from cpe.learning.models import ChapterProgress, Enrolment
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
        year=year, code="B1", title="基准课程", category="professional", credit_hours=24
    )
    chapter = Chapter.objects.create(course=course, position=1, title="章节", duration_seconds=60)
    make_bank(course, per_type=15)
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
        [
            ChapterProgress(
                user=u,
                chapter=chapter,
                intervals=[[0, 60]],
                watched_seconds=60,
                furthest_position=60,
                completed_at=now,
            )
            for u in users
        ],
        batch_size=2000,
    )
    questions = list(Question.objects.filter(course=course))
    bank = {}
    for q in questions:
        bank.setdefault(q.qtype, []).append(q.pk)
    by_id = {q.pk: q for q in questions}
    counts = {q.pk: len(q.options) for q in questions}
    rng = random.Random(7)  # the same paper draw in every run
    attempts = Attempt.objects.bulk_create(
        [
            Attempt(
                user=e.user,
                course=course,
                enrolment=e,
                number=1,
                started_at=now - timedelta(minutes=20),
                deadline=now + timedelta(minutes=40),
                pass_mark=policy.PASS_MARK,
            )
            for e in enrolments
        ],
        batch_size=2000,
    )
    items, out, expected = [], [], {}
    required = agreement_selectors.required_major_id(now)
    for i, (u, a) in enumerate(zip(users, attempts, strict=True)):
        drawn = policy.draw_paper(bank, counts, policy.PAPER_COMPOSITION, rng)
        answers, score = {}, 0
        right_share = 1.0 if i % 2 == 0 else 0.3  # half pass, half fail
        for pos, d in enumerate(drawn, 1):
            q = by_id[d.question_id]
            if rng.random() < right_share:
                chosen = list(q.answer)
            else:
                chosen = [next(j for j in range(len(q.options)) if j not in q.answer)]
            score += policy.score_item(q.qtype, q.answer, chosen, d.points)
            answers[pos] = chosen
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
        expected[a.pk] = score
        store = SessionStore()
        store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(u.pk), "cpe.accounts.auth.IdentifierBackend"
        store[HASH_SESSION_KEY] = u.get_session_auth_hash()
        store["agreement_ok"] = required
        store.create()
        u.session_key_hash = blind_index("session_key", store.session_key)
        out.append(
            {"attempt": a.pk, "sid": store.session_key, "csrf": secrets.token_hex(16), "answers": answers}
        )
    AttemptItem.objects.bulk_create(items, batch_size=5000)
    User.objects.bulk_update(users, ["session_key_hash"], batch_size=2000)
    print(f"seeded {n} learners with open attempts in {time.time() - t:.0f}s", flush=True)
    return out, expected


if __name__ == "__main__":
    main()
