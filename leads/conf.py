"""
The settings leads reads, each with its one default (common.conf): welcome-call slots
(settings.WELCOME_CALL, WELCOME_CALL_<KEY>) and the campaign's Day 7 offer (settings.LEAD_OFFER,
LEAD_OFFER_<KEY>). `manage.py check` reports a value that cannot be read (leads.E001-E007, checks.py).
"""

import datetime as dt

from common.conf import Conf, Setting, clock_time, text_list, whole


def _working_days(raw) -> list[int]:
    days = text_list(whole(minimum=1, maximum=7))(raw)
    if not days:
        raise ValueError("no day (1 = Monday ... 7 = Sunday)")
    return days


def _welcome_call(key: str, check_id: str, **options) -> Setting:
    return Setting("WELCOME_CALL", key=key, variable=f"WELCOME_CALL_{key.upper()}", check_id=check_id, **options)


def _offer(key: str, check_id: str, **options) -> Setting:
    return Setting("LEAD_OFFER", key=key, variable=f"LEAD_OFFER_{key.upper()}", check_id=check_id, **options)


class LeadsConf(Conf):
    prefixes = {"WELCOME_CALL": "WELCOME_CALL_", "LEAD_OFFER": "LEAD_OFFER_"}
    unknown_id = "leads.W001"

    # Welcome calls: working days (1 = Monday ... 7 = Sunday), the first and last slot of a day in the
    # student's time zone, and a call's length in minutes.
    welcome_call_working_days = _welcome_call(
        "working_days", "leads.E001", default=[1, 2, 3, 4, 5], parse=_working_days
    )
    welcome_call_first_slot = _welcome_call("first_slot", "leads.E002", default=dt.time(10, 0), parse=clock_time)
    welcome_call_last_slot = _welcome_call("last_slot", "leads.E003", default=dt.time(17, 30), parse=clock_time)
    welcome_call_minutes = _welcome_call("minutes", "leads.E004", default=30, parse=whole(minimum=1))

    # The Day 7 offer: a discount and premium resources, valid for some days after the email.
    offer_discount_percent = _offer("discount_percent", "leads.E005", default=10, parse=whole(maximum=100))
    offer_resources = _offer(
        "resources",
        "leads.E006",
        default=["Premium resource pack: cheat sheets and project templates", "A free 1:1 career session"],
        parse=text_list(),
    )
    offer_valid_days = _offer("valid_days", "leads.E007", default=5, parse=whole(minimum=1))


conf = LeadsConf()
