"""
A simulated month of the attention budget: students in five time zones, several courses each, their
live sessions, recordings, assignments and payments, and a lead drip, over 30 simulated days.

`python -m bench.attention_month [--students 25000] [--days 30] [--database-url URL]`

The month is generated once (SQL, no Python per row) into its own database, then run on two copies
of it, step by step: once with the budget OFF (the claim as it was before the budget: `apply_attention_budget` not
called) and once ON (the app's defaults: quiet hours 21:00-08:00 local, marketing 10:00-21:00 local, a
cap of 3 a day; a student in seven sets their own quiet hours and digest hour). The simulated clock steps
every 15 minutes; at each step the real planning jobs whose schedule falls in the step run with `now=`
the step, then dispatch sends everything due (Django's dummy email backend; in-app rows are written when
planned). Planning and dispatch are timed; generating and checking are not.

Then, on the ON run's ledger, each beside its target: normal or low messages handed to a provider inside
the recipient's quiet hours (0), marketing outside 10:00-21:00 local (0), the most non-critical events a
student was sent in one local day (<= the cap), critical messages held (0); and the time ratio ON/OFF
(<= 1.1).

Volume: 25,000 students in 3 courses each, with a session every day in every course, is some 300,000
messages a day, a month of which takes hours on a 2-core machine. The students, their zones and courses
stay; a course has a session every --every-days days (default 168, one course in 200 every day, so its
students reach the cap), each with its recording and an assignment due two days later: about 3,000
messages a day. The run stops at the first simulated midnight past --budget-minutes and reports the
days it simulated.
"""

import argparse
import datetime as dt
import os
import sys
import time
import zoneinfo
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

from . import database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/coursehub_attn_bench"
ZONES = ("Asia/Kolkata", "Asia/Dubai", "Europe/London", "America/New_York", "Asia/Singapore")
STEP = dt.timedelta(minutes=15)
COURSES_PER_STUDENT = 3
PER_COURSE = 150
INTENSIVE_EVERY = 200  # one course in this many has a session every day
# The jobs the month runs, with the bench's schedules (minutes between runs, or a daily UTC time). Each
# planning job costs 0.1-0.3 s a run whatever it finds, so those whose window allows it run every 30
# minutes (the app runs the 24-hour job every 10); "starting soon" (a 15-minute window) and dispatch run
# every 15. The lead drip runs at 17:00 UTC (22:30 at the site, Asia/Kolkata): outside the marketing
# window, so the budget has offers to hold.
JOBS = {
    "session_reminders_24h": 30,
    "session_reminders_15min": 15,
    "recording_notifications": 30,
    "assignment_reminders": 360,
    "payment_reminders": dt.time(10, 0),
    "lead_follow_ups": dt.time(17, 0),
    "attention_digests": 30,
}

