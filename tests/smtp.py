"""A real SMTP server for tests (aiosmtpd): the `smtp_mailbox` fixture points Django's SMTP backend at it."""

import email
import socket
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller


class Mailbox:
    """An SMTP server's handler: refuses the recipients it is told to, keeps what it accepts."""

    def __init__(self):
        self.refuse: dict[str, str] = {}  # address -> SMTP reply to its RCPT
        self.received: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_mailbox(settings):
    """Send email through Django's SMTP backend to a real SMTP server on 127.0.0.1; yield its Mailbox."""
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()
