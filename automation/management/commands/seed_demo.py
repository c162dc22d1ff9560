"""Create demo data for trying the automations; the work is in automation/demo.py."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from automation.demo import DEFAULT_STUDENTS, MAX_STUDENTS, seed_demo_data


class Command(BaseCommand):
    help = "Create demo students, courses, sessions, payments and leads so every automation has work to do."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo rows first, then create them anew.")
        parser.add_argument(
            "--students",
            type=int,
            default=DEFAULT_STUDENTS,
            metavar="N",
            help=f"How many students (1 to {MAX_STUDENTS}, default {DEFAULT_STUDENTS}).",
        )
        parser.add_argument(
            "--admin-password",
            metavar="PASSWORD",
            help="Password for admin@example.com (default: a random one, printed here and nowhere else).",
        )

    def handle(self, *args, reset, students, admin_password, **options):
        try:
            result = seed_demo_data(students=students, reset=reset, admin_password=admin_password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

        if result.deleted:
            self.stdout.write(f"Deleted {result.deleted} demo rows.")
        if not result.created:
            self.stdout.write(self.style.WARNING("Demo data already present; use --reset to recreate it."))
        else:
            local = timezone.localtime(result.now)
            self.stdout.write(self.style.SUCCESS(f"Demo data created around {local:%Y-%m-%d %H:%M %Z}."))
        self.stdout.write("")
        width = max(len(label) for label in result.counts)
        self.stdout.write(f"  {'Model':<{width}}  {'Rows':>4}")
        for label, count in result.counts.items():
            self.stdout.write(f"  {label:<{width}}  {count:>4}")
        self.stdout.write("")
        self.stdout.write(f"Admin: {result.admin_email}")
        if result.admin_password:
            # Shown once, here only: it is not stored in clear or sent anywhere.
            self.stdout.write(f"Password: {result.admin_password}")
        elif result.created:
            self.stdout.write("Password: unchanged (pass --admin-password to set one).")
        if result.created:
            self.stdout.write("Next: manage.py run_reminders all --dry-run")
