"""bench/pages: what a signed-in learner's real pages cost, against the same server's trivial
Django view (anonymous and signed in), in one run, with production's gunicorn settings
(config/gunicorn.conf.py), PostgreSQL and Redis.

    .venv/bin/python bench/pages/run.py [--learners 2000] [--seconds 30] [--rounds 3]
                                        [--connections 16]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_pages,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9, flushed).

Each learner has a year's history, made in bulk: a paid annual order and its enrolment, four
courses (five chapters each, a question bank), two courses complete and passed (one at the
second attempt) with their credit records and course certificates, a third half watched. Each
learner is signed in (a session in Redis, the agreement accepted, the account's current session)
and requests, in an order shuffled per connection: the dashboard, the catalog, a course page, the
player page of the chapter being watched, the exam page, the year page (我的学时, which lists the
learner's certificates) and the order list. (The certificate verification page is public and
throttled per client address, and a certificate's PDF is a download, not a page: neither is in
the mix.)

Phases, in --rounds interleaved rounds (so that the machine's other load affects all alike):
`django_anon` (the trivial view, no cookie), `django` (the same view signed in), `floor` (the
page floor, bench/pages/urls.py: a signed-in page through the platform's layout with one
statement, what every real page costs at least), `pages` (the mix of real pages). Each prints
its throughput, p99 and the CPU the machine, the gunicorn workers, Redis and the database's
PostgreSQL server processes spent per request (/proc). Last line:
RESULT signed_in_per_anonymous=… pages_per_anonymous=… p99_ms=… errors=… floor_per_anonymous=…
pages_per_floor=…
(p99 of the real pages, errors of all phases; the ratios are throughputs: over the anonymous
trivial view's, and the real pages' over the floor's)."""

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
PHASES = ("django_anon", "django", "floor", "pages")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30, help="per phase, over all rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)  # config/gunicorn.conf.py's
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import (
        bench_env,
        cpu_ticks,
        fresh_stores,
        phase_line,
        postgres_backends,
        postgres_ticks,
        start_gunicorn,
    )

    db_url, redis_url, env = bench_env(
        "cpe_bench_pages",
        9,
        prefix="cpebenchp",
        settings="bench.pages.settings",
        DB_POOL_MAX=str(args.threads + 1),
    )
    fresh_stores(db_url, redis_url, env)

    import django

    django.setup()
    learners = seed(args.learners)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    (tmp / "learners.json").write_text(json.dumps(learners))

    import redis

    redis_pid = redis.Redis.from_url(redis_url).info("server").get("process_id")
    server, port = start_gunicorn(
        "bench.pages.wsgi:application", workers=args.workers, threads=args.threads, env=env
    )

    def load(phase, seconds):
        out = tmp / f"{phase}.json"
        pg_pids = postgres_backends(db_url)
        before, pg0 = cpu_ticks(server.pid, redis_pid), postgres_ticks(pg_pids)
        subprocess.run(
            [
                PY,
                str(Path(__file__).parent / "load.py"),
                str(port),
                phase,
                str(seconds),
                str(args.connections),
                str(tmp / "learners.json"),
                str(out),
            ],
            check=True,
            env=env,
        )
        after, pg1 = cpu_ticks(server.pid, redis_pid), postgres_ticks(pg_pids)
        r = json.loads(out.read_text())
        r["ticks"] = {k: after[k] - before[k] for k in after}
        r["ticks"]["postgresql"] = sum(pg1[p] - pg0[p] for p in pg1 if p in pg0)
        return r

    results = {}
    try:
        for phase in PHASES:  # warm-up: every page once per process, connections opened
            load(phase, 3)
        for _ in range(args.rounds):
            for phase in PHASES:
                results[phase] = combine(results.get(phase), load(phase, args.seconds / args.rounds))
    finally:
        server.terminate()
        server.wait(90)  # graceful shutdown (graceful_timeout 30) takes longer on a busy machine

    load_avg = Path("/proc/loadavg").read_text().split()[:3]
    for phase in PHASES:
        r = results[phase]
        print(phase_line(phase, r), flush=True)
    for name, p in sorted(results["pages"]["pages"].items()):
        print(
            f"  page {name:12s} mean {p['mean_ms']:6.1f} ms  p99 {p['p99_ms']:6.1f} ms  ({p['n']} requests)"
        )
    anon, signed, pages = results["django_anon"], results["django"], results["pages"]
    floor = results["floor"]
    print(f"machine load average during the run (1, 5, 15 min): {' '.join(load_avg)}")
    print(
        f"RESULT signed_in_per_anonymous={signed['rps'] / anon['rps']:.2f} "
        f"pages_per_anonymous={pages['rps'] / anon['rps']:.2f} p99_ms={pages['p99_ms']:.0f} "
        f"errors={sum(results[p]['errors'] for p in PHASES)} "
        f"floor_per_anonymous={floor['rps'] / anon['rps']:.2f} "
        f"pages_per_floor={pages['rps'] / floor['rps']:.2f}"
    )


