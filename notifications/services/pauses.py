"""
A channel's provider account cannot send: pause the channel, never fail its messages.

A bad token, an account out of credit or locked, a sender not verified: every message would be
refused alike until someone fixes the account. Dispatch then stops claiming the channel, tries
again after a back-off that doubles (PAUSE_BASE_SECONDS up to RETRY_MAX_SECONDS), and the first
message the provider accepts lifts the pause. `check_health` fails and the admin shows a banner
while a channel is paused.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F

from ..conf import conf
from ..models import ChannelPause

logger = logging.getLogger(__name__)


def pause_delay(failures: int) -> dt.timedelta:
    base = conf.pause_base_seconds
    cap = conf.retry_max_seconds
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))


@transaction.atomic
def pause_channel(*, channel: str, reason: str, error_code: str, now: dt.datetime) -> ChannelPause:
    """Pause `channel` (or pause it longer, if it was): return the pause, whose `until` is the next try."""
    pause = ChannelPause.objects.select_for_update().filter(channel=channel).first()
    if pause is None:
        pause = ChannelPause.objects.create(
            channel=channel, reason=reason[:2000], error_code=error_code, since=now, until=now + pause_delay(1)
        )
    elif pause.until <= now:  # a new try was refused again: wait longer
        ChannelPause.objects.filter(pk=pause.pk).update(failures=F("failures") + 1)
        pause.refresh_from_db(fields=["failures"])
        pause.reason, pause.error_code, pause.until = reason[:2000], error_code, now + pause_delay(pause.failures)
        pause.save(update_fields=["reason", "error_code", "until"])
    logger.error("%s sending paused until %s: %s", channel, pause.until, reason)
    return pause


def resume_channel(*, channel: str, until: dt.datetime | None = None) -> bool:
    """The provider accepted a message again: lift the pause (only the one ending at `until`, when
    given: not one renewed since); say whether there was one."""
    pauses = ChannelPause.objects.filter(channel=channel)
    lifted, _ = (pauses if until is None else pauses.filter(until=until)).delete()
    if lifted:
        logger.warning("%s sending resumed: the provider accepts messages again.", channel)
    return bool(lifted)


def paused_channels(*, now: dt.datetime) -> set[str]:
    """Channels not to claim now (paused, and not yet due for another try)."""
    return set(ChannelPause.objects.filter(until__gt=now).values_list("channel", flat=True))
