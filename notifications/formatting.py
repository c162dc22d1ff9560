"""Dates and money for a recipient: their time zone, their locale (Babel)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime, get_timezone_name
from babel.numbers import format_currency
from django.conf import settings


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
