from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Messages"

    def ready(self):
        from .channels import email_tracking

        email_tracking.connect()
