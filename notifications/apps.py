from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Messages"

    def ready(self):
        from . import (
            messages,  # noqa: F401 - declares the keyword confirmations notifications sends
            webhooks,  # noqa: F401  (registers the webhook-secret deploy check)
        )
        from .channels import email_tracking

        email_tracking.connect()
