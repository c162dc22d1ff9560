"""
Where staff copy may put an access link (a set-password link, a signed campaign link, the
unsubscribe link: MessageKind.guarded_links), checked when a version is saved and again when it
is sent.

The link has one fixed slot: written as it is, `{{ set_password_url }}` (or `{% button
url=set_password_url %}`), with no filter, not inside `{% filter %}` or `{% autoescape off %}`,
never named anywhere else (no `{% with %}`, `{% if %}`, `{% firstof %}`, `{% for %}`...): so what
goes out is the link itself, which the ledger's redaction finds, and nothing derived from it. It
never goes in a subject or an in-app message (both are stored as rendered). In the HTML, the
rendered link may only be the `href` of a link or text, and the HTML loads nothing by itself
(no image from elsewhere, no CSS `url()`, no style sheet, frame, script, form or conditional
comment): an email client would otherwise hand the link, or a sign of it, to another server.
"""

import functools
import re
from html.parser import HTMLParser

from django.conf import settings
from django.template.base import Lexer, TokenType
from django.template.defaulttags import AutoEscapeControlNode, FilterNode
from django.utils.translation import gettext as _

from ..kinds import MessageKind

# Parts where a link may stand (text, the email's HTML, the WhatsApp text, all stored redacted);
# the subject and in-app messages are stored as rendered: no link there.
SLOT_PARTS = ("text", "html", "whatsapp")
MARKER = "https://link.invalid/{name}"

ALLOWED_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]
)
ALLOWED_ATTRIBUTES = frozenset(
    [
        "align",
        "alt",
        "border",
        "cellpadding",
        "cellspacing",
        "class",
        "color",
        "colspan",
        "dir",
        "face",
        "height",
        "href",
        "id",
        "lang",
        "rel",
        "role",
        "rowspan",
        "size",
        "src",
        "style",
        "target",
        "title",
        "valign",
        "width",
    ]
)
# What makes CSS fetch something (or run something), once comments and spaces are gone.
_CSS_LOADS = re.compile(r"url\(|image\(|image-set\(|@import|expression\(|behavior|binding|\\")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# A tag or a variable that would write markup or a CSS load (string literals are not escaped).
_MAKES_HTML = re.compile(r"[<>]|url\s*\(|@import|image-set", re.I)


def link_problems(source: str, *, kind: MessageKind, part: str) -> list[tuple[int, str]]:
    """Return (line, message) for each place `source` uses an access link outside its slot."""
    names = kind.guarded_links
    if not names or not source or not any(name in source for name in names):
        return []
    return list(_token_problems(source, names, part)) + list(_structure_problems(source, names))


@functools.lru_cache(maxsize=512)
def _cached(source: str, names: tuple[str, ...], part: str) -> tuple[tuple[int, str], ...]:
    return (*_token_problems(source, names, part), *_structure_problems(source, names))


def check_sendable(*, source: str, kind: MessageKind, part: str) -> None:
    """At send time: refuse copy that places an access link outside its slot (saved before the rule,
    or written around the admin), so the message fails instead of leaking the link."""
    names = kind.guarded_links
    if not names or not source or not any(name in source for name in names):
        return
    problems = _cached(source, names, part)
    if problems:
        raise ValueError(
            _("The copy places a personal link where it may not be: %(problem)s") % {"problem": problems[0][1]}
        )


def _token_problems(source: str, names: tuple[str, ...], part: str):
    for token in Lexer(source).tokenize():
        if token.token_type not in (TokenType.VAR, TokenType.BLOCK):
            continue
        for name in names:
            if not re.search(rf"\b{re.escape(name)}\b", token.contents):
                continue
            if part not in SLOT_PARTS:
                yield (
                    token.lineno,
                    _("{{ %(name)s }} cannot be in this part (it is stored as written): remove it.") % {"name": name},
                )
            elif not _is_slot(token, name):
                yield (
                    token.lineno,
                    _(
                        "{{ %(name)s }} is a personal link: write it exactly as {{ %(name)s }} (or "
                        "{%% button url=%(name)s %%}), with no filter, and use it in no other tag."
                    )
                    % {"name": name},
                )


def _is_slot(token, name: str) -> bool:
    if token.token_type == TokenType.VAR:
        return token.contents.strip() == name
    bits = token.split_contents()
    mentions = [bit for bit in bits if re.search(rf"\b{re.escape(name)}\b", bit)]
    # Not "{% button url=link as x %}": x would be the link's HTML, free to filter.
    return bits[0] == "button" and mentions == [f"url={name}"] and "as" not in bits


