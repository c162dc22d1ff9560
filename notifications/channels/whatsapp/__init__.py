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


class BaseWhatsAppBackend:
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


def get_whatsapp_backend(path: str | None = None, **kwargs) -> BaseWhatsAppBackend:
    """Return an instance of the configured WhatsApp backend."""
    return import_string(path or settings.WHATSAPP_BACKEND)(**kwargs)
