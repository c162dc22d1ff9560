"""
The catalogue of copy: every message kind × channel × language, what its readers get now and
who changed it last; who a publish reaches; "back to the shipped text" (unpublish).

A (kind, channel, language) is in one of three live states: `published` (a staff version),
`shipped` (the app's file in that language) or `missing` (no text of its own: its readers get
English). A draft may wait beside any of them.
"""

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import pgettext, pgettext_lazy

from ..copy.published import forget_published_versions
from ..copy.samples import sample_context
from ..copy.shipped import is_shipped
from ..kinds import MessageKind, all_kinds, get_kind
from ..languages import DEFAULT_LANGUAGE, available_languages
from ..models import MessageTemplate, TemplateChannel
from ..rendering import Rendered, render_email, render_inapp, render_whatsapp

Status = MessageTemplate.Status
PUBLISHED, SHIPPED, MISSING = "published", "shipped", "missing"
STATE_LABELS = {
    PUBLISHED: pgettext_lazy("copy catalogue", "Edited and published"),
    SHIPPED: pgettext_lazy("copy catalogue", "Shipped"),
    MISSING: pgettext_lazy("copy catalogue", "Missing translation"),
}
OPEN = (Status.DRAFT, Status.AWAITING_APPROVAL)


@dataclass(frozen=True)
class Entry:
    kind: MessageKind
    channel: str
    language: str
    language_name: str
    state: str
    published: MessageTemplate | None = None
    draft: MessageTemplate | None = None
    # The version last taken off ("back to the shipped text"), when that is the latest change.
    unpublished: MessageTemplate | None = None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def channel_label(self) -> str:
        return TemplateChannel(self.channel).label

    @property
    def changed(self) -> tuple:
        """(who, when, what) of the live text's last change; (None, None, "") for the shipped files."""
        if self.published is not None:
            what = pgettext("copy catalogue", "published v%(version)s") % {"version": self.published.version}
            return self.published.published_by, self.published.published_at, what
        if self.unpublished is not None:
            what = pgettext("copy catalogue", "back to the shipped text")
            return self.unpublished.unpublished_by, self.unpublished.unpublished_at, what
        return None, None, ""

    @property
    def readers_get(self) -> str:
        """What this language's readers get now, in a few words."""
        if self.state == PUBLISHED:
            return pgettext("copy catalogue", "staff version %(version)s") % {"version": self.published.version}
        if self.state == SHIPPED:
            return pgettext("copy catalogue", "the shipped %(language)s text") % {"language": self.language_name}
        return pgettext("copy catalogue", "the English text (no translation yet)")


def _language_names() -> dict[str, str]:
    """{code: name} of every language, each named in the language of the page ("Hindi", "हिन्दी")."""
    return {code: _display_name(code, name) for code, name in available_languages()}


def _display_name(code: str, name: str) -> str:
    try:
        return Locale.parse(code.replace("-", "_")).get_display_name(translation.get_language() or "en") or name
    except (UnknownLocaleError, ValueError):
        return name


def catalogue_entries(*, kind: str = "", channel: str = "", language: str = "", state: str = "") -> list[Entry]:
    """Return every kind × channel × language (those matching the filters given), in that order."""
    versions: dict[tuple, dict] = {}
    rows = MessageTemplate.objects.filter(
        Q(status__in=(Status.PUBLISHED, *OPEN)) | Q(unpublished_at__isnull=False)
    ).select_related("published_by", "edited_by", "unpublished_by")
    for version in rows.order_by("version"):
        found = versions.setdefault((version.kind, version.channel, version.language), {})
        if version.status == Status.PUBLISHED:
            found["published"] = version
        elif version.status in OPEN:
            found["draft"] = version  # the newest open draft (ordered by version)
        elif not found.get("unpublished") or found["unpublished"].unpublished_at < version.unpublished_at:
            found["unpublished"] = version
    entries, names = [], _language_names()
    for message_kind in all_kinds():
        for kind_channel in message_kind.channels:
            for code, name in names.items():
                found = versions.get((message_kind.name, kind_channel, code), {})
                entry = _entry(message_kind, kind_channel, code, name, found)
                wanted = (kind or entry.kind.name, channel or entry.channel, language or entry.language)
                if wanted == (entry.kind.name, entry.channel, entry.language) and state in ("", entry.state):
                    entries.append(entry)
    return entries