def _structure_problems(source: str, names: tuple[str, ...]):
    """A slot inside {% filter %} or {% autoescape off %} is no longer the link as it is."""
    from .sandbox import engine

    try:
        nodelist = engine().from_string(source).nodelist
    except Exception:  # a syntax error: check_template reports it
        return

    def walk(nodes, wrapped: bool):
        for node in nodes:
            token = getattr(node, "token", None)
            if wrapped and token is not None and any(re.search(rf"\b{name}\b", token.contents) for name in names):
                yield token.lineno, _("A personal link cannot be inside {% filter %} or {% autoescape off %}.")
            inner = wrapped or isinstance(node, FilterNode)
            inner = inner or (isinstance(node, AutoEscapeControlNode) and not node.setting)
            for attribute in node.child_nodelists:
                yield from walk(getattr(node, attribute, None) or [], inner)

    yield from walk(nodelist, False)


def marked_context(kind: MessageKind, context: dict) -> tuple[dict, dict[str, str]]:
    """`context` with each access link a marker URL (to find it in rendered HTML), and the markers."""
    markers = {MARKER.format(name=name): name for name in kind.guarded_links}
    return {**context, **{name: marker for marker, name in markers.items()}}, markers


def html_problems(html: str, *, links: dict[str, str]) -> list[str]:
    """Return what is wrong with rendered staff HTML of a kind with access links: a link
    ({value: name}) anywhere but an <a href> or text, or anything the HTML would load by itself."""
    checker = _HtmlChecker(links)
    checker.feed(html)
    checker.close()
    return list(dict.fromkeys(checker.problems))


class _HtmlChecker(HTMLParser):
    def __init__(self, links: dict[str, str]):
        super().__init__(convert_charrefs=True)
        self.links, self.problems = links, []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(_("<%(tag)s> is not allowed in a message with a personal link.") % {"tag": tag})
            return
        for attribute, value in attrs:
            value = value or ""
            self._attribute(tag, attribute, value)

    def _attribute(self, tag: str, attribute: str, value: str) -> None:
        names = [name for link, name in self.links.items() if link in value]
        if attribute not in ALLOWED_ATTRIBUTES:
            self.problems.append(
                _("<%(tag)s %(attribute)s> is not allowed in a message with a personal link.")
                % {"tag": tag, "attribute": attribute}
            )
        elif names and not (tag == "a" and attribute == "href" and value.strip() in self.links):
            self.problems.append(
                _("{{ %(name)s }} is a personal link: only a link's href or text, not in %(attribute)s.")
                % {"name": names[0], "attribute": attribute}
            )
        elif attribute == "style" and _CSS_LOADS.search(_CSS_COMMENT.sub("", value).lower().replace(" ", "")):
            self.problems.append(
                _("A style may not load anything (url(), @import...) in a message with a personal link.")
            )
        elif attribute == "src" and not (tag == "img" and _own_site(value)):
            self.problems.append(
                _("<%(tag)s src> may only show an image from %(site)s/ in a message with a personal link.")
                % {"tag": tag, "site": settings.SITE_URL}
            )

    def handle_comment(self, data):
        self.problems.append(_("HTML comments are not allowed in a message with a personal link (use {# #})."))

    def handle_decl(self, decl):
        self.problems.append(_("Declarations are not allowed in a message with a personal link."))

    handle_pi = unknown_decl = handle_decl


def _own_site(url: str) -> bool:
    return bool(settings.SITE_URL) and url.strip().startswith(f"{settings.SITE_URL}/")


def link_part(*, channel: str, field: str) -> str:
    """The rule a version's field keeps to: an in-app message's parts and any subject hold no link."""
    if channel == "inapp":
        return "inapp"
    if channel == "whatsapp":
        return "whatsapp"
    return field


def source_html_problems(source: str, *, kind: MessageKind) -> list[str]:
    """The HTML part of a kind with access links, checked in every branch (the tags written in it)
    and rendered with the sample values and others (what the tags and values make)."""
    from .sandbox import other_samples, render, sandbox_context

    if not kind.guarded_links or not source.strip():
        return []
    problems, static = [], []
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.TEXT:
            static.append(token.contents)
        elif token.token_type in (TokenType.VAR, TokenType.BLOCK) and _MAKES_HTML.search(token.contents):
            problems.append(_("Write HTML as HTML, not inside {{ }} or {% %}, in a message with a personal link."))
        elif token.token_type == TokenType.VAR and token.contents.strip() in kind.guarded_links:
            static.append(MARKER.format(name=token.contents.strip()))
    markers = {MARKER.format(name=name): name for name in kind.guarded_links}
    problems += html_problems("".join(static), links=markers)
    for values in [kind.sample_context(), *other_samples(kind)]:
        context, markers = marked_context(kind, sandbox_context(kind, values))
        try:
            html = render(source, context, autoescape=True)
        except Exception:  # check_template reports what does not render
            continue
        problems += html_problems(html, links=markers)
    return list(dict.fromkeys(problems))
