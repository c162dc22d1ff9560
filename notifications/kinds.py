"""
Message kinds: what a message is, who may silence it, where it goes, how it is rendered.

The app that owns a message declares its kind (`lms/messages.py`, `leads/messages.py`) with
`register()`; notifications knows nothing of sessions or leads. Templates live in
`templates/notifications/<name>/`: `subject.txt`, `body.txt`, `body.html`, `whatsapp.txt`
(the approved WhatsApp template's text, for previews) and `inapp.txt` (the in-app message).
Those files are the shipped defaults: staff may publish their own versions in the admin
(notifications.copy), which run in a sandbox where only the kind's `variables` exist.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import conf
from .models import Category, Channel, Topic
from .replies import InboundReply, ReplyAnswer, register_reply_handler  # noqa: F401  (other apps' door)

INAPP = "inapp"
Hook = Callable | str | None

# Urgency classes (the attention budget, services/attention.py): a critical message is never held
# or capped; a normal one waits out the recipient's quiet hours and past the day's cap is folded
# into their digest; a low one (marketing) goes only inside the marketing window, and is capped.
CRITICAL, NORMAL, LOW = "critical", "normal", "low"
URGENCIES = (CRITICAL, NORMAL, LOW)
# What a held message does when its moment (its expiry: the class, the deadline) comes before its
# wait ends: "latest" goes at the latest time that still makes sense (an hour before the moment,
# when the message is critical anyway), "expire" is not sent.
LATEST, EXPIRE = "latest", "expire"

# Variables every message may use.
COMMON_VARIABLES = {
    "name": 'The recipient\'s full name (may be empty: write {{ name|default:"there" }}).',
    "first_name": "The first word of the recipient's name, or “there”.",
    "site_name": "The business's name.",
    "site_url": "The site's address.",
    "language": "The recipient's language code (en, hi...).",
}


@dataclass(frozen=True)
class MessageKind:
    name: str
    category: str = Category.TRANSACTIONAL
    topic: str = Topic.REMINDERS
    # Any of Channel.EMAIL, Channel.WHATSAPP and INAPP.
    channels: tuple[str, ...] = (Channel.EMAIL,)
    # Context keys that become the WhatsApp template's variables {"1": ..., "2": ...}, in order.
    whatsapp_variables: tuple[str, ...] = ()
    description: str = ""
    # The owning app's hooks: functions (or, for code outside the project, dotted paths to them).
    # callable(context) -> [(filename, content, mimetype)], run at send time.
    attachments: Hook = None
    # callable(deliveries) -> {delivery id: reason} for messages the owning app no longer wants
    # sent (the payment was paid, the session moved). Asked at dispatch time.
    still_wanted: Hook = None
    # callable(context) -> {name: value} run only when the dispatcher renders a message to send it,
    # for what must be made at send time rather than when planned (a link signed when it is sent).
    render_context: Hook = None
    # callable(context) -> {name: value} run in every rendering (previews, in-app rows, sends), for
    # words computed from the stored data in the reader's language ("Tomorrow"). It must be pure:
    # never a credential, since staff views run it too.
    display_context: Hook = None
    # Names of render_context values that are secrets without being links (a one-time code): the
    # ledger and the admin keep the text without them, as they do for minted links.
    secret_variables: tuple[str, ...] = ()
    # An answer to a message the person just sent (a STOP or START confirmation): free-form text,
    # which WhatsApp allows in the 24-hour window their message opened, and it goes out even to a
    # number that has just opted out.
    reply: bool = False
    # What a template of this kind may use, beside COMMON_VARIABLES: {name: what it holds}.
    # Shown next to the editor; nothing else exists when a staff-edited template renders.
    variables: Mapping[str, str] = field(default_factory=dict)
    # Example values for previews and for checking a template renders ({name: value}); a
    # variable without one previews as its name in brackets.
    samples: Mapping[str, object] = field(default_factory=dict)
    # Variables holding a link that acts for the recipient (sets a password, carries a signed
    # reference), made by `render_context` when the message is sent. Staff only ever see an inert
    # placeholder for them, and staff copy may place them only in the fixed link slot
    # (notifications.copy.sandbox.link_problems).
    access_links: tuple[str, ...] = ()
    # CRITICAL, NORMAL or LOW; empty: from the category (account messages critical, marketing low,
    # the rest normal). Whatever it says, a message whose moment is within the hour is critical.
    urgency: str = ""
    # LATEST or EXPIRE: what a held message does when its moment comes before its wait ends.
    when_moment_passes: str = LATEST
    # The words a digest sums this kind's folded messages up in: ngettext_lazy("%(count)d new
    # recording", "%(count)d new recordings", "count"); none: "N messages".
    digest_phrase: object = None

    def __hash__(self):
        return hash(self.name)

    def hook(self, name: str) -> Callable | None:
        """Return the kind's `name` hook (attachments, still_wanted, render_context, display_context) or None."""
        value = getattr(self, name)
        if not value:
            return None
        return value if callable(value) else import_string(value)

    @property
    def all_variables(self) -> dict[str, str]:
        """Every variable a template of this kind may use, with what it holds."""
        common = dict(COMMON_VARIABLES)
        if self.is_marketing:
            common["unsubscribe_url"] = "The one-click unsubscribe link (made when sent)."
        return {**common, **self.variables}

    def sample_context(self) -> dict:
        """Example values for every variable: for previews without a real recipient, and checks."""
        values = {name: f"[{name}]" for name in self.all_variables}
        values |= {"name": "Asha Verma", "first_name": "Asha", "language": "en"}
        values |= {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL}
        if "unsubscribe_url" in values:
            values["unsubscribe_url"] = f"{settings.SITE_URL}/unsubscribe/example/"
        return {**values, **self.samples}

    @property
    def guarded_links(self) -> tuple[str, ...]:
        """The access links of this kind's messages: its own, and the unsubscribe link of marketing."""
        return (*self.access_links, "unsubscribe_url") if self.is_marketing else self.access_links

    @property
    def template_dir(self) -> str:
        return f"notifications/{self.name}"

    @property
    def is_marketing(self) -> bool:
        return self.category == Category.MARKETING

    @property
    def urgency_class(self) -> str:
        """CRITICAL, NORMAL or LOW: the kind's own, else its category's."""
        if self.urgency:
            return self.urgency
        if self.category == Category.ACCOUNT or self.reply:  # a reply answers what the person just wrote
            return CRITICAL
        return LOW if self.is_marketing else NORMAL

    @property
    def can_opt_out(self) -> bool:
        return self.category != Category.ACCOUNT


