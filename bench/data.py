"""
Generate a course business at scale with INSERT ... SELECT generate_series (no Python per row).

Every row is a function of its number, so the benchmark can put state back (the leads' follow-up
flags) without keeping a copy. Times are relative to the benchmark's `now`.
"""

import datetime as dt
import time

import psycopg
from psycopg import sql

from .sizes import ENROLLMENTS_PER_COURSE, Size

# Lead n (its id) is, by n modulo 10: 0-3 due for Day 3, 4-6 due for Day 7, 7 contacted yesterday,
# 8 new (not in the campaign), 9 converted. Every 50th lead has unsubscribed from marketing.
LEAD_STATUS = "CASE WHEN n %% 10 = 8 THEN 'new' WHEN n %% 10 = 9 THEN 'converted' ELSE 'contacted' END"
LEAD_FIRST_CONTACTED = """CASE
    WHEN n %% 10 <= 3 THEN %(now)s - interval '3 days' - (n %% 4) * interval '1 day' - (n %% 600) * interval '1 second'
    WHEN n %% 10 <= 6 THEN %(now)s - interval '8 days' - (n %% 6) * interval '1 day'
    WHEN n %% 10 IN (7, 9) THEN %(now)s - interval '1 day'
END"""
LEAD_DAY3_SENT = "n %% 10 BETWEEN 4 AND 6"
LEAD_LAST_CONTACTED = f"""CASE WHEN {LEAD_DAY3_SENT} THEN ({LEAD_FIRST_CONTACTED}) + interval '3 days'
    ELSE {LEAD_FIRST_CONTACTED} END"""

FIRST_NAMES = "(ARRAY['Asha','Ravi','Priya','Arjun','Meera','Kiran','Divya','Rahul','Sneha','Vikram'])"
LAST_NAMES = "(ARRAY['Verma','Sharma','Iyer','Reddy','Nair','Gupta','Khan','Das','Patel','Singh'])"
NAME = f"{FIRST_NAMES}[1 + n %% 10] || ' ' || {LAST_NAMES}[1 + (n / 10) %% 10]"
TOPICS = "(ARRAY['Python Basics','Data Science','Web Development','Machine Learning','Spoken English','UPSC Prep'])"

