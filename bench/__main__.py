"""
`python -m bench [--size small|medium|large] [--database-url URL]`: measure, print, write bench/results/latest.md.

Creates its own database (coursehub_bench unless the URL names another with "bench" in its name),
migrates it with the app's migrations, fills it, measures, and drops it (unless --keep-database).
The whole run keeps to a time budget: a measurement that would run past its share is stopped and
reported with a projection from its rate, so even the large size ends within 15 minutes.
"""

import argparse
import dataclasses
import os
import signal
import sys
import time
import traceback
from urllib.parse import urlsplit

from . import PHASES, database, processes
from .sizes import SIZES


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark planning, the ledger, memory, web reads, dispatch, a blast and lead import"
        " on a PostgreSQL database of its own.",
    )
    parser.add_argument("--size", choices=SIZES, default="small", help="how much data (default: small)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", database.DEFAULT_URL),
        help=f"PostgreSQL database to create and drop (default: {database.DEFAULT_URL})",
    )
    parser.add_argument(
        "--sessions", type=int, help="live sessions in the next 24 h (default: one per course of the size)"
    )
    parser.add_argument("--budget-minutes", type=float, default=14.0, help="time budget of the whole run")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the fake provider's answer time")
    parser.add_argument("--messages-per-worker", type=int, default=3000, help="emails queued per dispatch worker")
    parser.add_argument("--blast", type=int, default=100_000, help='"starting soon" emails in the blast')
    parser.add_argument(
        "--blast-seconds", type=float, default=150.0, help="time limit of the blast's run with every worker"
    )
    parser.add_argument("--only", nargs="+", choices=PHASES, default=list(PHASES), help="measure only these")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--report", action="store_true", help="measure nothing: rewrite latest.md from the saved run of --size"
    )
    return parser.parse_args(argv)


class Progress:
    def __init__(self):
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f} s] {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report:
        return report_only(args.size)
    size = SIZES[args.size]
    if args.sessions:
        # Saved and reported apart from the default size's runs (bench/results/large-5000-sessions.json).
        size = dataclasses.replace(size, name=f"{size.name}-{args.sessions}-sessions", sessions=args.sessions)
    url = database.bench_database_url(args.database_url)
    log = Progress()
    shown = urlsplit(url)._replace(netloc=urlsplit(url).hostname or "").geturl()
    log(f"size {size.name}: creating {shown}")
    database.create_database(url)
    try:
        database.migrate(url)
        # Settings are read from the environment when Django sets up: point them at our database.
        os.environ.update(database.app_env(url))
        import django

        django.setup()
        from .run import run_all

        results = run_all(args=args, size=size, url=url, log=log)
    finally:
        processes.stop_all()
        if not args.keep_database:
            _close_django_connections()
            database.drop_database(url)
    from .report import save

    _, runs = save(results)
    show(results, runs)
    return 1 if results.errors else 0


def show(results, runs) -> None:
    """Print the tables, write latest.md and print it (to paste into the README)."""
    from .report import render_text, write_markdown

    path, markdown = write_markdown(results, runs)
    print(render_text(results, runs))
    print(f"\nMarkdown (also in {path.relative_to(database.BASE_DIR)}):\n")
    print(markdown)


def report_only(size: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()  # the result rows live beside the code that measures them, which imports the app
    from .report import saved_runs

    runs = saved_runs()
    if size not in runs:
        print(f"No saved {size} run in bench/results/: run `python -m bench --size {size}` first.", file=sys.stderr)
        return 1
    show(runs[size], runs)
    return 0


def _close_django_connections() -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # so the database is dropped and the workers stopped on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        sys.exit(2)
