"""Render a message kind's templates from the context stored on its delivery row."""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.module_loading import import_string

from .kinds import MessageKind
from .tokens import make_unsubscribe_token

REDACTED = "[personal link: made when sent, not stored]"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str = ""
    # Links minted for this sending (set-password, unsubscribe, signed campaign links): they went
    # out, but the ledger and the admin keep the text without them.
    secrets: tuple[str, ...] = ()

    @property
    def stored_text(self) -> str:
        """The text as the ledger keeps it: what was sent, with every minted link hidden."""
        return redact(self.text, self.secrets)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Return `text` with each of `secrets` replaced by a placeholder."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


@functools.cache
def _text_engine() -> Engine:
    """The project's templates with autoescaping off, for plain-text parts."""
    options = settings.TEMPLATES[0]
    return Engine(dirs=[str(path) for path in options["DIRS"]], app_dirs=True, autoescape=False)


def render_text(template_name: str, context: dict) -> str:
    """Render a plain-text template (no HTML escaping)."""
    return _text_engine().get_template(template_name).render(Context(context, autoescape=False)).strip()


def absolute_url(path: str) -> str:
    """Return `path` on this site as an absolute URL (links in messages must be absolute)."""
    if path.startswith(("http://", "https://")):
        return path
    return f"{settings.SITE_URL}/{path.lstrip('/')}"


def message_context(*, kind: MessageKind, context: dict, delivery_id: int | None) -> dict:
    """Return the stored context plus what every message may use."""
    return _full_context(kind=kind, context=context, delivery_id=delivery_id)[0]


def _full_context(*, kind: MessageKind, context: dict, delivery_id: int | None) -> tuple[dict, tuple[str, ...]]:
    """Return the full context and the links minted for this rendering (never stored)."""
    full = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "kind": kind.name,
        **context,
    }
    if kind.is_marketing and delivery_id is not None:
        # A link the caller signed already (the dispatcher, for the headers too) is kept.
        full.setdefault("unsubscribe_url", unsubscribe_url(delivery_id=delivery_id))
    minted = {"unsubscribe_url": full["unsubscribe_url"]} if "unsubscribe_url" in full else {}
    if kind.render_context:
        minted |= import_string(kind.render_context)(context)
        full.update(minted)
    secrets = tuple(value for value in minted.values() if isinstance(value, str) and "://" in value)
    return full, secrets


def unsubscribe_url(*, delivery_id: int) -> str:
    token = make_unsubscribe_token(delivery_id=delivery_id)
    return absolute_url(reverse("notifications:unsubscribe", args=[token]))


def render_email(*, kind: MessageKind, context: dict, delivery_id: int | None) -> Rendered:
    """Render subject, text and HTML of an email."""
    full, secrets = _full_context(kind=kind, context=context, delivery_id=delivery_id)
    subject = " ".join(render_text(f"{kind.template_dir}/subject.txt", full).split())
    return Rendered(
        subject=subject,
        text=render_text(f"{kind.template_dir}/body.txt", full),
        html=render_to_string(f"{kind.template_dir}/body.html", {**full, "subject": subject}),
        secrets=secrets,
    )


def render_whatsapp(*, kind: MessageKind, context: dict) -> tuple[Rendered, dict]:
    """Return the WhatsApp text (as the approved template reads) and the template's variables."""
    full, secrets = _full_context(kind=kind, context=context, delivery_id=None)
    text = render_text(f"{kind.template_dir}/whatsapp.txt", full)
    variables = {str(position): str(full.get(key, "")) for position, key in enumerate(kind.whatsapp_variables, 1)}
    return Rendered(subject="", text=text, secrets=secrets), variables


def render_inapp(*, kind: MessageKind, context: dict) -> Rendered:
    """Return the in-app title (the email subject) and message."""
    full = message_context(kind=kind, context=context, delivery_id=None)
    return Rendered(
        subject=" ".join(render_text(f"{kind.template_dir}/subject.txt", full).split()),
        text=render_text(f"{kind.template_dir}/inapp.txt", full),
    )
