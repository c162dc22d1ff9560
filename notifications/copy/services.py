"""
What staff do with copy: start a version, check it, preview it, send a test to themselves,
publish it (or ask a second person to approve it, for marketing messages when configured).
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..kinds import MessageKind, get_kind
from ..languages import DEFAULT_LANGUAGE
from ..models import Channel, Delivery, MessageTemplate, Notification, TemplateChannel
from ..rendering import Rendered, _text_engine, file_names, render_email, render_inapp, render_whatsapp
from .published import forget_published_versions, pick_version
from .samples import sample_context
from .sandbox import TemplateProblem, check_template

Status = MessageTemplate.Status
RECENT_CONTEXTS = 10


# --- Starting and checking a version -------------------------------------------------------------


def parts_of(*, channel: str) -> dict[str, bool]:
    """The template fields a channel uses, each with whether it is HTML (escaped)."""
    if channel == TemplateChannel.EMAIL:
        return {"subject": False, "text": False, "html": True}
    if channel == TemplateChannel.INAPP:
        return {"subject": False, "text": False}
    return {"text": False}


def starting_parts(*, kind: MessageKind, channel: str, language: str) -> dict:
    """What a new version starts from: the text this language's readers get now (its published
    version, else its shipped files, else English's version, else the English files); shipped
    HTML is left empty: it is then made from the text."""
    published = MessageTemplate.objects.filter(kind=kind.name, channel=channel, status=Status.PUBLISHED)
    by_language = {version.language: version for version in published.filter(language__in={language, DEFAULT_LANGUAGE})}
    current = pick_version(by_language, kind=kind.name, channel=channel, language=language)
    if current is not None:
        return {
            "subject": current.subject,
            "text": current.text,
            "html": current.html,
            "whatsapp_content_sid": current.whatsapp_content_sid,
            "whatsapp_variables": current.whatsapp_variables,
        }
    files = {
        TemplateChannel.EMAIL: {"subject": "subject.txt", "text": "body.txt"},
        TemplateChannel.INAPP: {"subject": "subject.txt", "text": "inapp.txt"},
        TemplateChannel.WHATSAPP: {"text": "whatsapp.txt"},
    }[channel]
    parts = {name: _file_source(kind, filename, language) for name, filename in files.items()}
    if channel == TemplateChannel.WHATSAPP:
        sids = settings.TWILIO_CONTENT_SIDS
        parts["whatsapp_content_sid"] = sids.get(f"{kind.name}:{language}") or sids.get(kind.name, "")
        parts["whatsapp_variables"] = list(kind.whatsapp_variables)
    return parts


def _file_source(kind: MessageKind, filename: str, language: str) -> str:
    try:
        return _text_engine().select_template(file_names(kind, filename, language)).source.strip()
    except Exception:  # no such shipped file: start empty
        return ""


def template_problems(
    *, kind: MessageKind, channel: str, parts: dict, whatsapp_variables=()
) -> dict[str, list[TemplateProblem]]:
    """Return, by field, what stops these parts rendering for `kind` (empty: they all render)."""
    problems: dict[str, list[TemplateProblem]] = {}
    if channel not in kind.channels:
        problems["channel"] = [TemplateProblem(0, f"“{kind.name}” is not sent by {channel}.")]
        return problems
    for name, is_html in parts_of(channel=channel).items():
        found = check_template(parts.get(name) or "", kind=kind, autoescape=is_html)
        if found:
            problems[name] = found
    required = ("subject", "text") if channel != TemplateChannel.WHATSAPP else ("text",)
    for name in required:
        if not (parts.get(name) or "").strip() and name not in problems:
            problems[name] = [TemplateProblem(0, "This message needs it.")]
    unknown = [name for name in whatsapp_variables or () if name not in kind.all_variables]
    if unknown:
        problems["whatsapp_variables"] = [TemplateProblem(0, f"{', '.join(unknown)}: not variables of this message.")]
    return problems


def _check(version: MessageTemplate) -> None:
    kind = get_kind(version.kind)
    parts = {name: getattr(version, name) for name in ("subject", "text", "html")}
    problems = template_problems(
        kind=kind, channel=version.channel, parts=parts, whatsapp_variables=version.whatsapp_variables
    )
    if problems:
        raise ValidationError(
            {field: [str(problem) for problem in found] for field, found in problems.items() if field != "channel"}
            or [str(problem) for problem in problems["channel"]]
        )


@transaction.atomic
def save_version(*, version: MessageTemplate, by) -> MessageTemplate:
    """Save a draft (a new one gets the next version number); refuse one that does not render."""
    if version.pk and version.status not in (Status.DRAFT, Status.AWAITING_APPROVAL):
        raise ValidationError(f"Version {version.version} is {version.get_status_display().lower()}: start a new one.")
    _check(version)
    now = timezone.now()
    if version.pk is None:
        # Numbered under a lock on the kind's versions: two people saving at once get 3 and 4.
        latest = (
            MessageTemplate.objects.select_for_update()
            .filter(kind=version.kind, channel=version.channel, language=version.language)
            .aggregate(latest=Max("version"))["latest"]
        )
        version.version = (latest or 0) + 1
        version.created_by, version.created_at = by, now
    elif version.status == Status.AWAITING_APPROVAL:
        version.status, version.submitted_by = Status.DRAFT, None  # changed after asking: ask again
    version.edited_by, version.edited_at = by, now
    version.save()
    return version


# --- Publishing and approval ---------------------------------------------------------------------


@dataclass(frozen=True)
class PublishOutcome:
    version: MessageTemplate
    published: bool
    message: str


def needs_approval(version: MessageTemplate) -> bool:
    return settings.TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING and get_kind(version.kind).is_marketing


@transaction.atomic
def publish_version(*, version: MessageTemplate, by) -> PublishOutcome:
    """Publish a version (it replaces the live one at once), or, for a marketing message that needs
    a second person's approval, ask for it; an author never approves their own change."""
    version = MessageTemplate.objects.select_for_update().get(pk=version.pk)
    if version.status not in (Status.DRAFT, Status.AWAITING_APPROVAL):
        raise ValidationError(f"Version {version.version} is {version.get_status_display().lower()} already.")
    _check(version)
    if needs_approval(version):
        if by.pk in version.authors:
            if version.status == Status.AWAITING_APPROVAL:
                raise ValidationError("You wrote this change: another staff member must approve it.")
            version.status, version.submitted_by = Status.AWAITING_APPROVAL, by
            version.save(update_fields=["status", "submitted_by"])
            return PublishOutcome(
                version, False, f"{version} waits for approval: another staff member must approve it."
            )
        version.approved_by = by
    now = timezone.now()
    MessageTemplate.objects.filter(
        kind=version.kind, channel=version.channel, language=version.language, status=Status.PUBLISHED
    ).update(status=Status.RETIRED)
    version.status, version.published_by, version.published_at = Status.PUBLISHED, by, now
    version.save(update_fields=["status", "published_by", "published_at", "approved_by"])
    forget_published_versions()
    return PublishOutcome(version, True, f"{version} is published: messages sent from now on use it.")


