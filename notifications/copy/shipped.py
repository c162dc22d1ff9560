"""
The copy the app ships: the files in templates/notifications/<kind>/ (English) and
templates/notifications/<kind>/<language>/ (a translation), per channel.

A language has its own shipped text for a channel when the channel's main file exists in its
folder; without it, its readers get English (a staff version, else the English file).
"""

import functools

from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from ..kinds import TEMPLATE_FILES
from ..languages import DEFAULT_LANGUAGE

# The file that holds a channel's text: its presence in a language's folder is the translation.
MAIN_FILE = {channel: parts["text"] for channel, parts in TEMPLATE_FILES.items()}


def shipped_name(*, kind: str, channel: str, language: str) -> str:
    """The path of the channel's main shipped file in `language` (English: the kind's folder)."""
    folder = f"notifications/{kind}" if language == DEFAULT_LANGUAGE else f"notifications/{kind}/{language}"
    return f"{folder}/{MAIN_FILE[channel]}"


@functools.cache
def is_shipped(*, kind: str, channel: str, language: str) -> bool:
    """Whether the app ships `kind`'s `channel` text in `language` itself (not by falling back)."""
    try:
        get_template(shipped_name(kind=kind, channel=channel, language=language))
    except TemplateDoesNotExist:
        return False
    return True
