"""
Message kinds: what a message is, who may silence it, where it goes, how it is rendered.

The app that owns a message declares its kind (`lms/messages.py`, `leads/messages.py`) with
`register()`; notifications knows nothing of sessions or leads. Templates live in
`templates/notifications/<name>/`: `subject.txt`, `body.txt`, `body.html`, `whatsapp.txt`
(the approved WhatsApp template's text, for previews) and `inapp.txt` (the in-app message).
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from .models import Category, Channel, Topic

INAPP = "inapp"


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
    # Dotted path of a callable(context) -> [(filename, content, mimetype)], run at send time.
    attachments: str = ""
    # Dotted path of a callable(deliveries) -> {delivery id: reason} for messages the owning app
    # no longer wants sent (the payment was paid, the session moved). Asked at dispatch time.
    still_wanted: str = ""
    # Dotted path of a callable(context) -> {name: value} run each time the message is rendered, for
    # what must be made at send time rather than when planned (a link signed when it is sent).
    render_context: str = ""

    @property
    def template_dir(self) -> str:
        return f"notifications/{self.name}"

    @property
    def is_marketing(self) -> bool:
        return self.category == Category.MARKETING

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
