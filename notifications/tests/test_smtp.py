"""Plain SMTP against a real SMTP server (aiosmtpd): replies classified by their code (RFC 5321).

4xx is "try again later" (greylisting 451, mailbox full 452): the message is retried and the
address stays usable. 550/551/553 to RCPT say the address is unusable: suppressed. Other 5xx
refuse the message only.
"""

import datetime as dt
import email
import socket
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries

from .helpers import plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox(settings):
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()


def email_row() -> Delivery:
    return Delivery.objects.get(channel="email")


def retry_now() -> None:
    """Let the retry's backoff pass."""
    Delivery.objects.filter(status=Status.PENDING).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.parametrize("reply", ["451 4.7.1 Greylisted, please try again later", "452 4.2.2 Mailbox full"])
def test_a_temporary_refusal_is_retried_and_the_address_stays_usable(mailbox, student, reply):
    mailbox.refuse[student.email] = reply
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()

    row = email_row()
    assert row.status == Status.PENDING and row.next_attempt_at > timezone.now()
    assert row.error_code == f"smtp_{reply[:3]}"
    assert not Suppression.objects.exists()
    assert mailbox.received == []

    del mailbox.refuse[student.email]  # the greylist lets us in, the mailbox has room again
    retry_now()
    dispatch_due_deliveries()
    assert email_row().status == Status.SENT
    (received,) = mailbox.received
    assert received["To"] == student.email


@pytest.mark.parametrize("code", [550, 551, 553])
def test_an_unusable_address_fails_and_is_suppressed(mailbox, student, code):
    mailbox.refuse[student.email] = f"{code} 5.1.1 No such user here"
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()

    row = email_row()
    assert row.status == Status.FAILED and row.error_code == f"smtp_{code}"
    assert set(Suppression.objects.values_list("address", "category", "reason")) == {(student.email, "", "invalid")}


def test_another_permanent_refusal_fails_the_message_but_keeps_the_address(mailbox, student):
    mailbox.refuse[student.email] = "554 5.7.1 Message refused by policy"
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()

    assert email_row().status == Status.FAILED
    assert not Suppression.objects.exists()
