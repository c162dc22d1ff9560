"""
`python -m bench.export [--rows 1000000]`: the admin's ledger export (Deliveries, "Export CSV") on
a million rows, streamed, against the same rows loaded first as a non-streaming response would.

Creates its own database (coursehub_bench_export), fills notifications_delivery with `--rows` rows
in one INSERT ... SELECT, then, in this process:

1. streams the export view's response (a StreamingHttpResponse over `.iterator(chunk_size=2000)`),
   counting bytes: time, rows a second, and the growth of the process's peak memory (ru_maxrss);
2. builds the same CSV from a list of every row (what an HttpResponse of the whole file does):
   the same figures.

Peak memory is a high-water mark, so the streamed run goes first. The ratio of the two growths is the
figure to read; absolute numbers depend on the machine.
"""

import argparse
import csv
import io
import os
import resource
import sys
import time

from . import database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/coursehub_bench_export"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def fill(url: str, rows: int) -> None:
    from django.db import connection

    with database.connect(url) as conn:
        database.set_column_defaults(conn)
        conn.commit()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at) "
            "VALUES ('session_24h', 'bench-export', '', NULL, now()) RETURNING id"
        )
        (event_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO notifications_delivery (event_id, channel, to_address, status, attempts, created_at,"
            " next_attempt_at, sent_at, cost) "
            "SELECT %s, CASE WHEN n %% 5 = 0 THEN 'whatsapp' ELSE 'email' END,"
            " 'student' || n || '@example.com', CASE WHEN n %% 50 = 0 THEN 'failed' ELSE 'sent' END, 1,"
            " now() - (n || ' seconds')::interval, now(), now(), CASE WHEN n %% 5 = 0 THEN 0.1150 END "
            "FROM generate_series(1, %s) AS n",
            [event_id, rows],
        )


def export_request():
    from django.contrib import admin
    from django.test import RequestFactory

    from lms.models import User
    from notifications.models import Delivery

    user = User.objects.create_superuser(email="bench@example.com", password="Bench-export-password-1")
    request = RequestFactory().get("/admin/notifications/delivery/export.csv")
    request.user = user
    return admin.site._registry[Delivery], request


def streamed(model_admin, request) -> tuple[float, int, float]:
    before, started = peak_mb(), time.perf_counter()
    response = model_admin.export_view(request)
    size = sum(len(chunk) for chunk in response.streaming_content)
    return time.perf_counter() - started, size, peak_mb() - before


def loaded(model_admin, request) -> tuple[float, int, float]:
    before, started = peak_mb(), time.perf_counter()
    queryset = model_admin.export_queryset(request)
    rows = list(queryset.values_list(*[lookup for _, lookup in model_admin.export_columns]).order_by("pk"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _ in model_admin.export_columns])
    writer.writerows(rows)
    body = buffer.getvalue().encode()
    return time.perf_counter() - started, len(body), peak_mb() - before


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_EXPORT_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    url = database.bench_database_url(args.database_url)
    os.environ.setdefault("DJANGO_ENV", "development")  # the benchmark's own database, as `make bench` runs it
    database.create_database(url)
    try:
        database.migrate(url)
        os.environ.update(database.app_env(url))
        import django

        django.setup()
        started = time.perf_counter()
        fill(url, args.rows)
        print(f"{args.rows:,} ledger rows written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        model_admin, request = export_request()
        results = {"streamed (StreamingHttpResponse over .iterator())": streamed(model_admin, request)}
        results["loaded first (a list of every row, then the CSV)"] = loaded(model_admin, request)
    finally:
        if not args.keep_database:
            database.drop_database(url)  # WITH (FORCE): this process's connection goes too
    print(f"Export of {args.rows:,} deliveries (python {sys.version.split()[0]})")
    print(f"{'how':<52} {'seconds':>8} {'rows/s':>9} {'MB':>7} {'peak memory growth':>19}")
    for how, (seconds, size, grown) in results.items():
        print(f"{how:<52} {seconds:8.1f} {args.rows / seconds:9,.0f} {size / 1e6:7.1f} {grown:16.0f} MB")
    (_, _, streamed_mb), (_, _, loaded_mb) = results.values()
    print(f"Memory: streaming grows the peak {loaded_mb / max(streamed_mb, 1):.0f}x less than loading the rows.")


if __name__ == "__main__":
    main()
