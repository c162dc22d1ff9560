"""Writes each WhatsApp message to a stream (stdout by default) instead of sending it."""

import sys
import threading
import uuid

from django.utils import timezone

from ..base import SendResult
from . import BaseWhatsAppBackend, WhatsAppMessage


class WhatsAppBackend(BaseWhatsAppBackend):
    def __init__(self, stream=None, **kwargs):
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()

    def format(self, message: WhatsAppMessage, message_id: str) -> str:
        return (
            f"WhatsApp {message_id} at {timezone.now():%Y-%m-%d %H:%M:%S %Z}\n"
            f"To: whatsapp:{message.to}\nKind: {message.kind}\n"
            f"Template: {message.content_sid or '(none configured)'} {message.content_variables}\n\n"
            f"{message.body}\n{'-' * 79}\n"
        )

    def send(self, message: WhatsAppMessage) -> SendResult:
        message_id = f"SMconsole{uuid.uuid4().hex[:24]}"
        with self._lock:
            self.stream.write(self.format(message, message_id))
            self.stream.flush()
        return SendResult.sent(message_id)
