"""
The settings lms reads, with its one default (common.conf). `manage.py check` reports a value that
cannot be read (lms.E001, checks.py).
"""

from common.conf import Conf, Setting, text_list, whole


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

    # Scheduled planning runs plan only what changed since the last run; every this many minutes a run
    # plans its whole window again, the safety net for writes that bypass the change timestamps (raw
    # SQL). 0: every run is a full one (lms.incremental).
    planning_full_sweep_minutes = Setting(
        "PLANNING_FULL_SWEEP_MINUTES",
        variable="PLANNING_FULL_SWEEP_MINUTES",
        check_id="lms.E003",
        default=360,
        parse=whole(minimum=0, maximum=7 * 24 * 60),
    )


conf = LmsConf()
