"""Create demo data for trying the automations; the work is in automation/demo.py."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from automation.demo import DEFAULT_STUDENTS, MAX_STUDENTS, STUDENT_EMAIL, seed_demo_data


class Command(BaseCommand):
    help = "Create demo students, courses, sessions, payments and leads so every automation has work to do."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo rows first, then create them anew.")
        parser.add_argument(
            "--no-next-step",
            action="store_true",
            help="Do not suggest a dry run next (`make demo` runs the real jobs right after).",
        )
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
        parser.add_argument(
            "--student-password",
            metavar="PASSWORD",
            help=f"Password for the demo student {STUDENT_EMAIL} (default: a random one, printed here only).",
        )

    def handle(self, *args, reset, students, admin_password, student_password, **options):
        try:
            result = seed_demo_data(
                students=students, reset=reset, admin_password=admin_password, student_password=student_password
            )
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
        # Passwords are shown once, here only: they are not stored in clear or sent anywhere.
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(f"Admin:    {site}/admin/  (staff pages, every automation's data)")
        self.stdout.write(f"  Login: {result.admin_email}")
        self._password(result.admin_password, result.created, "--admin-password")
        self.stdout.write(f"Student:  {site}/  (dashboard, my courses, notifications, preferences, profile)")
        self.stdout.write(f"  Login: {result.student_email}")
        self._password(result.student_password, result.created, "--student-password")
        self.stdout.write(f"CTA form: {site}/start/  (what a lead fills in; staff approve it in the admin)")
        if result.created and not options.get("no_next_step"):
            self.stdout.write("Next: manage.py run_reminders all --dry-run")

    def _password(self, password: str | None, created: bool, option: str) -> None:
        if password:
            self.stdout.write(f"  Password: {password}")
        elif created:
            self.stdout.write(f"  Password: unchanged (pass {option} to set one).")
