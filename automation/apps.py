from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


def _sync_schedules_after_migrate(sender, **kwargs):
    from .schedules import sync_schedules

    sync_schedules()


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self):
        from config.checks import check_site_url

        from . import heartbeats
        from .checks import check_automation_schedules

        heartbeats.connect()  # every django-q2 worker records its heartbeat (the jobs page, /health/)

        # Schedules live in code; every migrate brings django-q2's table in step with them.
        post_migrate.connect(_sync_schedules_after_migrate, sender=self, dispatch_uid="automation.sync_schedules")
        checks.register(check_automation_schedules, "automation")
        # The site's own settings have no app; the top app checks them.
        checks.register(check_site_url, checks.Tags.security)
