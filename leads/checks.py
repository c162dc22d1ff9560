"""System checks for leads' settings: welcome-call slots and the Day 7 offer can be read."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import LeadsConf, conf


@checks.register("settings")  # registered when the app imports this module (ready)
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every WELCOME_CALL_* and LEAD_OFFER_* value can be read (E001-E007), the last welcome-call slot
    is not before the first (E003), and no such variable names no setting (W001)."""
    errors = conf.check()
    try:
        first, last = conf.welcome_call_first_slot, conf.welcome_call_last_slot
    except ImproperlyConfigured:  # reported above
        return errors
    if last < first:
        setting = LeadsConf.welcome_call_last_slot
        errors.append(
            checks.Error(
                setting.error_text(setting.raw() or last, f"before WELCOME_CALL_FIRST_SLOT ({first:%H:%M})"),
                hint="Make the day's last welcome-call slot the first one or later.",
                id=setting.check_id,
            )
        )
    return errors
