"""System checks for lms's settings: the payment reminders' days and the live nudge's minutes can be read."""

from django.core import checks

from .conf import conf


@checks.register("settings")  # registered when the app imports this module (ready)
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """PAYMENT_REMINDER_DAYS is whole days of at least 1 (E001); LIVE_NUDGE_MINUTES 6 to 1440 (E002);
    REACH_MINUTES 0 to 120 (E003); REACH_LADDER whatsapp, email, sms (E004); REACH_WAIT_MINUTES 1 to
    120 (E005); REACH_HOLDOUT_PERCENT 0 to 50 (E006);
    PLANNING_FULL_SWEEP_MINUTES 0 to 10080 (E007)."""
    return conf.check()