NAME = (
    "(ARRAY['Asha','Ravi','Priya','Arjun','Meera','Kiran','Divya','Rahul','Sneha','Vikram'])[1 + n %% 10] || ' Verma'"
)
STATEMENTS = {
    "users": f"""
        INSERT INTO lms_user (id, password, is_superuser, is_staff, is_active, date_joined, email, name, role,
                              phone, whatsapp_opt_in, timezone, locale, language)
        SELECT n, '!bench', false, false, true, %(start)s - interval '100 days', 'student' || n || '@example.com',
               {NAME}, 'student', '', false,
               (ARRAY['Asia/Kolkata','Asia/Dubai','Europe/London','America/New_York','Asia/Singapore'])[1 + n %% 5],
               'en_IN', CASE WHEN n %% 4 = 1 THEN 'hi' ELSE 'en' END
        FROM generate_series(1, %(students)s) n
    """,
    # A student in seven keeps their own hours: quiet 22:00-07:00, digest at 20:00.
    "preferences": """
        INSERT INTO notifications_attentionpreference (user_id, quiet_start, quiet_end, digest_hour, updated_at)
        SELECT n, '22:00', '07:00', 20, %(start)s FROM generate_series(1, %(students)s) n WHERE n %% 7 = 0
    """,
    "courses": """
        INSERT INTO lms_course (id, title, slug, description, price, currency, is_active, created_at)
        SELECT c, 'Course ' || c, 'course-' || c, '', 4999, 'INR', true, %(start)s - interval '200 days'
        FROM generate_series(1, %(courses)s) c
    """,
    # Course c holds students (c-1)*PER_COURSE .. c*PER_COURSE-1 (mod students): each student three courses.
    "enrollments": """
        INSERT INTO lms_enrollment (course_id, student_id, is_active, enrolled_at)
        SELECT c, ((c - 1) * %(per_course)s + k) %% %(students)s + 1, true, %(start)s - interval '30 days'
        FROM generate_series(1, %(courses)s) c, generate_series(0, %(per_course)s - 1) k
    """,
    # A course's sessions: every --every-days days (every day for one course in INTENSIVE_EVERY), at a
    # quarter hour of its own, so reminders fall at every hour of the day in every zone.
    "sessions": """
        INSERT INTO lms_livesession (course_id, title, scheduled_at, duration_minutes, meeting_url, is_cancelled,
                                     sequence)
        SELECT c, 'Class ' || d || ' of course ' || c,
               %(start)s + d * interval '1 day' + ((c * 37) %% 96) * interval '15 minutes', 60,
               'https://meet.example.com/c' || c || 'd' || d, false, 0
        FROM generate_series(1, %(courses)s) c, generate_series(0, %(days)s - 1) d
        WHERE c %% %(intensive)s = 0 OR (d + c) %% %(every)s = 0
    """,
    "recordings": """
        INSERT INTO lms_recording (session_id, url, visible_to_students, published_at, created_at)
        SELECT id, 'https://videos.example.com/r' || id, true, scheduled_at + interval '2 hours',
               scheduled_at + interval '2 hours'
        FROM lms_livesession
    """,
    "assignments": """
        INSERT INTO lms_assignment (course_id, title, description, deadline)
        SELECT course_id, 'Homework for ' || title, '', scheduled_at + interval '2 days' FROM lms_livesession
    """,
    # One student in ten has a payment pending, three days old on a day of the month.
    "payments": """
        INSERT INTO lms_payment (student_id, course_id, amount, currency, status, description, payment_url,
                                 created_at)
        SELECT n, (n / %(per_course)s) %% %(courses)s + 1, 4999, 'INR', 'pending', 'Course fee',
               'https://pay.example.com/p/' || n,
               %(start)s - interval '3 days' + (n / 10 %% %(days)s) * interval '1 day' + interval '1 hour'
        FROM generate_series(1, %(students)s) n WHERE n %% 10 = 0
    """,
    "lead_batch": """
        INSERT INTO leads_importbatch (id, source, filename, status, total_rows, created_count, duplicate_count,
                                       invalid_count, report, created_at)
        VALUES (1, 'bench', 'bench.csv', 'completed', %(leads)s, %(leads)s, 0, 0, '[]', %(start)s - interval '5 days')
    """,
    "lead_campaign": """
        INSERT INTO leads_leadcampaign (id, name, import_batch_id, status, total_leads, conversions, cost, currency,
                                        started_at, created_at)
        VALUES (1, 'Bench campaign', 1, 'active', %(leads)s, 0, 0, 'INR', %(start)s - interval '5 days',
                %(start)s - interval '5 days')
    """,
    # Leads first contacted over the month (and the three days before), each due its Day 3 and Day 7 mail.
    "leads": f"""
        INSERT INTO leads_lead (id, email, name, phone, status, import_batch_id, campaign_id, source, data,
                                first_contacted_at, last_contacted_at, follow_up_day3_sent, follow_up_day7_sent,
                                created_at, language)
        SELECT n, 'lead' || n || '@example.org', {NAME}, '', 'contacted', 1, 1, 'bench', '{{}}',
               %(start)s - interval '3 days' + (n %% %(days)s) * interval '1 day',
               %(start)s - interval '3 days' + (n %% %(days)s) * interval '1 day', false, false,
               %(start)s - interval '5 days', CASE WHEN n %% 4 = 1 THEN 'hi' ELSE 'en' END
        FROM generate_series(1, %(leads)s) n
    """,
}
EXPLICIT_ID_TABLES = ("lms_user", "lms_course", "leads_importbatch", "leads_leadcampaign", "leads_lead")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.attention_month", description=__doc__.split("\n\n")[1])
    parser.add_argument("--students", type=int, default=25_000, help="students (default 25,000)")
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    parser.add_argument(
        "--every-days", type=int, default=168, help="days between a course's sessions (default 168; 1: daily)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help=f"PostgreSQL database to create and drop, with 'bench' in its name (default: {DEFAULT_URL})",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=45.0,
        help="stop at the first simulated midnight past this much time (default 45); the checks and the ratio"
        " are of the days simulated",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop the databases at the end")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


def renamed(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}{suffix}"))


def main(argv=None) -> int:
    args = parse_args(argv)
    url = database.bench_database_url(args.database_url)
    runs = {"off": renamed(url, "_off"), "on": renamed(url, "_on")}
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=args.days + 2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    database.create_database(url)
    try:
        database.migrate(url)
        # The app's defaults for the budget (app_env sets them for the other benches' measurements).
        env = database.app_env(url)
        for name in ("NOTIFICATIONS_QUIET_HOURS", "NOTIFICATIONS_DAILY_CAP", "NOTIFICATIONS_MARKETING_HOURS"):
            env.pop(name, None)
            os.environ.pop(name, None)
        os.environ.update(env)
        import django

        django.setup()
        with database.connect(url) as conn:
            conn.autocommit = True
            database.set_column_defaults(conn)
            counts = generate(conn, args=args, start=start)
        log("generated: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
        for run_url in runs.values():
            copy_database(url, run_url)
        log(f"{args.days} days from {start:%Y-%m-%d}, budget OFF and ON step by step")
        results = simulate(args=args, start=start, runs=runs)
        for name in ("off", "on"):
            use_database(runs[name])
            results[name]["ledger"] = ledger_counts()
        checks = check(start=start)
        show(args, counts, results, checks)
        failed = [name for name, (value, target, ok) in checks.items() if not ok]
        return 1 if failed or results["on"]["seconds"] > 1.1 * results["off"]["seconds"] else 0
    finally:
        if not args.keep_database:
            if "django" in sys.modules and os.environ.get("DJANGO_SETTINGS_MODULE"):
                from django.db import connections

                connections.close_all()
            for run_url in (*runs.values(), url):
                database.drop_database(run_url)


def generate(conn, *, args, start: dt.datetime) -> dict:
    courses = max(1, args.students * COURSES_PER_STUDENT // PER_COURSE)
    params = {
        "start": start,
        "students": args.students,
        "courses": courses,
        "per_course": PER_COURSE,
        "days": args.days,
        "every": args.every_days,
        "intensive": INTENSIVE_EVERY,
        "leads": args.students // 5,
    }
    with conn.transaction():
        for statement in STATEMENTS.values():
            conn.execute(statement, params)
        for table in EXPLICIT_ID_TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
    conn.execute("VACUUM (ANALYZE)")
    tables = {
        "students": "lms_user",
        "courses": "lms_course",
        "enrollments": "lms_enrollment",
        "sessions": "lms_livesession",
        "recordings": "lms_recording",
        "assignments": "lms_assignment",
        "pending payments": "lms_payment",
        "leads": "leads_lead",
    }
    return {name: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for name, table in tables.items()}


def copy_database(template: str, url: str) -> None:
    from psycopg import sql

    with database.connect(database.maintenance_url(template)) as conn:
        conn.autocommit = True
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.database_name(url)))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(database.database_name(url)), sql.Identifier(database.database_name(template))
            )
        )


