from django.apps import AppConfig


class CommonConfig(AppConfig):
    """The toolbox every app uses and that knows nothing of messages: database helpers, formatting,
    phone numbers, time zones, calendar files, the throttle for anonymous doors, admin helpers."""

    name = "common"
    verbose_name = "Common"

    def ready(self):
        from . import checks  # noqa: F401 - registers its settings check
