"""
Render a message kind's templates from the context stored on its delivery row.

What renders a message, in the recipient's language (the context's `language`, English when
none): the staff version published for that language, else that language's shipped files
(templates/notifications/<kind>/<language>/), else the English staff version, else the English
files (templates/notifications/<kind>/); see copy.published.pick_version.
A staff version runs in the sandbox (notifications.copy.sandbox) with the kind's documented
variables only; the shipped files are the developers' and use the full template language.
"""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from .copy import sandbox
from .copy.email_html import text_to_email_html
from .copy.published import pick_version, published_version
from .kinds import INAPP, MessageKind
from .languages import DEFAULT_LANGUAGE, language_of
from .models import Channel, MessageTemplate
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
    # The staff version it was rendered with (None: the shipped files), and in which language.
    version_id: int | None = None
    language: str = DEFAULT_LANGUAGE
    # WhatsApp: the approved template (Twilio Content SID) for this language, when configured.
    content_sid: str = ""

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


def _full_context(
    *, kind: MessageKind, context: dict, delivery_id: int | None, preview: bool = False
) -> tuple[dict, tuple[str, ...]]:
    """Return the full context and the links minted for this rendering (never stored). A preview
    mints nothing: it shows the example values its context holds instead."""
    full = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "kind": kind.name,
        **context,
    }
    if preview:
        return full, ()
    if kind.is_marketing and delivery_id is not None:
        # A link the caller signed already (the dispatcher, for the headers too) is kept.
        full.setdefault("unsubscribe_url", unsubscribe_url(delivery_id=delivery_id))
    minted = {"unsubscribe_url": full["unsubscribe_url"]} if "unsubscribe_url" in full else {}
    if kind.render_context:
        minted |= kind.hook("render_context")(context)
        full.update(minted)
    secrets = tuple(value for value in minted.values() if isinstance(value, str) and "://" in value)
    return full, secrets


def unsubscribe_url(*, delivery_id: int) -> str:
    token = make_unsubscribe_token(delivery_id=delivery_id)
    return absolute_url(reverse("notifications:unsubscribe", args=[token]))


def _choose(kind: MessageKind, channel: str, language: str, version: MessageTemplate | None, published=None):
    """Return the staff version to use: the one given (previews, tests), else the published one
    (from `published`, {language: version}, when the caller looked them up already)."""
    if version is not None:
        return version
    if published is not None:
        return pick_version(published, kind=kind.name, channel=channel, language=language)
    return published_version(kind=kind.name, channel=channel, language=language)


def file_names(kind: MessageKind, filename: str, language: str) -> list[str]:
    """The shipped file for `filename` in `language` first, then the English default."""
    names = [f"{kind.template_dir}/{filename}"]
    if language and language != DEFAULT_LANGUAGE:
        names.insert(0, f"{kind.template_dir}/{language}/{filename}")
    return names


def _render_file(kind: MessageKind, filename: str, language: str, context: dict) -> str:
    template = _text_engine().select_template(file_names(kind, filename, language))
    return template.render(Context(context, autoescape=False)).strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_email(
    *,
    kind: MessageKind,
    context: dict,
    delivery_id: int | None,
    language: str | None = None,
    version: MessageTemplate | None = None,
    preview: bool = False,
) -> Rendered:
    """Render subject, text and HTML of an email, in `language` (else the context's)."""
    language = language or language_of(context)
    full, secrets = _full_context(kind=kind, context=context, delivery_id=delivery_id, preview=preview)
    chosen = _choose(kind, Channel.EMAIL, language, version)
    if chosen is None:
        subject = _one_line(_render_file(kind, "subject.txt", language, full))
        return Rendered(
            subject=subject,
            text=_render_file(kind, "body.txt", language, full),
            html=render_to_string(file_names(kind, "body.html", language), {**full, "subject": subject}),
            secrets=secrets,
            language=language,
        )
    allowed = sandbox.sandbox_context(kind, full)
    subject = _one_line(sandbox.render(chosen.subject, allowed, autoescape=False))
    text = sandbox.render(chosen.text, allowed, autoescape=False).strip()
    # Staff HTML, or the text's paragraphs in the shipped look (its actions as buttons, long links short).
    content = (
        sandbox.render(chosen.html, allowed, autoescape=True)
        if chosen.html.strip()
        else text_to_email_html(text, language=chosen.language, quiet=(full.get("unsubscribe_url") or "",))
    )
    html = _layout().render(
        Context(
            {
                **full,
                "subject": subject,
                "layout": Engine.get_default().select_template(file_names(kind, "body.html", chosen.language)),
                "staff_content": mark_safe(content),  # rendered and escaped by the sandbox above
            }
        )
    )
    return Rendered(
        subject=subject, text=text, html=html, secrets=secrets, version_id=chosen.pk, language=chosen.language
    )


