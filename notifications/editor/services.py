"""
What staff do with copy: start a version, check it, preview it, send a test to themselves,
publish it (or ask a second person to approve it, for marketing messages when configured).
"""

import hashlib
import json
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ..copy import links
from ..copy.published import forget_published_versions, pick_version
from ..copy.samples import sample_context
from ..copy.sandbox import TemplateProblem, check_template
from ..kinds import TEMPLATE_FILES, MessageKind, configured_content_sid, get_kind
from ..languages import DEFAULT_LANGUAGE
from ..models import Channel, Delivery, MessageTemplate, Notification, TemplateChannel
from ..rendering import Rendered, _text_engine, file_names, render_email, render_inapp, render_whatsapp
from ..services.dispatch import dispatch_deliveries

Status = MessageTemplate.Status
RECENT_CONTEXTS = 10
LINK_HIDDEN = "[link hidden in previews]"


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
    files = {part: filename for part, filename in TEMPLATE_FILES[channel].items() if part != "html"}
    parts = {name: _file_source(kind, filename, language) for name, filename in files.items()}
    if channel == TemplateChannel.WHATSAPP:
        parts["whatsapp_content_sid"] = configured_content_sid(kind.name, language)
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
        found += _link_problems(kind=kind, channel=channel, field=name, source=parts.get(name) or "")
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


def _link_problems(*, kind: MessageKind, channel: str, field: str, source: str) -> list[TemplateProblem]:
    """Where the version puts an access link outside its fixed slot, or HTML that loads by itself."""
    part = links.link_part(channel=channel, field=field)
    found = [TemplateProblem(line, message) for line, message in links.link_problems(source, kind=kind, part=part)]
    if part == "html":
        found += [TemplateProblem(0, message) for message in links.source_html_problems(source, kind=kind)]
    return found


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
    _record_revision(version, by=by)
    version.save()
    return version


def _record_revision(version: MessageTemplate, *, by) -> None:
    """Whoever saves a revision is one of its authors for good; an edit voids any approval asked or given."""
    if by is not None and by.pk not in (version.editors or []):
        version.editors = [*(version.editors or []), by.pk]
    version.submitted_hash = version.approved_hash = ""


# --- Publishing and approval ---------------------------------------------------------------------


@dataclass(frozen=True)
class PublishOutcome:
    version: MessageTemplate
    published: bool
    message: str


def needs_approval(version: MessageTemplate) -> bool:
    """Whether publishing `version` needs a second person. The setting (named for marketing, where
    it started) covers every kind: marketing text fits in a transactional kind, so a rule for
    marketing kinds only is walked around by writing it there."""
    return bool(settings.TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING)


