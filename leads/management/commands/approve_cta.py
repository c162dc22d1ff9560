from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from common.formatting import format_when, text_table
from leads.models import CTASubmission
from leads.onboarding import approve_cta_submission
from lms.models import User


class Command(BaseCommand):
    help = "Approve a CTA submission and run the onboarding (account, welcome email and WhatsApp, optional call)."

    def add_arguments(self, parser):
        parser.add_argument("submission_id", type=int, metavar="ID")
        parser.add_argument("--admin", required=True, help="The approving staff member's email.")
        parser.add_argument("--call", action="store_true", help="Also book a welcome call with that staff member.")

    def handle(self, *args, submission_id, admin, call, **options):
        staff = User.objects.filter(Q(email__iexact=admin), is_staff=True, is_active=True).first()
        if staff is None:
            raise CommandError(f"No active staff member has the email {admin!r}.")
        if not staff.has_perm("leads.approve_ctasubmission"):
            raise CommandError(
                f"{staff.email} may not approve CTA submissions (permission leads.approve_ctasubmission)."
            )
        submission = CTASubmission.objects.filter(pk=submission_id).first()
        if submission is None:
            raise CommandError(f"There is no CTA submission {submission_id}.")
        try:
            result = approve_cta_submission(submission=submission, approved_by=staff, schedule_call=call)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        rows = [
            ["success", "yes"],
            ["user_id", result.user.pk],
            ["user", f"{result.user.email} ({'created' if result.user_created else 'existing account linked'})"],
            ["email_sent", result.email_status],
            ["whatsapp_sent", result.whatsapp_status],
            ["call_scheduled", format_when(result.call.scheduled_at, tz=staff.timezone) if result.call else "no"],
        ]
        self.stdout.write(text_table(["", ""], rows))