def combine(acc, r) -> dict:
    from bench.common import combine as add_up

    return add_up(acc, r, merge_pages)


def merge_pages(acc, r) -> dict:
    """Each page's requests, worst p99 and mean over the rounds."""
    pages = {k: dict(v) for k, v in acc["pages"].items()}
    for k, v in r["pages"].items():
        if k in pages:
            n = pages[k]["n"] + v["n"]
            pages[k] = {
                "n": n,
                "p99_ms": max(pages[k]["p99_ms"], v["p99_ms"]),
                "mean_ms": (pages[k]["mean_ms"] * pages[k]["n"] + v["mean_ms"] * v["n"]) / n,
            }
        else:
            pages[k] = v
    return {"pages": pages}


def seed(n):
    """n learners with a year's history (see the module's docstring), made in bulk."""
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from cpe.accounts.models import User
    from cpe.accounts.sessions import SessionStore  # settings.SESSION_ENGINE (decision 0018)
    from cpe.agreements import selectors as agreement_selectors
    from cpe.agreements.models import AgreementAcceptance
    from cpe.agreements.services import agreement_publish
    from cpe.catalog.models import Chapter, Course, Product, TrainingYear
    from cpe.core.crypto import blind_index
    from cpe.core.timewin import local_date
    from cpe.credits.models import Certificate, CreditRecord
    from cpe.exams import policy as exam_policy
    from cpe.exams.models import Attempt
    from cpe.exams.tests.factories import make_bank
    from cpe.learning.models import ChapterProgress, Enrolment
    from cpe.orders.models import Order

    t = time.time()
    now = timezone.now()
    long_ago = now - timedelta(days=60)
    v1 = agreement_publish(
        version="1.0", title="协议", body="正文", is_minor=False, effective_at=long_ago, at=long_ago
    )
    year = TrainingYear.objects.create(year=local_date(now).year)
    courses = []
    for i, category in enumerate(("professional", "professional", "professional", "public"), 1):
        c = Course.objects.create(
            year=year, code=f"P{i}", title=f"基准课程{i}", category=category, credit_hours=24, position=i
        )
        Chapter.objects.bulk_create(
            [Chapter(course=c, position=p, title=f"第{p}章", duration_seconds=1800) for p in range(1, 6)]
        )
        make_bank(c, per_type=10)
        courses.append(c)
    chapters = {c.pk: list(Chapter.objects.filter(course=c).order_by("position")) for c in courses}
    product = Product.objects.create(code="P-ANNUAL", title="基准年度课程", year=year, price_fen=19800)
    pw = User(username="x")
    pw.set_password("bench-password-1")
    users = User.objects.bulk_create(
        [
            User(
                username=f"p{i}",
                name="基准学员",
                password=pw.password,
                id_number=f"15010219900101{i:04d}",
                mobile=f"139{i:08d}",
                email=f"p{i}@example.com",
                region="150200",
                ais_status="found",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    AgreementAcceptance.objects.bulk_create(
        [
            AgreementAcceptance(
                user=u, version=v1, major_version=v1, decision="accepted", text_hash=v1.text_hash, at=long_ago
            )
            for u in users
        ],
        batch_size=2000,
    )
    paid = now - timedelta(days=30)
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"P{i:010d}",
                user=u,
                product=product,
                subject="基准年度课程",
                amount_fen=19800,
                validity_days=365,
                status="paid",
                created_at=paid,
                paid_at=paid,
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
                valid_until=o.paid_at + timedelta(days=365),
            )
            for o in orders
        ],
        batch_size=2000,
    )
    progress, attempts = [], []
    c1, c2, c3, _c4 = courses
    for e in enrolments:
        for c in (c1, c2):
            progress += [
                ChapterProgress(
                    user=e.user,
                    chapter=ch,
                    intervals=[[0, 1800]],
                    watched_seconds=1800,
                    furthest_position=1800,
                    completed_at=paid + timedelta(days=1),
                )
                for ch in chapters[c.pk]
            ]
        progress += [
            ChapterProgress(
                user=e.user,
                chapter=ch,
                intervals=[[0, 1800]],
                watched_seconds=1800,
                furthest_position=1800,
                completed_at=paid + timedelta(days=2),
            )
            for ch in chapters[c3.pk][:2]
        ]
        progress.append(
            ChapterProgress(
                user=e.user,
                chapter=chapters[c3.pk][2],
                intervals=[[0, 600]],
                watched_seconds=600,
                furthest_position=600,
            )
        )
        started = paid + timedelta(days=3)
        for course, number, score in ((c1, 1, 88), (c2, 1, 42), (c2, 2, 76)):
            attempts.append(
                Attempt(
                    user=e.user,
                    course=course,
                    enrolment=e,
                    number=number,
                    status="graded",
                    started_at=started,
                    deadline=started + timedelta(minutes=60),
                    submitted_at=started + timedelta(minutes=30),
                    score=score,
                    pass_mark=exam_policy.PASS_MARK,
                    passed=score >= exam_policy.PASS_MARK,
                )
            )
    ChapterProgress.objects.bulk_create(progress, batch_size=5000)
    attempts = Attempt.objects.bulk_create(attempts, batch_size=5000)
    by_user = {o.user_id: o for o in orders}
    records = CreditRecord.objects.bulk_create(
        [
            CreditRecord(
                user_id=a.user_id,
                year=year,
                course=a.course,
                course_code=a.course.code,
                course_title=a.course.title,
                category=a.course.category,
                hours=24,
                credits=24,
                score=a.score,
                passed_at=a.submitted_at,
                attempt=a,
                order=by_user[a.user_id],
                created_at=a.submitted_at,
            )
            for a in attempts
            if a.passed
        ],
        batch_size=5000,
    )
    Certificate.objects.bulk_create(
        [
            Certificate(
                number=f"PC{i:09d}",
                kind="course",
                user_id=r.user_id,
                year=year,
                record=r,
                holder_name="基准学员",
                title=r.course_title,
                hours=24,
                professional_hours=24,
                credits=24,
                issued_at=r.passed_at,
            )
            for i, r in enumerate(records)
        ],
        batch_size=5000,
    )
    required = agreement_selectors.required_major_id(now)
    out = []
    for u in users:
        store = SessionStore()
        store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(u.pk), "cpe.accounts.auth.IdentifierBackend"
        store[HASH_SESSION_KEY] = u.get_session_auth_hash()
        store["agreement_ok"] = required
        store.create()
        u.session_key_hash = blind_index("session_key", store.session_key)
        out.append(
            {
                "sid": store.session_key,
                "csrf": secrets.token_hex(16),
                "pages": [
                    ("dashboard", "/accounts/dashboard/"),
                    ("catalog", "/courses/"),
                    ("course", f"/learn/course/{c3.pk}/"),
                    ("player", f"/learn/chapter/{chapters[c3.pk][2].pk}/"),
                    ("exam", f"/exams/course/{c2.pk}/"),
                    ("year", f"/credits/year/{year.year}/"),
                    ("orders", "/orders/"),
                ],
            }
        )
    User.objects.bulk_update(users, ["session_key_hash"], batch_size=2000)
    print(f"seeded {n} learners with a year's history in {time.time() - t:.0f}s", flush=True)
    return out


if __name__ == "__main__":
    main()