def content_hash(version: MessageTemplate) -> str:
    """The hash of exactly what would be published: approval binds to it."""
    fields = ("kind", "channel", "language", "subject", "text", "html", "whatsapp_content_sid", "whatsapp_variables")
    text = json.dumps([getattr(version, name) for name in fields], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def revision_authors(version: MessageTemplate) -> set[int]:
    """Everyone who wrote a revision of this kind, channel and language since its last published
    version (this version's authors and those of every draft since): none of them may approve it."""
    same = MessageTemplate.objects.filter(kind=version.kind, channel=version.channel, language=version.language)
    last = same.filter(status__in=(Status.PUBLISHED, Status.RETIRED)).aggregate(latest=Max("version"))["latest"]
    drafts = same.filter(status__in=(Status.DRAFT, Status.AWAITING_APPROVAL), version__gt=last or 0)
    authors = set(version.authors)
    for draft in drafts.only("created_by", "edited_by", "editors"):
        authors |= draft.authors
    return authors


@transaction.atomic
def publish_version(*, version: MessageTemplate, by, seen_hash: str | None = None) -> PublishOutcome:
    """Publish a version (it replaces the live one at once), or, when a second person's approval is
    required, ask for it. An approval is for the exact text the approver saw (`seen_hash`), and for
    the text approval was asked for; no author of any revision since the last published version
    approves it."""
    version = MessageTemplate.objects.select_for_update().get(pk=version.pk)
    if version.status not in (Status.DRAFT, Status.AWAITING_APPROVAL):
        raise ValidationError(f"Version {version.version} is {version.get_status_display().lower()} already.")
    _check(version)
    current = content_hash(version)
    if seen_hash is not None and seen_hash != current:
        raise ValidationError(_("This version changed since you opened it: review it again before publishing it."))
    if needs_approval(version):
        if by.pk in revision_authors(version):
            if version.status == Status.AWAITING_APPROVAL:
                raise ValidationError(_("You wrote (part of) this change: another staff member must approve it."))
            version.status, version.submitted_by, version.submitted_hash = Status.AWAITING_APPROVAL, by, current
            version.save(update_fields=["status", "submitted_by", "submitted_hash"])
            return PublishOutcome(
                version, False, f"{version} waits for approval: another staff member must approve it."
            )
        if version.status == Status.AWAITING_APPROVAL and version.submitted_hash != current:
            raise ValidationError(_("This version changed since approval was asked for: its author must ask again."))
        if seen_hash is None and version.status != Status.AWAITING_APPROVAL:
            # Nothing binds this approval to a text: neither what the approver saw nor what was asked for.
            raise ValidationError(_("Approve from the version's page: an approval is for the text you saw."))
        version.approved_by, version.approved_hash = by, current
    now = timezone.now()
    MessageTemplate.objects.filter(
        kind=version.kind, channel=version.channel, language=version.language, status=Status.PUBLISHED
    ).update(status=Status.RETIRED)
    version.status, version.published_by, version.published_at = Status.PUBLISHED, by, now
    version.save(update_fields=["status", "published_by", "published_at", "approved_by", "approved_hash"])
    forget_published_versions()
    return PublishOutcome(version, True, f"{version} is published: messages sent from now on use it.")


# --- Previews and tests --------------------------------------------------------------------------


def recent_deliveries(*, kind: str, channel: str, limit: int = RECENT_CONTEXTS) -> list[Delivery]:
    """Recent real messages of `kind` on the template's channel (an in-app template: its emails, the
    same people), whose stored contexts a preview may use; shown by the person's name only."""
    on = Channel.WHATSAPP if channel == TemplateChannel.WHATSAPP else Channel.EMAIL
    return list(
        Delivery.objects.filter(event__kind=kind, channel=on, is_test=False)
        .select_related("event", "group", "recipient")
        .only("pk", "channel", "created_at", "own_context", "event__kind", "group__context", "recipient")
        .order_by("-created_at", "-id")[:limit]
    )


def recipient_label(delivery: Delivery) -> str:
    """How a preview lists a real recipient: their name (never their address or number)."""
    name = (delivery.context.get("name") or "").strip()
    return f"{name or 'A recipient without a name'} ({delivery.created_at:%Y-%m-%d})"


def preview_context(*, kind: MessageKind, language: str, delivery: Delivery | None = None) -> dict:
    """The context a preview renders with: sample data in the language (its dates and amounts), or
    one real recipient's stored context with every link in it replaced (a payment or meeting link is
    theirs, not the editor's to open)."""
    context = sample_context(kind=kind, language=language)
    if delivery is not None:
        context |= {
            name: _(LINK_HIDDEN) if isinstance(value, str) and "://" in value else value
            for name, value in delivery.context.items()
        }
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
def send_test(*, version: MessageTemplate, to) -> Delivery | Notification:
    """Send `version`, with sample data, to staff member `to` (their own email address, or their own
    verified number) through the normal channel, marked as a test in the ledger (never in campaign
    stats); in mock mode it lands in the mail/WhatsApp files. No link is minted for it."""
    kind = get_kind(version.kind)
    context = preview_context(kind=kind, language=version.language)
    context |= {"name": to.get_full_name(), "first_name": to.get_short_name()}
    if "email" in kind.all_variables:
        context["email"] = to.email
    context.pop("unsubscribe_url", None)
    if version.channel == TemplateChannel.INAPP:
        rendered, _variables = render_version(version=version, context=context)
        return Notification.objects.create(
            user=to, kind=version.kind, title=f"[Test] {rendered.subject}"[:200], message=rendered.text
        )
    if version.channel == TemplateChannel.WHATSAPP:
        address = verified_phone(to)
        if not address:
            raise ValidationError(
                _("Your account has no verified phone number: verify yours to receive a WhatsApp test.")
            )
    else:
        address = to.email.lower()
    test = Delivery.objects.create_single(
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

    transaction.on_commit(lambda: dispatch_deliveries(ids=[test.pk]))
    return test


def verified_phone(user) -> str:
    """The staff member's own number, once it is proven theirs (`phone_verified_at`); else none."""
    return (getattr(user, "phone", "") or "") if getattr(user, "phone_verified_at", None) else ""
