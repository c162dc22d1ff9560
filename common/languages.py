"""
Language codes and the Babel locale a person reads dates and money in. Which languages messages
can be written in (shipped and staff-added) is `notifications.api.available_languages`.

A person's language is a short code ("en", "hi"); unknown codes read as English.
"""

from babel import Locale, UnknownLocaleError
from django.conf import settings

DEFAULT_LANGUAGE = "en"


def shipped_languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


def message_locale(*, language: str | None, locale: str | None) -> str:
    """Return the Babel locale for dates and money: the person's language in their region
    ("hi" and "en_IN" give "hi_IN"), or their own locale when the language is theirs already."""
    locale = (locale or settings.DEFAULT_LOCALE).replace("-", "_")
    language = (language or "").replace("-", "_")
    if not language or locale.split("_")[0] == language:
        return locale
    region = locale.split("_")[1] if "_" in locale else ""
    for candidate in (f"{language}_{region}" if region else "", language):
        if candidate and _is_locale(candidate):
            return candidate
    return locale


def _is_locale(name: str) -> bool:
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        return False
    return True
