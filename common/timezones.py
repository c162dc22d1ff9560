"""Time zones as people pick them: India first, then by region, the old and odd names last."""

import functools
import zoneinfo

from babel.dates import get_timezone_location
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
    names = zoneinfo.available_timezones()
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
