from django.apps import AppConfig
from django.core import checks


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and onboarding"

    def ready(self):
        from . import (
            messages,  # noqa: F401 - declares the message kinds leads sends
            signals,  # noqa: F401 - unsubscribes and bounces reach the leads
        )
        from .checks import check_settings

        checks.register(check_settings, "settings")
