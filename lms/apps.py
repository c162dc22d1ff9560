from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = "Courses and students"

    def ready(self):
        from . import messages  # noqa: F401 - declares the message kinds lms sends
