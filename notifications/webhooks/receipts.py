"""Which channels' providers report deliveries back through a webhook we accept (the reach ladder asks)."""

from django.conf import settings
from django.utils.module_loading import import_string

from ..models import Channel
from .email import webhook_secrets


def channels_with_receipts() -> set[str]:
    """The channels whose provider reports deliveries back to us through a status webhook we accept:
    email once ANYMAIL_WEBHOOK_SECRET is set (the tracking webhook refuses everything without it);
    WhatsApp on Meta with its app secret, or on Twilio (it signs its status callbacks with the auth
    token). The file and console backends (mock mode) report nothing."""
    channels = set()
    if webhook_secrets():
        channels.add(Channel.EMAIL)
    provider = import_string(settings.WHATSAPP_BACKEND).provider  # "" for the local backends
    secret = {"meta": settings.META_WHATSAPP_APP_SECRET, "twilio": settings.TWILIO_AUTH_TOKEN}.get(provider)
    if secret:
        channels.add(Channel.WHATSAPP)
    return channels