def _entry(kind: MessageKind, channel: str, language: str, name: str, found: dict) -> Entry:
    published = found.get("published")
    if published is not None:
        state = PUBLISHED
    elif language == DEFAULT_LANGUAGE or is_shipped(kind=kind.name, channel=channel, language=language):
        state = SHIPPED
    else:
        state = MISSING
    # A published version is the latest change; without one, the last "back to the shipped text" is.
    unpublished = found.get("unpublished") if published is None else None
    return Entry(kind, channel, language, name, state, published, found.get("draft"), unpublished)


def catalogue_entry(*, kind: str, channel: str, language: str) -> Entry:
    """Return one (kind, channel, language) of the catalogue; LookupError when it does not exist."""
    message_kind = get_kind(kind)
    if channel not in message_kind.channels or language not in _language_names():
        raise LookupError(f"“{kind}” is not sent by {channel} in {language}.")
    return catalogue_entries(kind=kind, channel=channel, language=language)[0]


def publish_audience(*, kind: str, channel: str, language: str) -> list[str]:
    """Say who gets a new `language` version of `kind` on `channel` once published, and who keeps
    what they get: each other language's readers keep their own text; only those of a language
    with no text of its own follow English."""
    names = _language_names()
    lines = [
        pgettext(
            "copy catalogue",
            "Who gets this text: everyone sent “%(kind)s” by %(channel)s whose language is %(language)s, "
            "from their next message on.",
        )
        % {"kind": kind, "channel": TemplateChannel(channel).label.lower(), "language": names.get(language, language)}
    ]
    for entry in catalogue_entries(kind=kind, channel=channel):
        if entry.language == language:
            continue
        if entry.state == MISSING and language == DEFAULT_LANGUAGE:
            line = pgettext("copy catalogue", "%(language)s readers get it too: there is no %(language)s text yet.")
        else:
            line = pgettext("copy catalogue", "%(language)s readers keep %(readers_get)s.")
        lines.append(line % {"language": entry.language_name, "readers_get": entry.readers_get})
    return lines


def render_live(*, kind: str, channel: str, language: str) -> tuple[Rendered, dict]:
    """Render what `language`'s readers get now on `channel`, with that language's sample data
    (nothing is minted: links are examples); with the WhatsApp variables (empty otherwise)."""
    message_kind = get_kind(kind)
    context = sample_context(kind=message_kind, language=language)
    if channel == TemplateChannel.EMAIL:
        return render_email(kind=message_kind, context=context, delivery_id=None, language=language, preview=True), {}
    if channel == TemplateChannel.INAPP:
        return render_inapp(kind=message_kind, context=context, language=language, preview=True), {}
    return render_whatsapp(kind=message_kind, context=context, language=language, preview=True)


@transaction.atomic
def unpublish(*, kind: str, channel: str, language: str, by) -> MessageTemplate:
    """Take the published version off: `language`'s readers get its shipped text again (English's,
    when that language ships none)."""
    version = (
        MessageTemplate.objects.select_for_update()
        .filter(kind=kind, channel=channel, language=language, status=Status.PUBLISHED)
        .first()
    )
    if version is None:
        raise ValidationError(
            pgettext(
                "copy catalogue", "Nothing staff wrote is published here: its readers get the shipped text already."
            )
        )
    version.status, version.unpublished_by, version.unpublished_at = Status.RETIRED, by, timezone.now()
    version.save(update_fields=["status", "unpublished_by", "unpublished_at"])
    forget_published_versions()
    return version
