"""
Mock mode's email backend: one .eml file per message in EMAIL_FILE_PATH, named so a person finds it.

Django's file backend appends every message of a connection to one .log file (fifty emails in
one file after a dispatch run). Here each message is its own file, named by when it was written
(the site's time zone), its message kind, its recipient and its delivery id, e.g.
var/mail/20261202-101500-session_24h-asha@example.com-1234.eml; any mail program opens one.
"""

import re
import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

# Kept in a file name as they are; anything else (slashes, spaces, quotes) becomes "_".
UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
MAX_PART = 80


def _part(value: str) -> str:
    return UNSAFE.sub("_", value)[:MAX_PART].strip("._") or "_"


class EmailBackend(BaseEmailBackend):
    def __init__(self, file_path=None, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.file_path = Path(file_path or settings.EMAIL_FILE_PATH)

    def file_name(self, message) -> str:
        """Return the name `message` is written under (without a suffix for clashes)."""
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        tags = getattr(message, "tags", None) or ["email"]  # the email channel tags a message with its kind
        to = message.to[0] if message.to else "no-recipient"
        delivery_id = message.extra_headers.get("X-Delivery-ID") or uuid.uuid4().hex[:12]
        return "-".join([stamp, _part(str(tags[0])), _part(to), _part(str(delivery_id))])

    def send_messages(self, email_messages) -> int:
        """Write each message to a file of its own; return how many were written."""
        if not email_messages:
            return 0
        written = 0
        try:
            self.file_path.mkdir(parents=True, exist_ok=True)
            for message in email_messages:
                self._write(message)
                written += 1
        except OSError:
            if not self.fail_silently:
                raise
        return written

    def _write(self, message) -> Path:
        content = message.message().as_bytes()
        name = self.file_name(message)
        for attempt in range(1, 100):
            path = self.file_path / (f"{name}.eml" if attempt == 1 else f"{name}-{attempt}.eml")
            try:
                # Exclusive creation: two workers writing in the same second never overwrite each other.
                with path.open("xb") as file:
                    file.write(content)
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"Too many emails named {name} in {self.file_path}.")
