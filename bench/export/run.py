"""bench/export: a year of 250 000 learners with their credit records exported to Excel
(reporting.services.export_run, the body of the Celery task) in < 60 s with peak memory
< 300 MB in the exporting process.

    .venv/bin/python bench/export/run.py [--learners 250000] [--records 2] [--reuse]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_export,
dropped, re-created and seeded unless --reuse finds it seeded with the same sizes) and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/7). Seeding goes through bulk_create in chunks,
so the encrypted ID numbers and mobiles (250 000 distinct each, unique blind indexes) are real
ciphertexts. The export runs in a fresh subprocess, which reports its own figures: wall time
of export_run, and peak RSS (resource.getrusage ru_maxrss: the whole process, interpreter and
Django included), and the size of the file it stored, asked of the platform's export storage
(reporting.services.export_storage). With --tracemalloc it also reports Python's own peak
allocation (slower).
Last line: RESULT rows=… seconds=… peak_mb=…"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
YEAR = time.gmtime().tm_year  # this year: the export of the year being trained
REGIONS = [
    "150000",
    "150100",
    "150200",
    "150300",
    "150400",
    "150500",
    "150600",
    "150700",
    "150800",
    "150900",
    "152200",
    "152500",
    "152900",
    "150781",
    "152501",
]


def django_setup():
    import django

    django.setup()


def seed(learners: int, records: int, chunk: int = 5000):
    """Users, orders, enrolments, attempts, credit records and (for most) a sent AIS report."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from cpe.accounts.models import User
    from cpe.catalog.models import Course, Product, ProductKind, TrainingYear
    from cpe.credits.models import CreditRecord
    from cpe.exams.models import Attempt
    from cpe.learning.models import Enrolment
    from cpe.orders.models import Order
    from cpe.reporting.models import AisReport

    now = timezone.now()
    ty = TrainingYear.objects.create(
        year=YEAR, required_hours=90, professional_min_hours=60, credits_per_hour=1
    )
    product = Product.objects.create(
        code=f"{YEAR}-ANNUAL", title=f"{YEAR} 年度课程", kind=ProductKind.ANNUAL, year=ty, price_fen=19800
    )
    titles = [
        "会计基础规范",
        "=税法实务（测试转义）",
        "企业内部控制",
        "政府会计准则",
        "-管理会计指引",
        "职业道德",
    ]
    courses = [
        Course.objects.create(
            year=ty,
            code=f"{YEAR}P{i:02d}",
            title=titles[i % len(titles)] + f"{i}",
            category="professional" if i % 3 else "public",
            credit_hours=24 if i % 3 else 12,
        )
        for i in range(max(records, 6))
    ]
    names = [
        "张伟",
        "王芳",
        "李娜",
        "刘洋",
        "陈静",
        "杨磊",
        "赵敏",
        "黄强",
        "周杰",
        "吴霞",
        "其木格",
        "巴特尔",
    ]
    employers = [
        "呼和浩特市某会计师事务所",
        "包头市某钢铁公司",
        "鄂尔多斯市某能源公司",
        "+赤峰市某商贸公司",
        "乌海市某化工厂",
    ]
    at = now - timedelta(days=30)
    t0, done = time.time(), 0
    for start in range(0, learners, chunk):
        n = min(chunk, learners - start)
        users = [
            User(
                username=f"b{start + i:09d}",
                name=names[(start + i) % len(names)],
                id_number=f"150102{start + i:011d}X",
                mobile=f"13{start + i:09d}",
                employer=employers[(start + i) % len(employers)],
                region=REGIONS[(start + i) % len(REGIONS)],
                password="!bench",
                ais_status="found",
                date_joined=at,
            )
            for i in range(n)
        ]
        users = User.objects.bulk_create(users)
        orders = Order.objects.bulk_create(
            [
                Order(
                    number=f"B{u.pk:012d}",
                    user=u,
                    product=product,
                    subject=product.title,
                    amount_fen=19800,
                    validity_days=365,
                    status="paid",
                    created_at=at,
                    paid_at=at,
                )
                for u in users
            ]
        )
        enrols = Enrolment.objects.bulk_create(
            [
                Enrolment(
                    user_id=o.user_id,
                    product=product,
                    order=o,
                    year=ty,
                    valid_from=at,
                    valid_until=at + timedelta(days=365),
                )
                for o in orders
            ]
        )
        attempts = Attempt.objects.bulk_create(
            [
                Attempt(
                    user_id=e.user_id,
                    course=courses[k],
                    enrolment=e,
                    number=1,
                    status="graded",
                    started_at=at,
                    deadline=at + timedelta(hours=1),
                    submitted_at=at + timedelta(minutes=30 + k),
                    score=80 + k,
                    pass_mark=60,
                    passed=True,
                )
                for e in enrols
                for k in range(records)
            ]
        )
        recs = CreditRecord.objects.bulk_create(
            [
                CreditRecord(
                    user_id=a.user_id,
                    year=ty,
                    course=a.course,
                    course_code=a.course.code,
                    course_title=a.course.title,
                    category=a.course.category,
                    hours=a.course.credit_hours,
                    credits=a.course.credit_hours,
                    score=a.score,
                    passed_at=a.submitted_at,
                    attempt=a,
                    order_id=a.enrolment.order_id,
                    created_at=a.submitted_at,
                )
                for a in attempts
            ]
        )
        # Most were reported (a receipt); the rest wait. The bodies are not needed by the export.
        AisReport.objects.bulk_create(
            [
                AisReport(
                    kind="credit",
                    record=r,
                    idempotency_key=f"cpe-credit-{r.uid}",
                    body="",
                    state="sent" if r.pk % 10 else "pending",
                    receipt_no=f"AIS{r.pk:012d}" if r.pk % 10 else "",
                    attempts=1 if r.pk % 10 else 0,
                    created_at=now,
                    updated_at=now,
                )
                for r in recs
            ]
        )
        done += n
        if start // chunk % 10 == 0:
            print(f"  seeded {done} learners ({time.time() - t0:.0f} s)", flush=True)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(
        f"seeded {learners} learners, {learners * records} credit records in {time.time() - t0:.0f} s",
        flush=True,
    )


