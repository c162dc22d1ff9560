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
import logging
from dataclasses import dataclass

from django.conf import settings
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from .conf import conf
from .copy import links as copy_links
from .copy import sandbox
from .copy.email_html import text_to_email_html
from .copy.published import pick_version, published_version
from .kinds import INAPP, MessageKind
from .languages import DEFAULT_LANGUAGE, language_of
from .models import Channel, MessageTemplate
from .tokens import make_unsubscribe_token

logger = logging.getLogger(__name__)
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


def message_context(*, kind: MessageKind, context: dict, delivery_id: int | None, send: bool = False) -> dict:
    """Return the stored context plus what every message may use (access links inert unless `send`)."""
    return _full_context(kind=kind, context=context, delivery_id=delivery_id, send=send)[0]


def _full_context(
    *, kind: MessageKind, context: dict, delivery_id: int | None, send: bool = False, language: str | None = None
) -> tuple[dict, tuple[str, ...]]:
    """Return the full context and the links minted for this rendering (never stored).

    A message rendered in another language than its reader's (a WhatsApp template approved only in
    English) is rendered as that language's: the hooks see it as `language`, and the reader's as
    `language_fallback_from`, to say again in that language what planning wrote in the reader's.

    Only the dispatcher sending a real message passes `send`: then the kind's `render_context`
    hook mints its links. Every other rendering (previews, the admin's "as sent", test sends,
    in-app rows, which are stored) never calls the hook and shows inert placeholders instead, so
    no template, whatever filters it uses, can turn a staff view into a working credential.
    """
    if language and language != language_of(context):
        context = {**context, "language": language, "language_fallback_from": language_of(context)}
    full = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "kind": kind.name,
        **context,
    }
    if kind.display_context:
        full.update(kind.hook("display_context")(context))
    if not send:
        return _inert(kind, full), ()
    if kind.is_marketing and delivery_id is not None:
        # A link the caller signed already (the dispatcher, for the headers too) is kept.
        full.setdefault("unsubscribe_url", unsubscribe_url(delivery_id=delivery_id))
    minted = {"unsubscribe_url": full["unsubscribe_url"]} if "unsubscribe_url" in full else {}
    if kind.render_context:
        minted |= kind.hook("render_context")(context)
        full.update(minted)
    secrets = tuple(value for value in minted.values() if isinstance(value, str) and "://" in value)
    secrets += tuple(str(minted[name]) for name in kind.secret_variables if minted.get(name))
    return full, secrets


def _inert(kind: MessageKind, full: dict) -> dict:
    """`full` for a staff view: every access link a placeholder, whatever the context holds, and
    what only the send-time hook would make shown by its name."""
    if kind.render_context:
        for name in kind.all_variables:
            full.setdefault(name, f"[{name}]")
    for name in kind.guarded_links:
        full[name] = REDACTED
    return full


def unsubscribe_url(*, delivery_id: int) -> str:
    token = make_unsubscribe_token(delivery_id=delivery_id)
    return absolute_url(reverse("notifications:unsubscribe", args=[token]))


class _Shipped:
    """Render with the shipped files, not with the version published now (a delivery sent with them)."""

    def __repr__(self):
        return "SHIPPED"


SHIPPED = _Shipped()


def _choose(kind: MessageKind, channel: str, language: str, version, published=None):
    """Return the staff version to use: the one given (previews, tests, a sent delivery's), none
    for SHIPPED, else the published one (from `published`, {language: version}, when the caller
    looked them up already)."""
    if version is SHIPPED:
        return None
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
    version: MessageTemplate | _Shipped | None = None,
    preview: bool = False,
    send: bool = False,
) -> Rendered:
    """Render subject, text and HTML of an email, in `language` (else the context's); only the
    dispatcher sending a real message passes `send` (access links minted), every other caller
    gets inert placeholders (`preview` is kept for old callers: it means not `send`)."""
    language = language or language_of(context)
    full, secrets = _full_context(
        kind=kind, context=context, delivery_id=delivery_id, send=send and not preview, language=language
    )
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
    for part in ("subject", "text", "html"):
        copy_links.check_sendable(source=getattr(chosen, part), kind=kind, part=part)
    allowed = sandbox.sandbox_context(kind, full)
    subject = _one_line(sandbox.render(chosen.subject, allowed, autoescape=False))
    text = sandbox.render(chosen.text, allowed, autoescape=False).strip()
    # Staff HTML, or the text's paragraphs in the shipped look (its actions as buttons, long links short).
    content = (
        sandbox.render(chosen.html, allowed, autoescape=True)
        if chosen.html.strip()
        else text_to_email_html(text, language=chosen.language, quiet=(full.get("unsubscribe_url") or "",))
    )
    _check_staff_html(kind, content, full)
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


def _check_staff_html(kind: MessageKind, content: str, full: dict) -> None:
    """Refuse staff HTML that would hand an access link to another server (see copy.links)."""
    if not kind.guarded_links:
        return
    guarded = {full[name]: name for name in kind.guarded_links if isinstance(full.get(name), str) and full[name]}
    problems = copy_links.html_problems(content, links=guarded)
    if problems:
        raise ValueError(
            _("The copy's HTML may not be sent with a personal link in it: %(problem)s") % {"problem": problems[0]}
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
    version: MessageTemplate | _Shipped | None = None,
    preview: bool = False,
    send: bool = False,
) -> tuple[Rendered, dict]:
    """Return the WhatsApp text (as the approved template reads), the template's variables and,
    on the Rendered, the approved template's SID for the recipient's language (access links
    minted only when the dispatcher passes `send`)."""
    language = language or language_of(context)
    full, secrets = _full_context(
        kind=kind, context=context, delivery_id=None, send=send and not preview, language=language
    )
    chosen = _choose(kind, Channel.WHATSAPP, language, version)
    sids = conf.twilio_content_sids
    if chosen is None:
        text = _render_file(kind, "whatsapp.txt", language, full)
        names = kind.whatsapp_variables
        sid = sids.get(f"{kind.name}:{language}") or sids.get(kind.name, "")
        version_id, used_language = None, language
    else:
        copy_links.check_sendable(source=chosen.text, kind=kind, part="whatsapp")
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
    version: MessageTemplate | _Shipped | None = None,
    published: dict | None = None,
    preview: bool = False,
) -> Rendered:
    """Return the in-app title (the email subject, unless staff wrote one) and message. In-app
    rows are stored (and staff read them): no access link is ever minted for one."""
    language = language or language_of(context)
    full, _minted = _full_context(kind=kind, context=context, delivery_id=None, language=language)
    chosen = _choose(kind, INAPP, language, version, published)
    if chosen is not None:
        allowed = sandbox.sandbox_context(kind, full)
        try:
            return Rendered(
                subject=_one_line(sandbox.render(chosen.subject, allowed, autoescape=False)),
                text=sandbox.render(chosen.text, allowed, autoescape=False).strip(),
                version_id=chosen.pk,
                language=chosen.language,
            )
        except sandbox.LimitExceeded:
            if version is not None:
                raise  # a preview or a test says what is wrong
            # Planning renders in-app text for a whole group or kind: one recipient's over-limit
            # copy gets the shipped message instead of stopping everyone's.
            logger.warning("In-app copy %s is over its limits for a recipient: shipped text used", chosen.pk)
    return Rendered(
        subject=_one_line(_render_file(kind, "subject.txt", language, full)),
        text=_render_file(kind, "inapp.txt", language, full),
        language=language,
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
