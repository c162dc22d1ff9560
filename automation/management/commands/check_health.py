import datetime as dt
import sys

from django.core.management.base import BaseCommand
from django.db import DatabaseError
from django.utils import timezone

from automation.health import check_health, scheduler_problems
from automation.services import abandon_stale_runs
from common.formatting import staff_time, staff_zone_note, text_table


class Command(BaseCommand):
    help = (
        "Exit 0 when every job succeeded within twice its interval, none failed or was abandoned last, deliveries "
        "are moving and none stays 'unknown' too long; otherwise print why and exit 1 (for cron or monitoring)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-delivery-lag",
            type=int,
            default=15,
            metavar="MINUTES",
            help="Alert when a due delivery has waited longer than this (default 15).",
        )
        parser.add_argument(
            "--max-unknown-age",
            type=int,
            default=None,
            metavar="MINUTES",
            help="Alert when a delivery has stayed 'unknown' longer than this (default "
            "NOTIFICATIONS_UNKNOWN_ALERT_MINUTES, 30).",
        )
        parser.add_argument("--quiet", action="store_true", help="Print only problems.")
        parser.add_argument(
            "--scheduler",
            action="store_true",
            help="Check only that the qcluster still completes scheduled jobs (a supervisor's liveness check: "
            "exit 1 when it stalled, so restart it; 3 when the database cannot be read).",
        )

    def handle(self, *args, max_delivery_lag, max_unknown_age, quiet, scheduler, **options):
        now = timezone.now()
        if scheduler:
            try:
                problems = scheduler_problems(now=now)
            except DatabaseError as exc:  # cannot tell: restarting the worker would not help
                self.stderr.write(f"UNKNOWN: the job log cannot be read: {exc}")
                sys.exit(3)
            if problems:
                self.stderr.write("UNHEALTHY:\n" + "\n".join(f"- {problem}" for problem in problems))
                sys.exit(1)
            self.stdout.write(self.style.SUCCESS("OK: the qcluster completes scheduled jobs (or is not used here)."))
            return
        abandon_stale_runs(now=now)  # a run killed with SIGKILL never says so itself
        health = check_health(
            now=now,
            max_delivery_lag=dt.timedelta(minutes=max_delivery_lag),
            max_unknown_age=dt.timedelta(minutes=max_unknown_age) if max_unknown_age is not None else None,
        )
        if not quiet:
            rows = [
                [
                    item.job.name,
                    _schedule(item.job.schedule, now=now),
                    item.last_status,
                    staff_time(item.last_success),
                    item.problem or "ok",
                ]
                for item in health.jobs
            ]
            self.stdout.write(text_table(["Job", "Schedule", "Last run", "Last success", "Health"], rows))
            self.stdout.write(f"Deliveries waiting: {health.due_deliveries}")
            self.stdout.write(staff_zone_note())
        if health.ok:
            self.stdout.write(self.style.SUCCESS("OK: automation is healthy."))
            return
        self.stderr.write("UNHEALTHY:\n" + "\n".join(f"- {problem}" for problem in health.problems))
        sys.exit(1)


def _schedule(schedule, *, now: dt.datetime) -> str:
    """A job's schedule with its daily time in the staff pages' zone (schedules keep theirs in UTC)."""
    if not schedule.daily_at:
        return str(schedule)
    at = dt.datetime.combine(now.astimezone(dt.UTC).date(), schedule.daily_at, tzinfo=dt.UTC)
    return f"daily at {staff_time(at)[11:]}"
