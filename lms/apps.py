from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = "Courses and students"

    def ready(self):
        # The message kinds lms sends; WhatsApp consent given or withdrawn from a phone; its settings check.
        # The reach ladder hears the providers' receipts (delivery_status_changed).
        from . import checks, messages, reach, signals  # noqa: F401