# --- Previews and tests --------------------------------------------------------------------------


def recent_deliveries(*, kind: str, limit: int = RECENT_CONTEXTS) -> list[Delivery]:
    """Recent real messages of `kind`, whose contexts a preview can use."""
    return list(
        Delivery.objects.filter(event__kind=kind, is_test=False)
        .select_related("event", "group", "recipient")
        .only("pk", "to_address", "channel", "created_at", "own_context", "event__kind", "group__context", "recipient")
        .order_by("-created_at", "-id")[:limit]
    )


def preview_context(*, kind: MessageKind, language: str, delivery: Delivery | None = None) -> dict:
    """The context a preview renders with: a real recipient's stored context, or sample data,
    with example values for what is only made when sent (links)."""
    context = sample_context(kind=kind, language=language)
    if delivery is not None:
        context |= delivery.context
    context["language"] = language
    return context


def render_version(*, version: MessageTemplate, context: dict) -> tuple[Rendered, dict]:
    """Render a version with `context` as its recipient would get it (links are not minted); return
    it with the WhatsApp template's variables (empty for other channels)."""
    kind = get_kind(version.kind)
    preview = {"preview": True, "version": version, "language": version.language}
    if version.channel == TemplateChannel.EMAIL:
        return render_email(kind=kind, context=context, delivery_id=None, **preview), {}
    if version.channel == TemplateChannel.INAPP:
        return render_inapp(kind=kind, context=context, **preview), {}
    return render_whatsapp(kind=kind, context=context, **preview)


@transaction.atomic
def send_test(*, version: MessageTemplate, to, delivery: Delivery | None = None) -> Delivery | Notification:
    """Send `version` to staff member `to` through the normal channel, marked as a test in the ledger
    (never in campaign stats); in mock mode it lands in the mail/WhatsApp files."""
    kind = get_kind(version.kind)
    context = preview_context(kind=kind, language=version.language, delivery=delivery)
    # Only documented variables: no id of the real recipient travels (no link is minted for them).
    context = {name: value for name, value in context.items() if name in kind.all_variables}
    context |= {"name": to.get_full_name(), "first_name": to.get_short_name()}
    if "email" in kind.all_variables:
        context["email"] = to.email
    context.pop("unsubscribe_url", None)
    if version.channel == TemplateChannel.INAPP:
        rendered, _ = render_version(version=version, context=context)
        return Notification.objects.create(
            user=to, kind=version.kind, title=f"[Test] {rendered.subject}"[:200], message=rendered.text
        )
    if version.channel == TemplateChannel.WHATSAPP:
        address = getattr(to, "phone", "")
        if not address:
            raise ValidationError("Your account has no phone number: add one to receive a WhatsApp test.")
    else:
        address = to.email.lower()
    test = Delivery.objects.create(
        kind=version.kind,
        channel=Channel.EMAIL if version.channel == TemplateChannel.EMAIL else Channel.WHATSAPP,
        event_key=f"{version.kind}:test:{version.pk}:{uuid.uuid4().hex}",  # each test is its own event
        subject_type=MessageTemplate._meta.label_lower,
        subject_id=version.pk,
        recipient=to,
        to_address=address,
        context=context,
        template_version=version,
        is_test=True,
    )
    from ..services.dispatch import dispatch_deliveries  # dispatch imports rendering, as we do

    transaction.on_commit(lambda: dispatch_deliveries(ids=[test.pk]))
    return test