@functools.cache
def _layout():
    """A staff email's HTML in the kind's shipped layout (its header and footer), content replaced."""
    return Engine.get_default().from_string("{% extends layout %}{% block content %}{{ staff_content }}{% endblock %}")


def render_whatsapp(
    *,
    kind: MessageKind,
    context: dict,
    language: str | None = None,
    version: MessageTemplate | None = None,
    preview: bool = False,
) -> tuple[Rendered, dict]:
    """Return the WhatsApp text (as the approved template reads), the template's variables and,
    on the Rendered, the approved template's SID for the recipient's language."""
    language = language or language_of(context)
    full, secrets = _full_context(kind=kind, context=context, delivery_id=None, preview=preview)
    chosen = _choose(kind, Channel.WHATSAPP, language, version)
    sids = settings.TWILIO_CONTENT_SIDS
    if chosen is None:
        text = _render_file(kind, "whatsapp.txt", language, full)
        names = kind.whatsapp_variables
        sid = sids.get(f"{kind.name}:{language}") or sids.get(kind.name, "")
        version_id, used_language = None, language
    else:
        allowed = sandbox.sandbox_context(kind, full)
        text = sandbox.render(chosen.text, allowed, autoescape=False).strip()
        names = tuple(chosen.whatsapp_variables or kind.whatsapp_variables)
        sid = chosen.whatsapp_content_sid or sids.get(f"{kind.name}:{chosen.language}") or sids.get(kind.name, "")
        version_id, used_language = chosen.pk, chosen.language
    variables = {str(position): str(full.get(key, "")) for position, key in enumerate(names, 1)}
    rendered = Rendered(
        subject="", text=text, secrets=secrets, version_id=version_id, language=used_language, content_sid=sid
    )
    return rendered, variables


def render_inapp(
    *,
    kind: MessageKind,
    context: dict,
    language: str | None = None,
    version: MessageTemplate | None = None,
    published: dict | None = None,
    preview: bool = False,
) -> Rendered:
    """Return the in-app title (the email subject, unless staff wrote one) and message."""
    language = language or language_of(context)
    full, _ = _full_context(kind=kind, context=context, delivery_id=None, preview=preview)
    chosen = _choose(kind, INAPP, language, version, published)
    if chosen is None:
        return Rendered(
            subject=_one_line(_render_file(kind, "subject.txt", language, full)),
            text=_render_file(kind, "inapp.txt", language, full),
            language=language,
        )
    allowed = sandbox.sandbox_context(kind, full)
    return Rendered(
        subject=_one_line(sandbox.render(chosen.subject, allowed, autoescape=False)),
        text=sandbox.render(chosen.text, allowed, autoescape=False).strip(),
        version_id=chosen.pk,
        language=chosen.language,
    )


def published_inapp_versions(*, kind: str) -> dict[str, MessageTemplate]:
    """Return the in-app versions of `kind` staff published, by language (one query)."""
    versions = MessageTemplate.objects.filter(kind=kind, channel=INAPP, status=MessageTemplate.Status.PUBLISHED)
    return {version.language: version for version in versions}


def inapp_sources(kind: MessageKind, versions=()) -> str:
    """The text of every in-app title and message of `kind` (shipped, in any language, and the
    staff `versions`): what planning searches for the per-recipient variables they mention."""
    sources = []
    root = settings.BASE_DIR / "templates" / kind.template_dir
    for filename in ("subject.txt", "inapp.txt"):
        for path in [root / filename, *root.glob(f"*/{filename}")]:
            try:
                sources.append(path.read_text())
            except OSError:
                pass
    sources += [f"{version.subject}\n{version.text}" for version in versions]
    return "\n".join(sources)
