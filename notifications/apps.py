from django.apps import AppConfig
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Messages"

    def ready(self):
        from . import messages  # noqa: F401 - declares the keyword confirmations notifications sends
        from .channels import email_tracking, email_webhook  # noqa: F401 - email_webhook: its deploy check
        from .checks import check_message_templates, check_whatsapp_template_fit, check_whatsapp_templates

        email_tracking.connect()
        checks.register(check_message_templates, checks.Tags.templates)
        checks.register(check_whatsapp_templates, "notifications")
        checks.register(check_whatsapp_template_fit, "notifications")
