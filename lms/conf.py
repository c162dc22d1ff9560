"""
The settings lms reads, with its one default (common.conf). `manage.py check` reports a value that
cannot be read (lms.E001 to lms.E006, checks.py).
"""

from common.conf import Conf, Setting, text_list, whole

LADDER_CHANNELS = ("whatsapp", "email", "sms")


def ladder_channel(raw) -> str:
    """One step of REACH_LADDER: whatsapp, email or sms."""
    name = str(raw).strip().lower()
    if name not in LADDER_CHANNELS:
        raise ValueError(f"not one of {', '.join(LADDER_CHANNELS)}")
    return name


class LmsConf(Conf):
    # Days after creation on which a pending payment is reminded ("3" once; "3,7,14" a cadence).
    payment_reminder_days = Setting(
        "PAYMENT_REMINDER_DAYS",
        variable="PAYMENT_REMINDER_DAYS",
        check_id="lms.E001",
        default=[3],
        parse=text_list(whole(minimum=1)),
    )

    # "We're live, join now" goes 5 minutes after the start, and never later than this (lms.attendance).
    live_nudge_minutes = Setting(
        "LIVE_NUDGE_MINUTES",
        variable="LIVE_NUDGE_MINUTES",
        check_id="lms.E002",
        default=15,
        parse=whole(minimum=6, maximum=24 * 60),
    )

    # The reach ladder (lms.reach): a reminder delivered this long before each live session's start.
    reach_minutes = Setting(
        "REACH_MINUTES", variable="REACH_MINUTES", check_id="lms.E003", default=10, parse=whole(minimum=0, maximum=120)
    )
    # Its steps, in order, among the channels each student can get ("sms" is skipped: no SMS provider).
    reach_ladder = Setting(
        "REACH_LADDER",
        variable="REACH_LADDER",
        check_id="lms.E004",
        default=["whatsapp", "email"],
        parse=text_list(ladder_channel),
    )
    # How long a step may take to be delivered before the next goes (shorter when the time left asks).
    reach_wait_minutes = Setting(
        "REACH_WAIT_MINUTES",
        variable="REACH_WAIT_MINUTES",
        check_id="lms.E005",
        default=10,
        parse=whole(minimum=1, maximum=120),
    )
    # The share of students (stable per student and course) who get no escalation and no live nudge.
    reach_holdout_percent = Setting(
        "REACH_HOLDOUT_PERCENT",
        variable="REACH_HOLDOUT_PERCENT",
        check_id="lms.E006",
        default=0,
        parse=whole(minimum=0, maximum=50),
    )

    # Scheduled planning runs plan only what changed since the last run (sessions, enrollments,
    # accounts, ...); every this many minutes a run plans its whole window again, the safety net for
    # writes that bypass the change timestamps (raw SQL): once a day, as a full window costs most of a
    # first run. 0: every run is a full one (lms.incremental).
    planning_full_sweep_minutes = Setting(
        "PLANNING_FULL_SWEEP_MINUTES",
        variable="PLANNING_FULL_SWEEP_MINUTES",
        check_id="lms.E007",
        default=24 * 60,
        parse=whole(minimum=0, maximum=7 * 24 * 60),
    )


conf = LmsConf()