def use_database(url: str) -> None:
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = database.database_name(url)


def due_jobs(at: dt.datetime) -> list[str]:
    """The jobs whose schedule falls in the step that starts at `at`."""
    minutes = at.hour * 60 + at.minute
    due = []
    for name, when in JOBS.items():
        if isinstance(when, dt.time):
            moment = when.hour * 60 + when.minute
            if minutes <= moment < minutes + STEP.seconds // 60:
                due.append(name)
        elif minutes % when == 0:
            due.append(name)
    return due


def simulate(*, args, start: dt.datetime, runs: dict) -> dict:
    """Step the clock through the month, running the due jobs then dispatch on the OFF database, then
    the same step on the ON one (so whatever else the machine does slows both alike); time each."""
    from unittest import mock

    from automation.jobs import get_job
    from notifications.services.dispatch import claim, dispatch_due_deliveries

    bypass = mock.patch.object(claim, "apply_attention_budget", lambda rows, *, now: rows)
    times = {name: {"planning": 0.0, "dispatch": 0.0} for name in runs}
    by_job = {name: Counter() for name in runs}
    steps = int(dt.timedelta(days=args.days) / STEP)
    deadline = time.monotonic() + args.budget_minutes * 60
    days = args.days
    for step in range(steps):
        now = start + step * STEP
        if now.hour == 0 and now.minute == 0 and step and time.monotonic() > deadline:
            days = step * STEP // dt.timedelta(days=1)
            log(f"  stopped after day {days} of {args.days} (time budget)")
            break
        for name, url in runs.items():
            use_database(url)
            if name == "off":
                bypass.start()
            try:
                for job in due_jobs(now):
                    clock = time.perf_counter()
                    get_job(job).function(now=now, dry_run=False)
                    times[name]["planning"] += time.perf_counter() - clock
                    by_job[name][job] += time.perf_counter() - clock
                clock = time.perf_counter()
                dispatch_due_deliveries(now=now)
                times[name]["dispatch"] += time.perf_counter() - clock
            finally:
                if name == "off":
                    bypass.stop()
        if now.hour == 0 and now.minute == 0 and step:
            log(
                f"  day {step * STEP // dt.timedelta(days=1)}: "
                + ", ".join(
                    f"{name.upper()} planning {t['planning']:.0f} s, dispatch {t['dispatch']:.0f} s"
                    for name, t in times.items()
                )
            )
    return {
        name: {**t, "seconds": t["planning"] + t["dispatch"], "jobs": by_job[name], "days": days}
        for name, t in times.items()
    }


