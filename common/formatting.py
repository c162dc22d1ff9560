"""Dates and money for a recipient: their time zone, their locale (Babel)."""

import datetime as dt
import math
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta, get_timezone_name
from babel.numbers import format_currency
from django.conf import settings

from .languages import message_locale


def zone(name: str | None) -> ZoneInfo:
    """Return the ZoneInfo for `name`, falling back to the site's default zone."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def locale_or_default(locale: str | None) -> str:
    return (locale or settings.DEFAULT_LOCALE).replace("-", "_")


def format_when(moment: dt.datetime, *, tz: str | None, locale: str | None = None) -> str:
    """Return e.g. "Wed, 25 Nov 2026, 10:00 AM IST" in the recipient's zone and locale."""
    local = moment.astimezone(zone(tz))
    text = format_datetime(local, "EEE, d MMM y, h:mm a", locale=locale_or_default(locale))
    return f"{text} {local.tzname()}"


def format_zone_name(tz: str | None, *, locale: str | None = None) -> str:
    """Return a zone's readable name ("India Time")."""
    return get_timezone_name(zone(tz), locale=locale_or_default(locale))


def format_money(amount: Decimal | str, currency: str, *, locale: str | None = None) -> str:
    """Return e.g. "₹1,00,000" (en_IN) or "$1,000.00" (en_US); whole amounts drop the paise."""
    amount = Decimal(amount)
    locale = locale_or_default(locale)
    if amount != amount.to_integral_value():
        return format_currency(amount, currency, locale=locale)
    # The locale's own pattern (Indian grouping in en_IN) without the fraction digits.
    pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
    pattern = pattern.replace(".00", "").replace(".##", "")
    return format_currency(amount, currency, format=pattern, locale=locale, currency_digits=False)


def text_table(headers: list[str], rows: list[list]) -> str:
    """Return a left-aligned plain-text table, for commands."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def render(cells) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False)).rstrip()

    return "\n".join([render(headers), render("-" * width for width in widths), *(render(row) for row in rows)])


def reader_locale(*, language: str | None, locale: str | None) -> str:
    """Return the Babel locale a person reads dates in: their language in their region ("hi" + "en_IN": hi_IN).

    Pages, email, WhatsApp and in-app all ask here, so one moment reads the same everywhere.
    """
    return message_locale(language=language, locale=locale)


# Babel's units, largest first (its own sizes): a time is said in the largest one it reaches.
UNITS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


def format_relative(moment: dt.datetime, *, now: dt.datetime, locale: str | None = None) -> str:
    """Return how far `moment` is from `now` in words, whole units down: "in 19 hours", "38 मिनट पहले"."""
    seconds = (moment - now).total_seconds()
    # Down to the unit, as a clock reads (19 h 59 min is "19 hours", not Babel's rounded "20 hours").
    size = next((size for size in UNITS if abs(seconds) >= size), 1)
    seconds = math.copysign(abs(seconds) // size * size, seconds)
    return format_timedelta(
        dt.timedelta(seconds=seconds), threshold=1, add_direction=True, locale=locale_or_default(locale)
    )


def format_weekday(day: dt.date, *, locale: str | None = None) -> str:
    """Return the weekday of `day` in the reader's locale ("Thursday", "गुरुवार")."""
    return format_date(day, "EEEE", locale=locale_or_default(locale))


def format_day_month(day: dt.date, *, locale: str | None = None) -> str:
    """Return `day` as a day of the month in the reader's locale ("14 Dec", "14 दिस॰")."""
    return format_date(day, "d MMM", locale=locale_or_default(locale))


def staff_time(moment: dt.datetime | None) -> str:
    """A moment as every staff page shows it: in the site's zone (TIME_ZONE, the admin's), named."""
    if moment is None:
        return "never"
    local = moment.astimezone(zone(None))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def staff_zone_note() -> str:
    """The sentence that says which zone staff pages show times in."""
    now = dt.datetime.now(zone(None))
    return f"Times are in {settings.TIME_ZONE} ({now.tzname()}), as everywhere in the admin."
