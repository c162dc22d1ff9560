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


conf = LmsConf()
