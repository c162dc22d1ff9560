"""Keeps messages in `notifications.channels.whatsapp.outbox`, for tests."""

import itertools

from ..base import SendResult
from . import BaseWhatsAppBackend, WhatsAppMessage, outbox

_ids = itertools.count(1)


class WhatsAppBackend(BaseWhatsAppBackend):
    def send(self, message: WhatsAppMessage) -> SendResult:
        outbox.append(message)
        return SendResult.sent(f"SMlocmem{next(_ids):08d}")
