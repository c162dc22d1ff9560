"""System checks for common's own settings: the anonymous doors' rate limits can be read."""

from django.core import checks

from .throttle import conf


@checks.register("settings")  # registered when the app imports this module (ready)
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every RATE_LIMIT_<DOOR> is a rate like "5/h" (common.E001-E007); no such variable names no door (W001)."""
    return conf.check()
