from django.apps import AppConfig
from django.core import checks


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = "Courses and students"

    def ready(self):
        # The message kinds lms sends; WhatsApp consent given or withdrawn from a phone.
        from . import messages, signals  # noqa: F401
        from .checks import check_settings

        checks.register(check_settings, "settings")
