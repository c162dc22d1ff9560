"""Template tags of the admin's pages: the banner of a paused channel, the WhatsApp replies of the week."""

from datetime import timedelta

from django import template
from django.db.models import Count, Q
from django.utils import timezone

from ..models import ChannelPause, InboundMessage

register = template.Library()


@register.inclusion_tag("admin/notifications/channel_pauses.html", takes_context=True)
def channel_pause_banner(context):
    """Every admin page says so while a channel's provider account cannot send."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff):
        return {"pauses": []}
    return {"pauses": list(ChannelPause.objects.order_by("channel")), "now": timezone.now()}


@register.inclusion_tag("admin/notifications/replies_summary.html", takes_context=True)
def whatsapp_replies_summary(context, days: int = 7):
    """What people wrote to us on WhatsApp lately: replies to read, STOPs and STARTs (the admin's home page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not (user and user.has_perm("notifications.view_inboundmessage")):
        return {"show": False}
    since = timezone.now() - timedelta(days=days)
    counts = InboundMessage.objects.filter(received_at__gte=since).aggregate(
        replies=Count("id", filter=Q(keyword="")),
        stops=Count("id", filter=Q(keyword=InboundMessage.Keyword.STOP)),
        starts=Count("id", filter=Q(keyword=InboundMessage.Keyword.START)),
    )
    return {"show": True, "days": days, "since": since, **counts}