def export_once(trace: bool):
    """In a fresh process: run one export job and print its figures as JSON."""
    import resource

    if trace:
        import tracemalloc

        tracemalloc.start()
    django_setup()
    from django.utils import timezone

    from cpe.reporting.models import ExportJob
    from cpe.reporting.services import export_file_name, export_run, export_storage

    job = ExportJob.objects.create(year=YEAR, created_at=timezone.now())
    t = time.perf_counter()
    job = export_run(job_id=job.pk)
    seconds = time.perf_counter() - t
    out = {
        "rows": job.rows_done,
        "seconds": round(seconds, 1),
        "status": job.status,
        "error": job.error,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "file": job.file,
    }
    if trace:
        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    # The file is where the platform put it: the "exports" storage (EXPORT_ROOT, or the bucket).
    name = export_file_name(job)
    out["file_mb"] = round(export_storage().size(name) / 2**20, 1) if name else 0
    print("EXPORT " + json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=250_000)
    ap.add_argument("--records", type=int, default=2, help="credit records per learner")
    ap.add_argument("--reuse", action="store_true", help="keep the database if it is seeded with these sizes")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--export-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import bench_env

    db_url, redis_url, env = bench_env(
        "cpe_bench_export", 7, prefix="cpebenchexp", settings="bench.export.settings"
    )
    if args.export_only:
        return export_once(args.tracemalloc)

    import psycopg
    import redis

    dbname = db_url.rsplit("/", 1)[1]
    expected = args.learners * args.records
    seeded = False
    if args.reuse:
        try:
            with psycopg.connect(db_url) as c:
                seeded = c.execute("SELECT count(*) FROM credits_creditrecord").fetchone()[0] == expected
        except psycopg.Error:
            seeded = False
    if not seeded:
        with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{dbname}"')
        redis.Redis.from_url(redis_url).flushdb()
        t = time.time()
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        print(f"migrated in {time.time() - t:.0f} s", flush=True)
        django_setup()
        seed(args.learners, args.records)
    else:
        print(f"reusing {dbname}: {expected} credit records", flush=True)
    cmd = [PY, str(Path(__file__).resolve()), "--export-only"] + (
        ["--tracemalloc"] if args.tracemalloc else []
    )
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stderr.write(proc.stderr[-3000:])
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("EXPORT ")), None)
    if line is None:
        print(proc.stdout[-2000:])
        sys.exit("the export process failed")
    figures = json.loads(line[7:])
    print(f"export: {json.dumps(figures, ensure_ascii=False)}")
    ok = figures["status"] == "done" and figures["rows"] == expected
    print(
        f"learners={args.learners} records={expected} target: < 60 s, < 300 MB; "
        f"{'OK' if ok and figures['seconds'] < 60 and figures['peak_rss_mb'] < 300 else 'MISSED'}"
    )
    print(f"RESULT rows={figures['rows']} seconds={figures['seconds']} peak_mb={figures['peak_rss_mb']}")


if __name__ == "__main__":
    main()
