"""Time zones as people pick them: India first, then by region, the old and odd names last."""

import functools
import zoneinfo

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