STATEMENTS = {
    "users": f"""
        INSERT INTO lms_user (id, password, is_superuser, is_staff, is_active, date_joined, email, name, role,
                              phone, whatsapp_opt_in, timezone, locale, language)
        SELECT n, '!bench', false, false, n %% 100 <> 99, %(now)s - (n %% 700) * interval '1 day',
               'student' || n || '@example.com', {NAME}, 'student',
               '+9198' || lpad((n %% 100000000)::text, 8, '0'), n %% 2 = 0,
               CASE n %% 20 WHEN 0 THEN 'America/New_York' WHEN 1 THEN 'Europe/London' WHEN 2 THEN 'Asia/Dubai'
                            WHEN 3 THEN 'Asia/Singapore' ELSE 'Asia/Kolkata' END,
               CASE n %% 20 WHEN 0 THEN 'en_US' WHEN 1 THEN 'en_GB' ELSE 'en_IN' END, 'en'
        FROM generate_series(1, %(students)s) n
        UNION ALL
        SELECT %(students)s + 1, '!bench', false, false, true, %(now)s - interval '2 years', 'heavy@example.com',
               'Heavy Reader', 'student', '', false, 'Asia/Kolkata', 'en_IN', 'en'
    """,
    "courses": f"""
        INSERT INTO lms_course (id, title, slug, description, price, currency, is_active, created_at)
        SELECT n, 'Course ' || n || ': ' || {TOPICS}[1 + n %% 6], 'course-' || n, '', 4999, 'INR', true,
               %(now)s - interval '200 days'
        FROM generate_series(1, %(courses)s) n
    """,
    "enrollments": """
        INSERT INTO lms_enrollment (course_id, student_id, is_active, enrolled_at)
        SELECT c, ((c - 1) * %(per_course)s + k) %% %(students)s + 1, (c * 7 + k) %% 50 <> 0,
               %(now)s - ((c + k) %% 90) * interval '1 day'
        FROM generate_series(1, %(courses)s) c, generate_series(0, %(per_course)s - 1) k
    """,
    # Upcoming sessions, courses in turn, the first 10 minutes away (so every size has "starting soon"
    # reminders to plan), the rest spread evenly up to 24 hours; 1 in 100 cancelled.
    "sessions": f"""
        INSERT INTO lms_livesession (course_id, title, scheduled_at, duration_minutes, meeting_url, is_cancelled,
                                     sequence)
        SELECT i %% %(courses)s + 1, 'Live class ' || i + 1 || ': ' || {TOPICS}[1 + i %% 6],
               %(now)s + (600 + floor(i * 85800.0 / %(sessions)s)) * interval '1 second', 60,
               'https://meet.example.com/s' || i, i %% 100 = 50, 0
        FROM generate_series(0, %(sessions)s - 1) i
    """,
    # Past sessions, each with a recording: the first half published this week (announced), the rest
    # three weeks ago (too old to announce).
    "past_sessions": """
        INSERT INTO lms_livesession (course_id, title, scheduled_at, duration_minutes, meeting_url, is_cancelled,
                                     sequence)
        SELECT (j * 10) %% %(courses)s + 1, 'Past class ' || j, %(now)s - (1 + j %% 20) * interval '1 day', 60,
               'https://meet.example.com/p' || j, false, 0
        FROM generate_series(0, 2 * %(recordings)s - 1) j
    """,
    "recordings": """
        INSERT INTO lms_recording (session_id, url, visible_to_students, published_at, created_at)
        SELECT s.id, 'https://videos.example.com/r' || s.id, true,
               CASE WHEN x.j < %(recordings)s THEN %(now)s - (1 + x.j %% 6) * interval '1 day'
                    ELSE %(now)s - interval '20 days' END,
               s.scheduled_at + interval '2 hours'
        FROM lms_livesession s, LATERAL (SELECT substr(s.title, 12)::int AS j) x
        WHERE s.title LIKE 'Past class %%'
    """,
    # Assignments: half due within 48 hours (reminded), half later; 1 in 5 students has submitted.
    "assignments": """
        INSERT INTO lms_assignment (course_id, title, description, deadline)
        SELECT (j * 10 + 1) %% %(courses)s + 1, 'Assignment ' || j, '',
               CASE WHEN j < %(assignments)s THEN %(now)s + (2 + j %% 45) * interval '1 hour'
                    ELSE %(now)s + (3 + j %% 7) * interval '1 day' END
        FROM generate_series(0, 2 * %(assignments)s - 1) j
    """,
    "submissions": """
        INSERT INTO lms_submission (assignment_id, student_id, submitted_at, text, file)
        SELECT a.id, e.student_id, %(now)s - interval '1 hour', 'Done', ''
        FROM lms_assignment a JOIN lms_enrollment e ON e.course_id = a.course_id
        WHERE e.student_id %% 5 = 0
    """,
    # Pending payments created over the last 30 days (9 in 10 are 3+ days old), and paid ones beside them.
    "payments": """
        INSERT INTO lms_payment (student_id, course_id, amount, currency, status, description, payment_url,
                                 created_at, paid_at)
        SELECT n %% %(students)s + 1, n %% %(courses)s + 1, (ARRAY[4999, 9999, 14999, 24999, 100000])[1 + n %% 5],
               CASE WHEN n %% 10 = 0 THEN 'USD' ELSE 'INR' END,
               CASE WHEN n <= %(pending_payments)s THEN 'pending' ELSE 'paid' END,
               CASE WHEN n %% 3 = 0 THEN '' ELSE 'Course fee' END,
               CASE WHEN n %% 7 = 0 THEN '' ELSE 'https://pay.example.com/p/' || n END,
               %(now)s - (n %% 30) * interval '1 day' - (n %% 1440) * interval '1 minute',
               CASE WHEN n > %(pending_payments)s THEN %(now)s - interval '1 hour' END
        FROM generate_series(1, %(pending_payments)s + %(pending_payments)s / 4) n
    """,
    "lead_batch": """
        INSERT INTO leads_importbatch (id, source, filename, status, total_rows, created_count, duplicate_count,
                                       invalid_count, report, created_at)
        VALUES (1, 'bench', 'bench.csv', 'completed', %(leads)s, %(leads)s, 0, 0, '[]', %(now)s - interval '15 days')
    """,
    "lead_campaign": """
        INSERT INTO leads_leadcampaign (id, name, import_batch_id, status, total_leads, conversions, cost, currency,
                                        started_at, created_at)
        VALUES (1, 'Bench campaign', 1, 'active', %(leads)s, 0, 0, 'INR', %(now)s - interval '14 days',
                %(now)s - interval '14 days')
    """,
    "leads": f"""
        INSERT INTO leads_lead (id, email, name, phone, status, import_batch_id, campaign_id, source, data,
                                first_contacted_at, last_contacted_at, follow_up_day3_sent, follow_up_day7_sent,
                                converted_at, created_at, language)
        SELECT n, 'lead' || n || '@example.org', {NAME}, '', {LEAD_STATUS}, 1,
               CASE WHEN n %% 10 <> 8 THEN 1 END, 'bench', '{{}}', {LEAD_FIRST_CONTACTED}, {LEAD_LAST_CONTACTED},
               {LEAD_DAY3_SENT}, false, CASE WHEN n %% 10 = 9 THEN %(now)s - interval '1 hour' END,
               %(now)s - interval '15 days', 'en'
        FROM generate_series(1, %(leads)s) n
    """,
    "suppressions": """
        INSERT INTO notifications_suppression (channel, address, category, reason, detail, created_at)
        SELECT 'email', 'lead' || n || '@example.org', 'marketing', 'unsubscribed', '', %(now)s - interval '2 days'
        FROM generate_series(1, %(leads)s) n WHERE n %% 50 = 1
    """,
}
# Tables whose rows carry the time they last changed (lms.models.Touched).
CHANGE_STAMPED = ("lms_user", "lms_enrollment", "lms_livesession", "lms_recording", "lms_assignment", "lms_payment")
# Tables given explicit ids: their identity sequences must continue after them.
EXPLICIT_ID_TABLES = ("lms_user", "lms_course", "leads_importbatch", "leads_leadcampaign", "leads_lead")

