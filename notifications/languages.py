"""
The languages messages and pages are written in: the shipped ones (settings.LANGUAGES, with a
translation of the pages) and those staff add in the admin (`Language`, messages only).

A person's language is a short code ("en", "hi"); unknown codes read as English.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from common.languages import DEFAULT_LANGUAGE, shipped_languages


def available_languages() -> list[tuple[str, str]]:
    """Return (code, name) of every language a message can be written in: shipped, then staff-added."""
    from .models import Language

    languages = shipped_languages()
    known = {code for code, _ in languages}
    languages += [(code, name) for code, name in Language.objects.values_list("code", "name") if code not in known]
    return languages


def validate_language(value: str) -> None:
    if value not in {code for code, _ in available_languages()}:
        raise ValidationError(f"“{value}” is not a language of this site; staff add languages in the admin.")


def language_of(context: dict | None) -> str:
    """Return the language a message is rendered in, from the context stored on its row."""
    return ((context or {}).get("language") or DEFAULT_LANGUAGE).strip() or DEFAULT_LANGUAGE


class LanguageField(models.CharField):
    """A person's language: a code from available_languages(), offered as a list in forms."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault("default", DEFAULT_LANGUAGE)
        kwargs.setdefault("help_text", "Messages and pages in this language (English when a message has none).")
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        return forms.TypedChoiceField(
            choices=available_languages,
            required=not self.blank,
            label=kwargs.get("label") or self.verbose_name.capitalize(),
            help_text=self.help_text,
            initial=DEFAULT_LANGUAGE,
        )
