"""
The HTML of an email staff edited as text only: the text's paragraphs in the shipped layout,
looking like the shipped emails.

A line "Label: link" (the way the shipped texts offer an action: "Join Meeting: https://...")
becomes the shipped button; a line that is only a link becomes a button too; any other link stays
in its sentence, shown short (its site) when long, so a 400-character calendar link never
stretches the email past a phone's width. The unsubscribe link stays a plain link: it is never an
invitation to click.
"""

import functools
import re
from urllib.parse import urlsplit

from django.template.loader import get_template
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import pgettext

URL = r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]"
_LINK = re.compile(URL)
_ACTION = re.compile(rf"^\s*(?:(?P<label>[^:\n]{{1,40}}?)\s*:\s*)?(?P<url>{URL})\s*$")
_BLANK_LINES = re.compile(r"\n\s*\n")
LONG_LINK = 45
# Whatever the content, nothing in the email may be wider than the phone.
WRAPPER = '<div style="overflow-wrap:anywhere;word-break:break-word;">{}</div>'


@functools.cache
def _button():
    return get_template("notifications/_button.html")


def text_to_email_html(text: str, *, language: str, quiet: tuple[str, ...] = ()) -> str:
    """Return the email text as HTML paragraphs, its actions as the shipped buttons (see above);
    links in `quiet` (the unsubscribe link) stay plain links."""
    with translation.override(language):
        blocks = [_paragraph(paragraph, quiet) for paragraph in _BLANK_LINES.split(text.strip()) if paragraph.strip()]
    return WRAPPER.format("\n".join(blocks))


def _paragraph(paragraph: str, quiet: tuple[str, ...]) -> str:
    blocks, lines = [], []
    for line in paragraph.strip().split("\n"):
        action = _ACTION.match(line)
        if action is None or action.group("url") in quiet:
            lines.append(_with_links(line))
            continue
        if lines:
            blocks.append(f"<p>{'<br>'.join(lines)}</p>")
            lines = []
        label = (action.group("label") or "").strip() or pgettext("email button", "Open the link")
        blocks.append(_button().render({"url": action.group("url"), "label": label}).strip())
    if lines:
        blocks.append(f"<p>{'<br>'.join(lines)}</p>")
    return "\n".join(blocks)


def _with_links(line: str) -> str:
    parts, start = [], 0
    for found in _LINK.finditer(line):
        url = found.group(0)
        shown = url if len(url) <= LONG_LINK else f"{urlsplit(url).netloc}/…"
        parts += [escape(line[start : found.start()]), f'<a href="{escape(url)}">{escape(shown)}</a>']
        start = found.end()
    parts.append(escape(line[start:]))
    return "".join(parts)
