from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and onboarding"

    def ready(self):
        from . import (
            checks,  # noqa: F401 - registers its settings check
            messages,  # noqa: F401 - declares the message kinds leads sends
            signals,  # noqa: F401 - unsubscribes and bounces reach the leads
        )
