from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.formatting import format_money, text_table
from leads.campaigns import plan_lead_follow_ups, start_lead_campaign
from leads.models import ImportBatch, LeadCampaign
from leads.stats import STEP_HEADERS, campaign_stats, step_rows, summary_rows


class Command(BaseCommand):
    help = "Start a lead campaign, send its Day 3 or Day 7 follow-up now, or show its statistics and ROI."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="start|followup|stats")
        start = actions.add_parser("start", help="Plan the Day 0 email to a batch's new leads.")
        start.add_argument("--batch-id", type=int, required=True)
        start.add_argument("--leads", type=int, nargs="*", help="Only these lead ids of the batch.")
        followup = actions.add_parser("followup", help="Plan a campaign's Day 3 or Day 7 follow-up for leads due.")
        followup.add_argument("--campaign-id", type=int, required=True)
        followup.add_argument("--day", type=int, choices=[3, 7], required=True)
        stats = actions.add_parser("stats", help="Show a campaign's statistics and ROI.")
        stats.add_argument("--campaign-id", type=int, required=True)

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_start(self, *, batch_id, leads, **options):
        batch = ImportBatch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise CommandError(f"There is no import batch {batch_id}.")
        result = start_lead_campaign(import_batch=batch, lead_ids=leads or None)
        self.stdout.write(
            f"Campaign {result.campaign.pk} ({result.campaign}): {result.leads_emailed} Day 0 emails planned, "
            f"{result.campaign.total_leads} leads in the campaign."
        )

    def handle_followup(self, *, campaign_id, day, **options):
        campaign = self._campaign(campaign_id)
        result = plan_lead_follow_ups(now=timezone.now(), campaign_id=campaign.pk, days=[day])
        skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(result.skipped.items()) if count) or "none"
        self.stdout.write(
            f"Day {day} follow-up for {campaign}: {result.planned['email']} emails planned; skipped: {skipped}."
        )

    def handle_stats(self, *, campaign_id, **options):
        stats = campaign_stats(campaign=self._campaign(campaign_id))
        money = lambda amount: format_money(amount, stats.campaign.currency)  # noqa: E731
        self.stdout.write(f"{stats.campaign} ({stats.campaign.get_status_display()})")
        self.stdout.write(text_table(STEP_HEADERS, step_rows(stats)))
        self.stdout.write("")
        self.stdout.write(text_table(["", ""], [list(row) for row in summary_rows(stats, money=money)]))

    def _campaign(self, campaign_id) -> LeadCampaign:
        campaign = LeadCampaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"There is no campaign {campaign_id}.")
        return campaign
