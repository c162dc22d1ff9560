import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError

from automation.jobs import JOBS, get_job
from automation.reporting import JOB_HEADERS, outcome_details, outcome_row
from automation.services import run_jobs
from common.formatting import text_table


def parse_now(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--now takes an ISO 8601 time, e.g. 2026-11-24T10:00:00+05:30; got {value!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Run reminder jobs now (all, or the ones named); safe to run from cron, even alongside the worker."

    def add_arguments(self, parser):
        names = ", ".join(f"{job.short_name}" for job in JOBS)
        parser.add_argument("jobs", nargs="*", default=["all"], help=f"Jobs to run: all (default), or {names}.")
        parser.add_argument("--dry-run", action="store_true", help="Show who would get what; change nothing.")
        parser.add_argument("--now", type=parse_now, help="Pretend it is this time (ISO 8601; UTC when no offset).")

    def handle(self, *args, jobs, dry_run, now, **options):
        for name in jobs:
            if name != "all":
                try:
                    get_job(name)
                except LookupError as exc:
                    raise CommandError(str(exc)) from None
        rows, details, failed = [], [], False
        for outcome in run_jobs(names=jobs, now=now, dry_run=dry_run, trigger="command"):
            rows.append(outcome_row(outcome))
            details += [f"  {outcome.job.name}", *outcome_details(outcome)] if outcome_details(outcome) else []
            failed = failed or outcome.failed
            if dry_run and outcome.preview:
                for kind, channel, address, event in outcome.preview:
                    self.stdout.write(f"  would send {kind:<20} {channel:<9} {address:<32} ({event})")
        title = "Dry run: nothing was changed." if dry_run else "Jobs run."
        self.stdout.write(title)
        self.stdout.write(text_table(JOB_HEADERS, rows))
        if details:
            self.stdout.write("\n".join(details))
        if failed:
            self.stderr.write("At least one job failed; see above and the job log in the admin.")
            sys.exit(1)
