"""
The WhatsApp templates the provider has approved, kept in step with it (`manage.py whatsapp_templates sync`).

Meta approves a template per language, and answers 132001 for a language it has not approved: a
message goes in the recipient's language only when that language is approved for its template,
else in the kind's approved default language (META_WHATSAPP_DEFAULT_LANGUAGE), never failing for a
missing translation. A template's components (header, body, buttons) take the kind's variables in
order; a kind whose variables do not fit is named when templates are synced and by `check`.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ..channels.whatsapp import get_whatsapp_backend
from ..channels.whatsapp.meta import component_slots, slots_mismatch
from ..conf import conf
from ..copy.published import own_version
from ..kinds import all_kinds, configured_content_sid, get_kind
from ..languages import DEFAULT_LANGUAGE
from ..models import Channel, DeliveryEvent, MessageTemplate, TemplateChannel, WhatsAppTemplate

logger = logging.getLogger(__name__)
APPROVED = WhatsAppTemplate.Status.APPROVED
APPROVED_CACHE_KEY = "whatsapp-approved-languages"
APPROVED_CACHE_SECONDS = 60


@dataclass(frozen=True)
class TemplateSync:
    provider: str
    templates: list[WhatsAppTemplate]
    removed: int
    # Kinds whose variables do not fit their approved template's components: refused until fixed.
    mismatches: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WhatsAppLanguage:
    """The language a WhatsApp message goes in: its text's and its template's (the provider's code)."""

    render: str  # the language its text and variables are written in (en, hi)
    template: str  # the approved template's language at the provider ("" with Twilio: the SID says)
    fallback_from: str = ""  # the recipient's language, when it had no approved template


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
                "components": list(info.components),
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
    # Forget the approvals read before: now, and once this is committed (a send meanwhile read the old).
    cache.delete(f"{APPROVED_CACHE_KEY}:{backend.provider}")
    transaction.on_commit(lambda: cache.delete(f"{APPROVED_CACHE_KEY}:{backend.provider}"))
    rows = list(WhatsAppTemplate.objects.filter(provider=backend.provider))
    return TemplateSync(provider=backend.provider, templates=rows, removed=removed, mismatches=template_mismatches())


def record_template_status(*, provider: str, name: str, language: str, status: str) -> bool:
    """A provider's review of one template (its webhook): update the synced row; False when there is
    none (a template never synced: the next sync brings it)."""
    status = status if status in WhatsAppTemplate.Status.values else WhatsAppTemplate.Status.UNKNOWN
    updated = WhatsAppTemplate.objects.filter(provider=provider, name=name, language=language).update(status=status)
    if not updated:
        logger.info(
            "%s template %s (%s) is %s, but was never synced: run whatsapp_templates sync.",
            provider,
            name,
            language,
            status,
        )
    cache.delete(f"{APPROVED_CACHE_KEY}:{provider}")
    transaction.on_commit(lambda: cache.delete(f"{APPROVED_CACHE_KEY}:{provider}"))
    return bool(updated)


def _base(code: str) -> str:
    return code.replace("-", "_").split("_")[0].lower()


def _backend_name() -> str:
    return settings.WHATSAPP_BACKEND.rsplit(".", 2)[-2]


def _approved(*, provider: str, name: str) -> set[str] | None:
    """The languages `name` is approved in, or None when the provider's templates were never synced.

    Asked for every WhatsApp message: read once a minute (and after each sync), not once a message.
    """
    key = f"{APPROVED_CACHE_KEY}:{provider}"
    table = cache.get(key)
    if table is None:
        table = {"synced": WhatsAppTemplate.objects.filter(provider=provider).exists(), "approved": {}}
        for template, language in WhatsAppTemplate.objects.filter(provider=provider, status=APPROVED).values_list(
            "name", "language"
        ):
            table["approved"].setdefault(template, set()).add(language)
        cache.set(key, table, APPROVED_CACHE_SECONDS)
    return set(table["approved"].get(name, ())) if table["synced"] else None


def _match(language: str, approved: set[str]) -> str:
    """The approved language that serves `language`: itself, else one of its region ("en" -> "en_US")."""
    if language in approved:
        return language
    return next((code for code in sorted(approved) if _base(code) == _base(language)), "")


def whatsapp_language(*, kind: str, language: str) -> WhatsAppLanguage:
    """The language a `kind` WhatsApp message to a reader of `language` goes in: theirs when its
    template is approved in it, else the kind's approved default; theirs until templates are synced."""
    backend = _backend_name()
    if backend == "meta":
        default = settings.META_WHATSAPP_DEFAULT_LANGUAGE
        own = default if _base(default) == _base(language) else language
        approved = _approved(provider="meta", name=conf.meta_whatsapp_templates.get(kind, ""))
        if approved is None or not approved:  # never synced, or nothing approved (held back when sent)
            return WhatsAppLanguage(render=language, template=own)
        for candidate in (own, default):
            chosen = _match(candidate, approved)
            if chosen:
                render = language if _base(chosen) == _base(language) else _base(chosen)
                return WhatsAppLanguage(
                    render=render, template=chosen, fallback_from="" if render == language else language
                )
        return WhatsAppLanguage(render=language, template=own)
    if backend == "twilio" and language != DEFAULT_LANGUAGE:
        # A Content SID has one language: the recipient's own SID when it is approved, else the default's.
        sid = configured_content_sid(kind, language, or_kinds=False) or _published_sid(kind=kind, language=language)
        approved = _approved(provider="twilio", name=sid) if sid else set()
        if sid and (approved is None or approved):
            return WhatsAppLanguage(render=language, template="")
        if configured_content_sid(kind) or _published_sid(kind=kind, language=DEFAULT_LANGUAGE):
            return WhatsAppLanguage(render=DEFAULT_LANGUAGE, template="", fallback_from=language)
    return WhatsAppLanguage(render=language, template="")


def has_approved_template(*, kind: str, language: str) -> bool:
    """Does `kind` have a WhatsApp template the provider approved in `language` itself (not a
    fallback to the default language)? Known only once templates are synced: False before, and
    with a backend that has no templates (mock, console, locmem)."""
    backend = _backend_name()
    if backend == "meta":
        approved = _approved(provider="meta", name=conf.meta_whatsapp_templates.get(kind, ""))
        return bool(approved and _match(language, approved))
    if backend == "twilio":
        own = language == DEFAULT_LANGUAGE  # the kind's own SID is its default language's
        sid = configured_content_sid(kind, language, or_kinds=own) or _published_sid(kind=kind, language=language)
        return bool(sid and _approved(provider="twilio", name=sid))
    return False


def _published_sid(*, kind: str, language: str) -> str:
    # From the published versions every worker keeps in memory: no query per message.
    version = own_version(kind=kind, channel=TemplateChannel.WHATSAPP, language=language)
    return version.whatsapp_content_sid if version else ""


def _whatsapp_kinds():
    return [kind for kind in all_kinds() if Channel.WHATSAPP in kind.channels and not kind.reply]


def template_mismatches() -> list[str]:
    """Kinds whose variables do not fit the components of their approved Meta template, with why."""
    if _backend_name() != "meta":
        return []
    problems = []
    for kind in _whatsapp_kinds():
        name = conf.meta_whatsapp_templates.get(kind.name)
        if not name:
            continue
        for row in WhatsAppTemplate.objects.filter(provider="meta", name=name, status=APPROVED).order_by("language"):
            mapped = _mapped_variables(kind=kind.name, language=row.language)
            why = slots_mismatch(component_slots(row.components), mapped=len(mapped)) if row.components else ""
            if why:
                problems.append(
                    f"{kind.name}: Meta template {name!r} ({row.language}) does not fit: {why} "
                    f"({', '.join(mapped) or 'none'}). Its messages are held (not sent) until the kind's variables "
                    f"(header first, then body, then buttons) or the template are changed and synced again."
                )
    return problems


def _mapped_variables(*, kind: str, language: str) -> tuple[str, ...]:
    """The context names a kind's WhatsApp template is filled from, in order (a published staff version's own)."""
    version = (
        MessageTemplate.objects.filter(
            kind=kind,
            channel=TemplateChannel.WHATSAPP,
            language__in={_base(language), DEFAULT_LANGUAGE},
            status=MessageTemplate.Status.PUBLISHED,
        )
        .order_by("-version")
        .first()
    )
    return tuple((version.whatsapp_variables if version else None) or get_kind(kind).whatsapp_variables)


def missing_template_languages() -> list[tuple[str, str, int]]:
    """(kind, language, how many students read it) for each WhatsApp kind with no approved template
    in a language students use (they get the kind's default language); empty until templates are synced."""
    backend = _backend_name()
    if backend not in ("meta", "twilio") or not WhatsAppTemplate.objects.filter(provider=backend).exists():
        return []
    readers = dict(
        get_user_model()
        .objects.exclude(language="")
        .values("language")
        .annotate(count=Count("pk"))
        .values_list("language", "count")
    )
    missing = []
    for kind in _whatsapp_kinds():
        if kind.is_marketing and not _configured(kind.name, backend):
            continue
        for language, count in sorted(readers.items()):
            if whatsapp_language(kind=kind.name, language=language).fallback_from:
                missing.append((kind.name, language, count))
    return missing


def _configured(kind: str, backend: str) -> bool:
    configured = conf.twilio_content_sids if backend == "twilio" else conf.meta_whatsapp_templates
    return any(key.split(":")[0] == kind and value for key, value in configured.items())


def has_whatsapp_template(kind_name: str) -> bool:
    """True when a kind's WhatsApp messages have a template to go out with on the configured backend
    (settings, or a published staff version with a Twilio SID); local backends (mock mode) need none."""
    backend = settings.WHATSAPP_BACKEND.rsplit(".", 2)[-2]
    if backend not in ("twilio", "meta"):
        return True
    configured = conf.twilio_content_sids if backend == "twilio" else conf.meta_whatsapp_templates
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


def note_language_fallback(*, delivery, language: WhatsAppLanguage) -> None:
    """Record on a delivery's history that it goes in the kind's default language, and why."""
    DeliveryEvent.objects.create(
        delivery=delivery,
        at=timezone.now(),
        status=delivery.status,
        detail=(
            f"Going out in {language.template or language.render}, the kind's approved default: its WhatsApp "
            f"template is not approved in {language.fallback_from} (the recipient's language)."
        ),
    )
