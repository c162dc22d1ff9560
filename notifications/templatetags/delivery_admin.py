"""Template tags of the admin's pages: the banner of a paused channel."""

from django import template
from django.utils import timezone

from ..models import ChannelPause

register = template.Library()


@register.inclusion_tag("admin/notifications/channel_pauses.html", takes_context=True)
def channel_pause_banner(context):
    """Every admin page says so while a channel's provider account cannot send."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff):
        return {"pauses": []}
    return {"pauses": list(ChannelPause.objects.order_by("channel")), "now": timezone.now()}