def ledger_counts() -> dict:
    from django.db.models import Count

    from notifications.models import Delivery

    return dict(Delivery.objects.values_list("status").annotate(n=Count("id")).order_by())


def check(*, start: dt.datetime) -> dict:
    """The ON run's ledger against the budget's promises: {name: (value, target, ok)}."""
    from django.conf import settings
    from django.db import connection

    from notifications.conf import conf
    from notifications.kinds import CRITICAL, LOW, get_kind
    from notifications.services.attention import WITHIN_THE_HOUR, inside

    site = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    zones = {}

    def zone(name):
        if name not in zones:
            zones[name] = zoneinfo.ZoneInfo(name) if name else site
        return zones[name]

    def urgency(kind, expiry, at):
        if expiry is not None and expiry - at <= WITHIN_THE_HOUR:
            return CRITICAL
        return get_kind(kind).urgency_class

    quiet_sent = marketing_outside = 0
    per_day = Counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.kind, d.recipient_id, d.event_id, d.handed_over_at, coalesce(d.expires_at, g.expires_at),
                   u.timezone, p.quiet_start, p.quiet_end
            FROM notifications_delivery d JOIN notifications_messageevent e ON e.id = d.event_id
            LEFT JOIN notifications_messagegroup g ON g.id = d.group_id
            LEFT JOIN lms_user u ON u.id = d.recipient_id
            LEFT JOIN notifications_attentionpreference p ON p.user_id = d.recipient_id
            WHERE d.handed_over_at IS NOT NULL
            """
        )
        for kind, user, event, at, expiry, tz, quiet_start, quiet_end in cursor:
            level = urgency(kind, expiry, at)
            if level == CRITICAL:
                continue
            local = at.astimezone(zone(tz or ""))
            quiet = (quiet_start, quiet_end) if quiet_start is not None else conf.quiet_hours
            quiet_sent += inside(quiet, local.time())
            if level == LOW:
                marketing_outside += not inside(conf.marketing_hours, local.time())
            if user is not None:
                per_day[(user, local.date(), event)] = 1
        cursor.execute(
            """
            SELECT e.kind, h.at, coalesce(d.expires_at, g.expires_at)
            FROM notifications_deliveryevent h JOIN notifications_delivery d ON d.id = h.delivery_id
            JOIN notifications_messageevent e ON e.id = d.event_id
            LEFT JOIN notifications_messagegroup g ON g.id = d.group_id
            WHERE h.detail LIKE 'held%%'
            """
        )
        critical_held = sum(urgency(kind, expiry, at) == CRITICAL for kind, at, expiry in cursor)
    events_a_day = Counter((user, day) for user, day, _ in per_day)
    most = max(events_a_day.values(), default=0)
    return {
        "normal or low messages sent in quiet hours": (quiet_sent, "0", quiet_sent == 0),
        "marketing sent outside 10:00-21:00 local": (marketing_outside, "0", marketing_outside == 0),
        "most non-critical messages to a student in a local day": (
            most,
            f"<= {conf.daily_cap}",
            most <= conf.daily_cap,
        ),
        "critical messages held": (critical_held, "0", critical_held == 0),
    }


def show(args, counts: dict, results: dict, checks: dict) -> None:
    off, on = results["off"], results["on"]
    ratio = on["seconds"] / off["seconds"] if off["seconds"] else float("nan")
    days = on["days"]
    shown = f"{days} days" if days == args.days else f"{days} of {args.days} days (time budget)"
    print(f"\nAttention budget, a simulated month: {args.students:,} students in {len(ZONES)} zones, {shown},")
    print(
        f"a session every {args.every_days} days a course (every day in 1 course in {INTENSIVE_EVERY}), 15-minute steps"
    )
    print("data: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
    for name in ("off", "on"):
        statuses = ", ".join(f"{n:,} {status}" for status, n in sorted(results[name]["ledger"].items()))
        print(f"ledger with the budget {name.upper()}: {statuses}")
    print(f"\n{'check':58} {'value':>10} {'target':>8}")
    for name, (value, target, ok) in checks.items():
        print(f"{name:58} {value:>10,} {target:>8}  {'ok' if ok else 'FAILED'}")
    print(f"\n{'time (one run each, same data)':58} {'OFF':>10} {'ON':>8}")
    for part in ("planning", "dispatch", "seconds"):
        label = "planning + dispatch" if part == "seconds" else part
        print(f"{label + ' (s)':58} {off[part]:>10.1f} {on[part]:>8.1f}")
    for job in JOBS:
        print(f"{'  ' + job + ' (s)':58} {off['jobs'][job]:>10.1f} {on['jobs'][job]:>8.1f}")
    verdict = "ok" if ratio <= 1.1 else "FAILED"
    print(f"{'ratio ON / OFF':58} {ratio:>10.3f} {'<= 1.1':>8}  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
