"""Template filters for notifications as they are shown."""

from django import template

from ..services.inapp import render_relative_times

register = template.Library()


@register.filter
def relative_times(text: str) -> str:
    """Put the times marked in a notification's text in words as of now ("Starts in 10 minutes")."""
    return render_relative_times(text or "")
