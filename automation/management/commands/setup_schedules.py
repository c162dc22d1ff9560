from django.core.management.base import BaseCommand

from automation.jobs import JOBS
from automation.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create, update or remove the django-q2 schedules of every job (safe to repeat)."

    def handle(self, *args, **options):
        result = sync_schedules()
        for job in JOBS:
            state = next(
                label
                for label, names in (
                    ("created", result.created),
                    ("updated", result.updated),
                    ("unchanged", result.unchanged),
                )
                if job.name in names
            )
            self.stdout.write(f"{job.name:<26} {state:<10} {job.schedule}")
        for name in result.removed:
            self.stdout.write(f"{name:<26} removed")
        self.stdout.write(self.style.SUCCESS("Schedules are in step. Run `manage.py qcluster` to work them."))
