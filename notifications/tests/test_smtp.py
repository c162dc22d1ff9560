"""Plain SMTP against a real SMTP server (aiosmtpd): replies classified by their code (RFC 5321).

4xx is "try again later" (greylisting 451, mailbox full 452): the message is retried and the
address stays usable. 550/551/553 to RCPT say the address is unusable: suppressed. Other 5xx
refuse the message only.
"""

import datetime as dt

import pytest
from django.utils import timezone

from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries

from .helpers import plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def email_row() -> Delivery:
    return Delivery.objects.get(channel="email")


def retry_now() -> None:
    """Let the retry's backoff pass."""
    Delivery.objects.filter(status=Status.PENDING).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.parametrize("reply", ["451 4.7.1 Greylisted, please try again later", "452 4.2.2 Mailbox full"])
def test_a_temporary_refusal_is_retried_and_the_address_stays_usable(smtp_mailbox, student, reply):
    smtp_mailbox.refuse[student.email] = reply
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()

    row = email_row()
    assert row.status == Status.PENDING and row.next_attempt_at > timezone.now()
    assert row.error_code == f"smtp_{reply[:3]}"
    assert not Suppression.objects.exists()
    assert smtp_mailbox.received == []

    del smtp_mailbox.refuse[student.email]  # the greylist lets us in, the mailbox has room again
    retry_now()
    dispatch_due_deliveries()
    assert email_row().status == Status.SENT
    (received,) = smtp_mailbox.received
    assert received["To"] == student.email


@pytest.mark.parametrize("code", [550, 551, 553])
def test_an_unusable_address_fails_and_is_suppressed(smtp_mailbox, student, code):
    smtp_mailbox.refuse[student.email] = f"{code} 5.1.1 No such user here"
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()

    row = email_row()
    assert row.status == Status.FAILED and row.error_code == f"smtp_{code}"
    assert set(Suppression.objects.values_list("address", "category", "reason")) == {(student.email, "", "invalid")}


def test_another_permanent_refusal_fails_the_message_but_keeps_the_address(smtp_mailbox, student):
    smtp_mailbox.refuse[student.email] = "554 5.7.1 Message refused by policy"
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()

    assert email_row().status == Status.FAILED
    assert not Suppression.objects.exists()
