"""
WhatsApp backends, shaped like Django's email backends: `WHATSAPP_BACKEND` names the class.

Business-initiated WhatsApp messages must use approved templates, so a message is a template
(Twilio Content SID) with its variables; `body` is the rendered text for consoles and the admin.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils.module_loading import import_string

from ..base import ProviderMessage, SendResult

# Messages "sent" by the locmem backend, like django.core.mail.outbox.
outbox: list["WhatsAppMessage"] = []


@dataclass
class WhatsAppMessage:
    to: str  # E.164
    kind: str
    body: str
    content_sid: str = ""  # Twilio's approved template (Content API)
    content_variables: dict = field(default_factory=dict)  # {"1": ..., "2": ...}
    template_name: str = ""  # Meta's approved template, when not the kind's configured one
    language: str = ""  # the template's language ("en", "hi"); empty: the default
    # Free-form text (`body`), not a template: only as a reply inside the 24-hour window.
    free_text: bool = False
    delivery_id: int | None = None
    status_callback: str = ""


@dataclass(frozen=True)
class TemplateInfo:
    """An approved (or not) template as the provider lists it."""

    name: str  # Meta: the template's name; Twilio: its Content SID
    language: str
    status: str  # approved, pending, rejected, paused, disabled, unknown
    category: str = ""  # utility, marketing, authentication
    friendly_name: str = ""
    body: str = ""
    # Meta: the template's components as listed (HEADER, BODY, FOOTER, BUTTONS).
    components: tuple = ()


class BaseWhatsAppBackend:
    # The provider's name in synced templates ("" for backends that keep nothing: console, file, locmem).
    provider = ""

    def open(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def send(self, message: WhatsAppMessage) -> SendResult:
        raise NotImplementedError

    def find_sent(
        self, *, delivery_id: int, to: str, sent_after: datetime, sent_before: datetime
    ) -> list[ProviderMessage] | None:
        """Return the messages the provider has to `to` made between the two times, or None when
        this backend cannot be asked (staff settle by hand)."""
        return None

    def list_templates(self) -> list[TemplateInfo] | None:
        """Return the provider's templates with their approval, or None when it has none to list."""
        return None

    def synced_templates(self) -> dict[tuple[str, str], tuple[str, list]]:
        """The synced templates of this provider: {(name, language): (status, components)}, read once."""
        if getattr(self, "_synced_rows", None) is None:
            from ...models import WhatsAppTemplate  # here: this module is imported before apps are ready

            rows = WhatsAppTemplate.objects.filter(provider=self.provider).only(
                "name", "language", "status", "components"
            )
            self._synced_rows = {(row.name, row.language): (row.status, row.components or []) for row in rows}
        return self._synced_rows

    def use_synced_templates(self, rows: dict[tuple[str, str], tuple[str, list]]) -> None:
        """Use synced templates another backend read (`synced_templates()`): a backend sending from a
        thread of a pool then reads nothing from the database, whose connection (and uncommitted
        work) belongs to the thread that owns the batch."""
        self._synced_rows = rows

    def template_refusal(self, *, name: str, language: str) -> str:
        """Why a template may not be used now ("" when it may): the synced list says it is not approved.

        Until templates are synced nothing is refused (`manage.py whatsapp_templates sync`, and the
        health check says they never were).
        """
        if not self.provider:
            return ""
        synced = self.synced_templates()
        if not synced:
            return ""
        same_name = {lang: status for (known, lang), (status, _) in synced.items() if known == name}
        # A Twilio template (one Content SID) has one language; Meta's has one row per language.
        statuses = {same_name[language]} if language in same_name else set(same_name.values())
        if "approved" in statuses:
            return ""
        state = ", ".join(sorted(statuses)) if statuses else "not among the synced templates"
        return f"WhatsApp template {name!r} ({language or 'any language'}) is not approved: {state}."


def get_whatsapp_backend(path: str | None = None, **kwargs) -> BaseWhatsAppBackend:
    """Return an instance of the configured WhatsApp backend."""
    return import_string(path or settings.WHATSAPP_BACKEND)(**kwargs)
