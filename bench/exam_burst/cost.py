"""One process, no server: what one exam submission costs (CPU µs of this process, queries),
beside a signed-in trivial POST of the same form, through the WSGI application gunicorn mounts.

    .venv/bin/python bench/exam_burst/cost.py [--learners 200] [--cprofile]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_profile,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9, flushed)."""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=200)
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--queries", action="store_true")
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="under `valgrind --tool=callgrind --instr-atstart=no`: with AB=1, one dump of the "
        "new code's submissions and one of the old's (callgrind_control switches counting on)",
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import bench_env, fresh_stores, wsgi_call

    db_url, redis_url, env = bench_env(
        "cpe_bench_profile", 9, prefix="cpebenchprof", settings="bench.exam_burst.settings"
    )
    fresh_stores(db_url, redis_url, env)
    import django

    django.setup()
    from bench.exam_burst.run import seed

    learners, expected = seed(args.learners)
    from django.db import connection

    from bench.exam_burst.wsgi import application

    def post(lr, path):
        body = urlencode(
            [(f"q{pos}", v) for pos, vals in lr["answers"].items() for v in vals]
            + [("csrfmiddlewaretoken", lr["csrf"])]
        ).encode()
        return wsgi_call(
            application,
            "POST",
            path,
            body,
            HTTP_REFERER="http://b/",
            CONTENT_TYPE="application/x-www-form-urlencoded",
            HTTP_COOKIE=f"sessionid={lr['sid']}; csrftoken={lr['csrf']}",
        )[0]

    def measure(name, path_of, group, expect):
        times = []
        for lr in group:
            t = time.process_time_ns()
            st = post(lr, path_of(lr))
            times.append((time.process_time_ns() - t) / 1000)
            assert st.startswith(expect), (name, st)
        print(f"{name:12s} cpu_us mean {sum(times) / len(times):7.0f} median {statistics.median(times):7.0f}")

    def sub(lr):
        return f"/exams/attempt/{lr['attempt']}/submit/"

    for lr in learners[:10]:  # warm
        post(lr, "/bench/hello/")
    post(learners[0], sub(learners[0]))
    post(learners[1], sub(learners[1]))
    sql = []
    with connection.execute_wrapper(lambda ex, q, p, m, c: sql.append(q) or ex(q, p, m, c)):
        post(learners[2], "/bench/hello/")
        n_hello = len(sql)
        post(learners[2], sub(learners[2]))  # a pass (even index)
        n_pass = len(sql) - n_hello
        post(learners[3], sub(learners[3]))  # a fail
        n_fail = len(sql) - n_hello - n_pass
    print(f"queries: hello POST {n_hello}, submission pass {n_pass}, fail {n_fail}")
    if args.queries:
        for q in sql:
            print("   ", q[:200])
    rest = learners[4:]
    half = len(rest) // 2
    measure("hello POST", lambda lr: "/bench/hello/", rest[:100], "200")
    if args.cprofile:
        import cProfile
        import pstats

        pr = cProfile.Profile(time.process_time)
        pr.enable()
        for lr in rest[:half]:
            post(lr, sub(lr))
        pr.disable()
        pstats.Stats(pr).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(
            int(os.environ.get("N", "80"))
        )
    else:
        measure("submission", sub, rest[:half], "302")
    if os.environ.get("AB"):  # same-run A/B: cpe/exams/_old_services.py (a copy, not committed)
        import importlib

        from cpe.exams import views

        new, old = views.services, importlib.import_module("cpe.exams._old_services")
        ta, tb = [], []
        if args.callgrind:
            import subprocess

            def cg(*a):
                subprocess.run(["callgrind_control", *a, str(os.getpid())], check=True, capture_output=True)

            group = rest[half : half + 20]
            cg("-i", "on")
            for lr in group:  # new code, alternately a pass and a fail
                assert post(lr, sub(lr)).startswith("302")
            cg("-d")
            views.services = old
            for lr in rest[half + 20 : half + 40]:
                assert post(lr, sub(lr)).startswith("302")
            cg("-d")
            cg("-i", "off")
            views.services = new
            rest = rest[: half + 40]  # the others stay open
            expected = {
                k: v for k, v in expected.items() if k in {lr["attempt"] for lr in learners[: 4 + half + 40]}
            }
            print("callgrind: first dump the new code's 20 submissions, second the old code's")
        for k, lr in enumerate(rest[half + 40 if args.callgrind else half :]):
            views.services = old if (k // 2) % 2 else new
            t = time.process_time_ns()
            assert post(lr, sub(lr)).startswith("302")
            (tb if (k // 2) % 2 else ta).append((time.process_time_ns() - t) / 1000)
        views.services = new
        if ta and tb:
            print(
                f"A/B new median {statistics.median(ta):.0f} mean {sum(ta) / len(ta):.0f}  "
                f"old median {statistics.median(tb):.0f} mean {sum(tb) / len(tb):.0f}"
            )
    elif args.callgrind:  # one dump: 20 submissions, alternately a pass and a fail
        import subprocess

        def cg(*a):
            subprocess.run(["callgrind_control", *a, str(os.getpid())], check=True, capture_output=True)

        group = rest[half : half + 20]
        cg("-i", "on")
        for lr in group:
            assert post(lr, sub(lr)).startswith("302")
        cg("-d")
        cg("-i", "off")
        expected = {
            k: v for k, v in expected.items() if k in {lr["attempt"] for lr in learners[: 4 + half + 20]}
        }
        print("callgrind: one dump, 20 submissions")
    else:
        measure("submission", sub, rest[half:], "302")
    from cpe.exams.models import Attempt

    graded = dict(Attempt.objects.filter(status="graded").values_list("pk", "score"))
    assert graded == expected, "a submission was lost or mis-graded"


if __name__ == "__main__":
    main()
