"""The WhatsApp templates the provider has approved, kept in step with it (`manage.py whatsapp_templates sync`)."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..channels.whatsapp import get_whatsapp_backend
from ..models import MessageTemplate, TemplateChannel, WhatsAppTemplate


@dataclass(frozen=True)
class TemplateSync:
    provider: str
    templates: list[WhatsAppTemplate]
    removed: int


@transaction.atomic
def sync_whatsapp_templates(*, now: dt.datetime | None = None) -> TemplateSync:
    """Fetch the configured provider's templates with their approval; keep exactly those; return them."""
    now = now or timezone.now()
    with get_whatsapp_backend() as backend:
        if not backend.provider:
            raise ValueError(
                f"The WhatsApp backend {type(backend).__module__} has no templates to sync: configure Meta or Twilio."
            )
        found = backend.list_templates()
    known = set()
    for info in found:
        status = info.status if info.status in WhatsAppTemplate.Status.values else WhatsAppTemplate.Status.UNKNOWN
        WhatsAppTemplate.objects.update_or_create(
            provider=backend.provider,
            name=info.name,
            language=info.language,
            defaults={
                "friendly_name": info.friendly_name,
                "category": info.category if info.category in ("utility", "marketing", "authentication") else "",
                "status": status,
                "body": info.body,
                "synced_at": now,
            },
        )
        known.add((info.name, info.language))
    stale = [
        row.pk
        for row in WhatsAppTemplate.objects.filter(provider=backend.provider)
        if (row.name, row.language) not in known
    ]
    removed, _ = WhatsAppTemplate.objects.filter(pk__in=stale).delete()
    rows = list(WhatsAppTemplate.objects.filter(provider=backend.provider))
    return TemplateSync(provider=backend.provider, templates=rows, removed=removed)


def has_whatsapp_template(kind_name: str) -> bool:
    """True when a kind's WhatsApp messages have a template to go out with on the configured backend
    (settings, or a published staff version with a Twilio SID); local backends (mock mode) need none."""
    backend = settings.WHATSAPP_BACKEND.rsplit(".", 2)[-2]
    if backend not in ("twilio", "meta"):
        return True
    configured = settings.TWILIO_CONTENT_SIDS if backend == "twilio" else settings.META_WHATSAPP_TEMPLATES
    if any(key.split(":")[0] == kind_name and value for key, value in configured.items()):
        return True
    return (
        backend == "twilio"
        and MessageTemplate.objects.filter(
            kind=kind_name, channel=TemplateChannel.WHATSAPP, status=MessageTemplate.Status.PUBLISHED
        )
        .exclude(whatsapp_content_sid="")
        .exists()
    )
