"""The benchmark's own PostgreSQL database: create it, migrate it, drop it."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/coursehub_bench"
DEFAULT_NAME = "coursehub_bench"


def bench_database_url(url: str) -> str:
    """Return `url` naming the benchmark's database (coursehub_bench when it names none)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or DEFAULT_NAME
    if "bench" not in name:
        # The benchmark drops this database when it is done: never one that holds real data.
        raise SystemExit(
            f"The benchmark creates and drops its database; give it a name with 'bench' in it, not {name!r}."
        )
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def libpq_url(url: str) -> str:
    """Return `url` in a form libpq accepts (it knows postgres:// and postgresql:// only)."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme))


def create_database(url: str) -> None:
    """Drop the benchmark database if a previous run left it, and create it empty."""
    name = sql.Identifier(database_name(url))
    with psycopg.connect(libpq_url(maintenance_url(url)), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(url: str) -> None:
    name = sql.Identifier(database_name(url))
    with psycopg.connect(libpq_url(maintenance_url(url)), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(url))


# The students' zones in bench/data.py.
BENCH_ZONES = ("America/New_York", "Europe/London", "Asia/Dubai", "Asia/Singapore", "Asia/Kolkata")


def _quiet_hours_away_from_now() -> str:
    """Two quiet hours that are nobody's now in any of the students' zones (for the next hour)."""
    import datetime as dt
    import zoneinfo

    now = dt.datetime.now(dt.UTC)
    busy = set()
    for zone in BENCH_ZONES:
        local = now.astimezone(zoneinfo.ZoneInfo(zone))
        busy |= {(local.hour + step) % 24 for step in (-2, -1, 0, 1, 2)}
    start = next(hour for hour in range(24) if hour not in busy and (hour + 1) % 24 not in busy)
    return f"{start:02d}:00-{(start + 2) % 24:02d}:00"


def app_env(url: str, **overrides: str) -> dict:
    """Return the environment for a process of the app on the benchmark database.

    Nothing leaves the machine and nothing is written to disk: email goes to Django's dummy backend,
    WhatsApp to the in-memory one (mock mode would write every message to var/). DEBUG is off, as in
    production: with it on (the development default) every query goes through Django's debug cursor,
    which formats it with its parameters and keeps it in a log.
    """
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MOCK_MODE": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "WHATSAPP_BACKEND": "notifications.channels.whatsapp.locmem.WhatsAppBackend",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The attention budget runs on every claim, but the benchmark measures at whatever hour it is
        # run, and some of its students have several classes tomorrow: quiet hours away from now (in
        # the site's zone, the students') and a cap no one reaches hold nothing, so every run sends the
        # same messages and the budget's cost is measured, not its effect.
        "NOTIFICATIONS_QUIET_HOURS": _quiet_hours_away_from_now(),
        "NOTIFICATIONS_DAILY_CAP": "1000",
    }
    for name in ("POSTMARK_SERVER_TOKEN", "BREVO_API_KEY", "SENDGRID_API_KEY", "MAILGUN_API_KEY", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)  # no real provider, whatever the shell has
    env.update(overrides)
    return env


def migrate(url: str) -> None:
    """Run the app's migrations into the benchmark database."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=app_env(url),
        check=True,
    )


def server_version(conn: psycopg.Connection) -> str:
    return conn.execute("SHOW server_version").fetchone()[0]


def set_column_defaults(conn: psycopg.Connection, apps=("lms", "leads", "notifications", "automation")) -> None:
    """Give every NOT NULL column of our apps whose model field has a constant default that default in
    the database too, so the benchmark's hand-written INSERTs keep working when a field is added."""
    from django.apps import apps as registry

    for app in apps:
        for model in registry.get_app_config(app).get_models():
            for field in model._meta.concrete_fields:
                if field.null or field.primary_key or (field.has_default() and callable(field.default)):
                    continue
                # No default given: a text field's is "" (as Django saves it); others have none.
                value = field.default if field.has_default() else ("" if field.empty_strings_allowed else None)
                if not isinstance(value, str | bool | int | float):
                    continue
                conn.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}").format(
                        sql.Identifier(model._meta.db_table), sql.Identifier(field.column), sql.Literal(value)
                    )
                )
