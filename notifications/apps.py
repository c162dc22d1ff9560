from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Messages"

    def ready(self):
        from . import webhooks  # noqa: F401  (registers the webhook-secret deploy check)
        from .channels import email_tracking

        email_tracking.connect()
