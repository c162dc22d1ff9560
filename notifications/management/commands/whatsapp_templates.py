from django.core.management.base import BaseCommand, CommandError

from notifications.models import WhatsAppTemplate
from notifications.services.whatsapp_templates import sync_whatsapp_templates


class Command(BaseCommand):
    help = "List the WhatsApp templates the provider has approved (sync fetches them from Meta or Twilio first)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["sync", "list"], help="sync: fetch from the provider; list: show them")

    def handle(self, *args, action, **options):
        if action == "sync":
            try:
                result = sync_whatsapp_templates()
            except Exception as exc:
                raise CommandError(f"Could not sync WhatsApp templates: {exc}") from exc
            self.stdout.write(
                f"{len(result.templates)} template(s) from {result.provider}; {result.removed} no longer there removed."
            )
            for problem in result.mismatches:
                self.stderr.write(self.style.ERROR(problem))
            if result.mismatches:
                raise CommandError(
                    f"{len(result.mismatches)} kind(s) do not fit their approved WhatsApp template: "
                    "their messages are held until the kind's variables or the template are fixed."
                )
        rows = WhatsAppTemplate.objects.all()
        if not rows:
            self.stdout.write("No WhatsApp templates synced yet: run `manage.py whatsapp_templates sync`.")
            return
        self.stdout.write(f"{'provider':<8} {'name':<40} {'language':<8} {'category':<14} status")
        for row in rows:
            self.stdout.write(
                f"{row.provider:<8} {(row.friendly_name or row.name)[:40]:<40} {row.language:<8} "
                f"{row.category or '-':<14} {row.get_status_display()}"
            )
