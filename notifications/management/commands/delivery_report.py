from collections import defaultdict

from django.conf import settings
from django.core.management.base import BaseCommand

from common.formatting import text_table
from notifications.models import Delivery, Notification
from notifications.selectors import delivery_counts

STATUS_COLUMNS = ["pending", "sent", "delivered", "failed", "unknown", "suppressed", "expired", "cancelled"]


class Command(BaseCommand):
    help = "Show what the delivery ledger holds, by message kind, channel and status, and where to read it."

    def handle(self, *args, **options):
        grid = defaultdict(lambda: defaultdict(int))
        for row in delivery_counts():
            grid[(row["kind"], row["channel"])][row["status"]] += row["count"]
        rows = [
            [kind, channel, *(grid[(kind, channel)].get(status, 0) or "" for status in STATUS_COLUMNS)]
            for kind, channel in sorted(grid)
        ]
        inapp = Notification.objects.count()
        if not rows:
            self.stdout.write("The delivery ledger is empty: no message has been planned yet.")
        else:
            self.stdout.write(text_table(["Message", "Channel", *STATUS_COLUMNS], rows))
        self.stdout.write(f"\nIn-app notifications: {inapp} (students read them at {settings.SITE_URL}/notifications/)")
        self.stdout.write(f"Deliveries in the ledger: {Delivery.objects.count()}")
        held = Delivery.objects.filter(status=Delivery.Status.PENDING, events__detail__startswith="held_").distinct()
        if count := held.count():
            self.stdout.write(
                f"Held by the attention budget: {count} pending (their reader's quiet hours, the marketing "
                "window or the daily cap); each goes when it allows, as its history in the admin says."
            )
        self.stdout.write(self._where())

    def _where(self) -> str:
        lines = ["\nWhere the messages went:"]
        if settings.EMAIL_BACKEND == "notifications.channels.eml_file.EmailBackend":
            lines.append(
                f"  email     one .eml file per message in {settings.EMAIL_FILE_PATH}/ (nothing left this machine)"
            )
        elif settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            lines.append(f"  email     files in {settings.EMAIL_FILE_PATH}/ (nothing left this machine)")
        else:
            lines.append(f"  email     {settings.EMAIL_BACKEND}")
        if settings.WHATSAPP_BACKEND.endswith("whatsapp.file.WhatsAppBackend"):
            lines.append(f"  WhatsApp  files in {settings.WHATSAPP_FILE_PATH}/ (nothing left this machine)")
        else:
            lines.append(f"  WhatsApp  {settings.WHATSAPP_BACKEND}")
        lines.append("  admin     every delivery, with exactly what was sent: /admin/notifications/delivery/")
        return "\n".join(lines)
