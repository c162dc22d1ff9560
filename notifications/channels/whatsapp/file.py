"""Writes each WhatsApp message to a file in WHATSAPP_FILE_PATH, for people to read (mock mode)."""

import datetime
import os
import uuid
from pathlib import Path

from django.conf import settings

from ..base import SendResult
from . import WhatsAppMessage
from .console import WhatsAppBackend as ConsoleBackend


class WhatsAppBackend(ConsoleBackend):
    def __init__(self, file_path=None, **kwargs):
        super().__init__(**kwargs)
        self.file_path = Path(file_path or settings.WHATSAPP_FILE_PATH)
        self.file_path.mkdir(parents=True, exist_ok=True)

    def send(self, message: WhatsAppMessage) -> SendResult:
        message_id = f"SMfile{uuid.uuid4().hex[:26]}"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.file_path / f"{stamp}-{os.getpid()}-{message_id}.log"
        path.write_text(self.format(message, message_id), encoding="utf-8")
        return SendResult.sent(message_id)
