"""One process, no server: what each page of bench/pages costs per request (CPU µs of this
process and queries), called through the same WSGI application gunicorn mounts.

    .venv/bin/python bench/pages/cost.py [--learners 20] [--repeat 50] [--profile PAGE]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cpe_bench_profile,
dropped and re-created) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9, flushed).
The page floor (/bench/page-floor/, bench/pages/urls.py) is measured beside the trivial view and
the pages. --profile PAGE prints a pyinstrument profile of that page (pip install pyinstrument).
--split adds the CPU spent in template rendering, in querysets, and in running statements (the
database wrapper's time: sending, waiting for and receiving the result, not turning its rows
into objects)."""

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--profile", default="")
    ap.add_argument("--cprofile", default="")
    ap.add_argument("--queries", action="store_true", help="print each page's SQL")
    ap.add_argument("--save", default="", help="keep the seeded stores; write the learners here")
    ap.add_argument("--load", default="", help="reuse stores seeded by --save (learners file)")
    ap.add_argument("--only", default="", help="measure this page only")
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="under `valgrind --tool=callgrind --instr-atstart=no`: instructions per request of "
        "the measured loop (instrumentation switched on around it with callgrind_control)",
    )
    ap.add_argument("--split", action="store_true", help="CPU in templates, querysets and statements")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # the repository root: bench.common, the settings, cpe
    from bench.common import bench_env, fresh_stores, wsgi_call

    settings = os.environ.get("BENCH_SETTINGS", "bench.pages.settings")
    db_url, redis_url, env = bench_env("cpe_bench_profile", 9, prefix="cpebenchprof", settings=settings)
    if not args.load:
        fresh_stores(db_url, redis_url, env)

    import django

    django.setup()
    from bench.pages.run import seed

    if args.load:
        learners = json.loads(Path(args.load).read_text())
    else:
        learners = seed(args.learners)
    if args.save:
        Path(args.save).write_text(json.dumps(learners))
    from django.db import connection

    from bench.pages.wsgi import application

    def call(path, lr):
        cookie = {} if lr is None else {"HTTP_COOKIE": f"sessionid={lr['sid']}; csrftoken={lr['csrf']}"}
        return wsgi_call(application, "GET", path, **cookie)[0]

    pages = [("anon_hello", "/bench/hello/", False), ("hello", "/bench/hello/", True)]
    pages += [("floor", "/bench/page-floor/", True)]
    pages += [(n, p, True) for n, p in learners[0]["pages"]]
    split = {"tpl": 0, "orm": 0, "db": 0, "depth": 0}
    if args.split:
        from django.db.models.query import QuerySet
        from django.template.backends.django import Template

        def timed(key, fn):
            def wrapper(*a, **kw):
                if split["depth"]:
                    return fn(*a, **kw)
                split["depth"] += 1
                t = time.process_time_ns()
                try:
                    return fn(*a, **kw)
                finally:
                    split[key] += time.process_time_ns() - t
                    split["depth"] -= 1

            return wrapper

        Template.render = timed("tpl", Template.render)
        QuerySet._fetch_all = timed("orm", QuerySet._fetch_all)
        from django.db.models.sql.compiler import SQLCompiler

        SQLCompiler.execute_sql = timed("orm", SQLCompiler.execute_sql)
    if os.environ.get("URL_MEMO_OFF"):  # for a before/after: Django's own {% url %} rendering
        from django.template.defaulttags import URLNode

        from cpe.core.templatetags.url_memo import MemoURLNode

        MemoURLNode.render = URLNode.render
    print(f"{'page':12s} {'cpu_us':>8s} {'median':>8s} {'queries':>7s}")
    for name, path, signed in pages:
        if args.only and name != args.only:
            continue

        def lr(i, signed=signed):
            return learners[i % len(learners)] if signed else None

        for i in range(len(learners)):  # warm: every learner once
            st = call(path, lr(i))
            assert st.startswith("200"), (name, st)
        sql = []  # (request_started resets connection.queries_log: wrap execution instead)
        with connection.execute_wrapper(
            lambda ex, q, params, many, ctx, sql=sql: sql.append(q) or ex(q, params, many, ctx)
        ):
            call(path, lr(1))
        times = []
        split.update(tpl=0, orm=0, db=0)
        if os.environ.get("AB_URL"):  # same-run A/B: the url memo on (A) and off (B), alternating
            from django.template.defaulttags import URLNode

            from cpe.core.templatetags.url_memo import MemoURLNode

            memo_render, ab = MemoURLNode.render, ([], [])
            for i in range(args.repeat * 2):
                MemoURLNode.render = URLNode.render if i % 2 else memo_render
                t = time.process_time_ns()
                call(path, lr(i // 2))
                ab[i % 2].append((time.process_time_ns() - t) / 1000)
            MemoURLNode.render = memo_render
            print(
                f"{name:12s} A/B url memo on {statistics.median(ab[0]):6.0f} "
                f"off {statistics.median(ab[1]):6.0f}"
            )
        if args.callgrind:
            import subprocess

            from django.template.defaulttags import URLNode

            from cpe.core.templatetags.url_memo import MemoURLNode

            def cg(*a):
                subprocess.run(["callgrind_control", *a, str(os.getpid())], check=True, capture_output=True)

            # One dump per page (CALLGRIND_AB=1: two, the url memo on, then Django's own {% url %}
            # rendering). A full garbage collection inside one loop and not the other would dwarf
            # the difference: each loop starts after one.
            memo_render = MemoURLNode.render
            variants = [("memo", memo_render)]
            if os.environ.get("CALLGRIND_AB"):
                variants.append(("django", URLNode.render))
            for variant, render in variants:
                MemoURLNode.render = render
                gc.collect()
                cg("-i", "on")
                for i in range(args.repeat):
                    call(path, lr(i))
                cg(f"--dump={name} {variant}")
                cg("-i", "off")
            MemoURLNode.render = memo_render

        def db_timed(ex, q, params, many, ctx):
            t = time.process_time_ns()
            try:
                return ex(q, params, many, ctx)
            finally:
                split["db"] += time.process_time_ns() - t

        with connection.execute_wrapper(db_timed) if args.split else contextlib.nullcontext():
            for i in range(args.repeat):
                t = time.process_time_ns()
                call(path, lr(i))
                times.append((time.process_time_ns() - t) / 1000)
        print(
            f"{name:12s} {sum(times) / len(times):8.0f} {statistics.median(times):8.0f} "
            f"{len(sql):7d}"
            + (
                f"  template {split['tpl'] / 1000 / args.repeat:6.0f}"
                f"  querysets {split['orm'] / 1000 / args.repeat:6.0f}"
                f"  statements {split['db'] / 1000 / args.repeat:6.0f}"
                if args.split
                else ""
            ),
            flush=True,
        )
        if args.queries:
            for q in sql:
                print("     ", q[:300])
        if name == args.profile:
            from pyinstrument import Profiler

            p = Profiler(interval=0.0002)
            p.start()
            for i in range(args.repeat):
                call(path, lr(i))
            p.stop()
            print(p.output_text(unicode=True, color=False, show_all=bool(os.environ.get("SHOW_ALL"))))
        if name == args.cprofile:
            import cProfile
            import pstats

            pr = cProfile.Profile(time.process_time)
            pr.enable()
            for i in range(args.repeat):
                call(path, lr(i))
            pr.disable()
            stats = pstats.Stats(pr).sort_stats(os.environ.get("SORT", "cumulative"))
            stats.print_stats(int(os.environ.get("N", "60")))
            if os.environ.get("CALLERS"):  # who calls the functions matching this pattern
                stats.print_callers(os.environ["CALLERS"])


if __name__ == "__main__":
    main()