# Only the rows a run changed: rewriting every lead before each job's run would leave the table
# bloated with dead rows by the time the later runs (the app's, after every floor) read it.
RESET_LEADS = f"""
    UPDATE leads_lead SET follow_up_day3_sent = {LEAD_DAY3_SENT}, follow_up_day7_sent = false,
                          last_contacted_at = {LEAD_LAST_CONTACTED}
    FROM (SELECT id AS n FROM leads_lead WHERE campaign_id = 1) AS leads
    WHERE leads_lead.id = leads.n
      AND (follow_up_day3_sent, follow_up_day7_sent, last_contacted_at)
          IS DISTINCT FROM ({LEAD_DAY3_SENT}, false, {LEAD_LAST_CONTACTED})
"""


def parameters(size: Size, now) -> dict:
    return {
        "now": now,
        "students": size.students,
        "courses": size.courses,
        "per_course": ENROLLMENTS_PER_COURSE,
        "sessions": size.sessions,
        "recordings": size.recordings,
        "assignments": size.assignments,
        "pending_payments": size.pending_payments,
        "leads": size.leads,
    }


def heavy_user_id(size: Size) -> int:
    """The student with a long notification history (the web benchmark reads as them)."""
    return size.students + 1


def generate(conn: psycopg.Connection, *, size: Size, now) -> dict[str, float]:
    """Fill the (migrated, empty) database; return seconds per table."""
    params = parameters(size, now)
    timings = {}
    with conn.transaction():
        # Rows that were there before the benchmark: last changed a day before its `now`, so an
        # incremental planning run (lms.incremental) finds nothing changed since its previous run.
        for table in CHANGE_STAMPED:
            conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN updated_at SET DEFAULT {}").format(
                    sql.Identifier(table), sql.Literal(now - dt.timedelta(days=1))
                )
            )
        for name, statement in STATEMENTS.items():
            started = time.perf_counter()
            conn.execute(statement, params)
            timings[name] = time.perf_counter() - started
        for table in EXPLICIT_ID_TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
    for table in CHANGE_STAMPED:  # after the commit: the inserts' foreign-key checks are pending until then
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN updated_at SET DEFAULT now()").format(sql.Identifier(table)))
    started = time.perf_counter()
    # As autovacuum would leave a database in use: statistics and the visibility map (index-only scans).
    conn.execute("VACUUM (ANALYZE)")
    timings["vacuum"] = time.perf_counter() - started
    return timings


def reset_leads(conn: psycopg.Connection, *, size: Size, now) -> None:
    """Put the campaign's leads back as generated (the follow-up job sets their flags); with the
    connection in autocommit, vacuum what that left, so each run reads the table as the first did."""
    if conn.execute(RESET_LEADS, parameters(size, now)).rowcount and conn.autocommit:
        conn.execute("VACUUM (ANALYZE) leads_lead")


def count_rows(conn: psycopg.Connection, *, now) -> dict[str, int]:
    tables = {
        "students": "SELECT count(*) FROM lms_user",
        "courses": "SELECT count(*) FROM lms_course",
        "enrollments": "SELECT count(*) FROM lms_enrollment",
        "sessions in the next 24 h": "SELECT count(*) FROM lms_livesession WHERE scheduled_at > %(now)s",
        "pending payments": "SELECT count(*) FROM lms_payment WHERE status = 'pending'",
        "leads": "SELECT count(*) FROM leads_lead",
    }
    return {name: conn.execute(query, {"now": now}).fetchone()[0] for name, query in tables.items()}
