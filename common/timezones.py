"""Time zones as people pick them: India first, then by region, the old and odd names last.

Deprecated aliases of the tz database (Asia/Calcutta, US/Eastern, Europe/Kiev ..., CLDR's list
as Babel ships it) are not offered: each is the same zone as its current name, which is. A value
saved under an alias is shown and saved as its current name (TimeZoneChoiceField).
"""

import functools
import zoneinfo

from babel.core import get_global
from babel.dates import get_timezone_location
from django import forms
from django.utils.translation import get_language, override, to_locale
from django.utils.translation import gettext_lazy as _

INDIA = "Asia/Kolkata"
# The regions of the tz database's "Area/Location" names, as a list of them reads.
REGIONS = {
    "Asia": "Asia",
    "Africa": "Africa",
    "America": "Americas",
    "Europe": "Europe",
    "Australia": "Australia",
    "Pacific": "Pacific",
    "Indian": "Indian Ocean",
    "Atlantic": "Atlantic",
    "Antarctica": "Antarctica",
}
OTHER = "Other names (UTC, old and country names)"
# In the tz data but no place anyone lives.
LEFT_OUT = {"Factory", "localtime"}


@functools.cache  # the tz data does not change while the process runs
def timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Return every time zone as grouped choices: India, then each region, then the other names.

    A callable, so a model field's migrations name it instead of copying the machine's tz data.
    """
    names = {name for name in zoneinfo.available_timezones() if name == "UTC" or not is_alias(name)}
    groups: dict[str, list[tuple[str, str]]] = {label: [] for label in REGIONS.values()}
    other = []
    for name in sorted(names - LEFT_OUT - {INDIA}):
        area, _, place = name.partition("/")
        if area in REGIONS and place:
            groups[REGIONS[area]].append((name, place.replace("_", " ").replace("/", " / ")))
        else:
            other.append((name, name.replace("_", " ")))
    india = [(INDIA, "India (Kolkata)")] if INDIA in names else []
    other.sort(key=lambda choice: choice[0] != "UTC")  # the one other name people look for
    return [("India", india), *((label, zones) for label, zones in groups.items() if zones), (OTHER, other)]


# The groups' names in the reader's language (the values stay the tz database's).
GROUP_NAMES = {
    "India": _("India"),
    "Asia": _("Asia"),
    "Africa": _("Africa"),
    "Americas": _("Americas"),
    "Europe": _("Europe"),
    "Australia": _("Australia"),
    "Pacific": _("Pacific"),
    "Indian Ocean": _("Indian Ocean"),
    "Atlantic": _("Atlantic"),
    "Antarctica": _("Antarctica"),
    OTHER: _("Other names (UTC, old and country names)"),
}


def localized_timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Return timezone_choices() with the places named in the active language (Babel's city names)."""
    return _localized(get_language() or "en")


@functools.cache
def _localized(language: str) -> list[tuple[str, list[tuple[str, str]]]]:
    if language.startswith("en"):
        return timezone_choices()
    with override(language):
        return [
            (str(GROUP_NAMES.get(group, group)), [(name, _city(name, label, language)) for name, label in zones])
            for group, zones in timezone_choices()
        ]


def _city(name: str, label: str, language: str) -> str:
    if name == INDIA:
        return str(_("India (Kolkata)"))
    try:
        city = get_timezone_location(name, locale=to_locale(language), return_city=True)
    except (LookupError, ValueError):
        return label
    return city if not city.isascii() else label  # Babel knows no name in this language: the tz name


def is_alias(name: str) -> bool:
    """Whether `name` is a deprecated alias of another zone (Asia/Calcutta of Asia/Kolkata)."""
    return name in _aliases()


def canonical_timezone(name: str) -> str:
    """The current name of a zone (`name` itself unless it is a deprecated alias); UTC stays UTC."""
    return name if name == "UTC" else _aliases().get(name, name)


@functools.cache
def _aliases() -> dict[str, str]:
    available = zoneinfo.available_timezones()
    # Only aliases whose current name the machine's tz data has (so the choice is there to take).
    return {alias: name for alias, name in get_global("zone_aliases").items() if name in available}


class TimeZoneChoiceField(forms.ChoiceField):
    """A time-zone select without the deprecated aliases: a value saved under one is shown as its
    current name (and saved so when the form is), and one posted is still accepted as it is."""

    def prepare_value(self, value):
        return canonical_timezone(value) if isinstance(value, str) else value

    def valid_value(self, value):
        return super().valid_value(value) or (isinstance(value, str) and is_alias(value))
