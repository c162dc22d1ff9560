"""One-click unsubscribe (RFC 8058): headers on marketing mail, POST unsubscribes, GET does not."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db


def send_marketing_email(address="lead@example.com", event="1"):
    plan_messages(
        kind="lead_day0",
        now=NOW,
        messages=[
            PlannedMessage(
                recipient=Recipient(user_id=None, email=address, name="Ravi Kumar"),
                event_key=event,
                context={"cta_url": "https://school.example/start/"},
            )
        ],
    )
    before = len(mail.outbox)
    dispatch_due_deliveries(now=NOW)
    return mail.outbox[-1] if len(mail.outbox) > before else None


def unsubscribe_path(message) -> str:
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://school.example/unsubscribe/")
    return url.removeprefix("https://school.example")


def test_marketing_email_carries_one_click_unsubscribe_headers_and_a_visible_link():
    message = send_marketing_email()
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url in message.body
    assert url in message.alternatives[0].content
    # Opaque: the token does not reveal the address.
    assert "lead" not in url.split("/unsubscribe/")[1]


def test_transactional_email_has_no_unsubscribe_header(student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


def test_a_get_only_shows_a_confirm_button(client):
    path = unsubscribe_path(send_marketing_email())
    response = client.get(path)
    assert response.status_code == 200
    assert b'<form method="post"' in response.content
    assert not Suppression.objects.exists()


def test_a_one_click_post_unsubscribes_with_200_and_no_redirect(client):
    path = unsubscribe_path(send_marketing_email())
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    suppression = Suppression.objects.get()
    assert (suppression.channel, suppression.address, suppression.category) == (
        "email",
        "lead@example.com",
        "marketing",
    )
    # Repeating it is harmless.
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Suppression.objects.count() == 1


def test_no_more_marketing_after_unsubscribing_but_reminders_still_arrive(client, student):
    path = unsubscribe_path(send_marketing_email(address=student.email))
    client.post(path)
    mail.outbox.clear()

    assert send_marketing_email(address=student.email, event="2") is None
    assert Delivery.objects.filter(event__kind="lead_day0", status="suppressed").count() == 1
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    assert [m.subject for m in mail.outbox] == ["Starts Tomorrow: Python Basics"]


def test_a_forged_or_expired_token_is_refused(client, settings):
    path = unsubscribe_path(send_marketing_email())
    assert client.post(re.sub(r"/unsubscribe/.{4}", "/unsubscribe/abcd", path)).status_code == 400
    settings.UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=31)):
        assert client.post(path).status_code == 400
    assert not Suppression.objects.exists()
