"""
The published versions dispatch renders with, read once per dispatch batch.

Every process keeps the published versions (a small table) in memory, stamped with a generation
kept in the shared cache; publishing a version changes the generation. Inside `for_batch()`
(a dispatch batch) the generation is checked once when the batch starts; outside one, at each
lookup. Neither checks the database unless the generation changed, so a batch of a thousand
messages costs at most one query for its templates, and a version published in the admin is
used by every worker from its next batch on.
"""

import contextlib
import contextvars
import threading
import uuid

from django.core.cache import cache
from django.db import transaction

from ..languages import DEFAULT_LANGUAGE
from ..models import MessageTemplate
from .shipped import is_shipped

GENERATION_KEY = "notifications:copy:generation"

_lock = threading.Lock()
_loaded: dict = {"generation": None, "versions": {}}
_in_batch = contextvars.ContextVar("copy_batch", default=False)


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:  # evicted or never set: start a new one (everyone reloads once)
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        generation = cache.get(GENERATION_KEY) or "unknown"
    return generation


def _refresh() -> dict:
    generation = _generation()
    with _lock:
        if _loaded["generation"] != generation:
            versions = {
                (version.kind, version.channel, version.language): version
                for version in MessageTemplate.objects.filter(status=MessageTemplate.Status.PUBLISHED)
            }
            _loaded.update(generation=generation, versions=versions)
        return _loaded["versions"]


def _versions() -> dict:
    if _in_batch.get() and _loaded["generation"] is not None:
        return _loaded["versions"]
    return _refresh()


@contextlib.contextmanager
def for_batch():
    """Check for newly published versions once, then render the batch without asking again."""
    _refresh()
    token = _in_batch.set(True)
    try:
        yield
    finally:
        _in_batch.reset(token)


def published_version(*, kind: str, channel: str, language: str) -> MessageTemplate | None:
    """Return the staff version to render with, None for the shipped files (see pick_version)."""
    versions = _versions()
    by_language = {
        code: versions[(kind, channel, code)]
        for code in (language, DEFAULT_LANGUAGE)
        if (kind, channel, code) in versions
    }
    return pick_version(by_language, kind=kind, channel=channel, language=language)


def own_version(*, kind: str, channel: str, language: str) -> MessageTemplate | None:
    """Return `language`'s own published version, without falling back to another language's."""
    return _versions().get((kind, channel, language))


def pick_version(by_language: dict, *, kind: str, channel: str, language: str) -> MessageTemplate | None:
    """Return the version of {language: published version} that `language`'s readers get: their
    language's own, else none while the app ships that language's file (its own text beats an
    English edit), else English's; None means the shipped files. Publishing one language never
    changes what another language's readers get, unless they had no text of their own."""
    found = by_language.get(language)
    if found is not None or language == DEFAULT_LANGUAGE:
        return found
    if is_shipped(kind=kind, channel=channel, language=language):
        return None
    return by_language.get(DEFAULT_LANGUAGE)


def forget_published_versions() -> None:
    """After a publish commits: every process reloads the published versions at its next batch."""

    def bump():
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        with _lock:
            _loaded.update(generation=None, versions={})

    # Now, for this process (it reads its own transaction), and again once committed, for a
    # worker that reloaded in between and still saw the old version.
    bump()
    transaction.on_commit(bump)