_registry: dict[str, MessageKind] = {}


def register(kind: MessageKind) -> MessageKind:
    """Declare a message kind; registering the same name twice with other settings is an error."""
    known = _registry.get(kind.name)
    if known is not None and known != kind:
        raise ImproperlyConfigured(f"Message kind {kind.name!r} is declared twice, differently.")
    valid = {Channel.EMAIL, Channel.WHATSAPP, INAPP}
    if not set(kind.channels) <= valid:
        raise ImproperlyConfigured(f"Message kind {kind.name!r} names an unknown channel: {kind.channels}.")
    if kind.urgency not in ("", *URGENCIES) or kind.when_moment_passes not in (LATEST, EXPIRE):
        raise ImproperlyConfigured(f"Message kind {kind.name!r}: unknown urgency or when_moment_passes.")
    _registry[kind.name] = kind
    return kind


def get_kind(name: str) -> MessageKind:
    """Return the declared kind called `name`."""
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"No message kind {name!r} is declared. Known: {', '.join(sorted(_registry))}.") from None


def all_kinds() -> list[MessageKind]:
    return sorted(_registry.values(), key=lambda kind: kind.name)


# The shipped files each channel renders, by part (rendering.py), in templates/notifications/<name>/
# and, translated, in its <language>/ folder: an in-app title is the email subject. The system
# checks ask for each, the copy editor starts from them, and a language's "text" file says it is
# translated (copy.shipped).
TEMPLATE_FILES: dict[str, dict[str, str]] = {
    Channel.EMAIL: {"subject": "subject.txt", "text": "body.txt", "html": "body.html"},
    Channel.WHATSAPP: {"text": "whatsapp.txt"},
    INAPP: {"subject": "subject.txt", "text": "inapp.txt"},
}


def configured_content_sid(kind: str, language: str = "", *, or_kinds: bool = True) -> str:
    """The approved WhatsApp template (Twilio Content SID) TWILIO_CONTENT_SIDS names for `kind` in
    `language` ("<kind>:<language>"), else the kind's own ("<kind>") unless `or_kinds` is False."""
    sids = conf.twilio_content_sids
    own = sids.get(f"{kind}:{language}", "") if language else ""
    return own or (sids.get(kind, "") if or_kinds else "")
