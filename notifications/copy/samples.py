"""
Sample data for previews, in the language being previewed.

Kinds declare their samples in English ("Wed, 25 Nov 2026, 10:00 AM IST", "₹4,999", "Tomorrow").
A Hindi preview must look like what a Hindi reader gets: dates and amounts formatted in the
language's locale (as planning formats them for a real recipient), and sample words translated
(the catalogue's "message sample" entries).
"""

import datetime as dt
import re
from decimal import Decimal

from django.conf import settings
from django.utils import translation
from django.utils.translation import pgettext

from common.formatting import format_money, format_when, zone
from common.languages import DEFAULT_LANGUAGE, message_locale

from ..kinds import MessageKind

# format_when's English output, as kinds write their sample dates.
_WHEN = re.compile(r"^(\w{3}, \d{1,2} \w{3} \d{4}, \d{1,2}:\d{2} [AP]M) (\w+)$", re.IGNORECASE)
_RUPEES = re.compile(r"^₹([\d,]+(?:\.\d\d)?)$")
_ZONES = {"IST": "Asia/Kolkata"}


def sample_context(*, kind: MessageKind, language: str) -> dict:
    """Return `kind`'s example values as a reader of `language` would get them."""
    context = kind.sample_context() | {"language": language}
    if language == DEFAULT_LANGUAGE:
        return context
    locale = message_locale(language=language, locale=None)
    with translation.override(language):
        return {name: _localized(value, locale) for name, value in context.items()}


def _localized(value, locale: str):
    if isinstance(value, list | tuple):
        return [_localized(item, locale) for item in value]
    if not isinstance(value, str) or not value.strip():
        return value
    when = _WHEN.match(value)
    if when:
        tz = _ZONES.get(when.group(2).upper(), settings.TIME_ZONE)
        moment = dt.datetime.strptime(when.group(1), "%a, %d %b %Y, %I:%M %p").replace(tzinfo=zone(tz))
        return format_when(moment, tz=tz, locale=locale)
    rupees = _RUPEES.match(value)
    if rupees:
        return format_money(Decimal(rupees.group(1).replace(",", "")), "INR", locale=locale)
    return pgettext("message sample", value)
