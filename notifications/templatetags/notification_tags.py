"""Template filters for times and notifications as their reader reads them (zone, language, region)."""

import datetime as dt

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

from ..formatting import format_relative, format_when, reader_locale
from ..services.inapp import render_relative_times

register = template.Library()


def _locale(person) -> str:
    """The person's language in their region (the page's for a visitor): what their messages use too."""
    language = getattr(person, "language", "") or get_language()
    return reader_locale(language=language, locale=getattr(person, "locale", "") or settings.DEFAULT_LOCALE)


@register.filter
def relative_times(text: str) -> str:
    """Put the times marked in a notification's text in words as of now ("Starts in 10 minutes")."""
    return render_relative_times(text or "")


@register.filter
def when(moment: dt.datetime | None, person) -> str:
    """Return `moment` in `person`'s zone, in the page's language: the one format of every page and message."""
    if not moment:
        return ""
    return format_when(moment, tz=getattr(person, "timezone", ""), locale=_locale(person))


@register.filter
def ago(moment: dt.datetime | None, person=None) -> str:
    """Return how long ago (or how soon) `moment` is, in the page's language ("23 मिनट पहले")."""
    if not moment:
        return ""
    return format_relative(moment, now=timezone.now(), locale=_locale(person))
