"""The batch path builds Postmark's JSON itself for the channel's plain emails: it must be what
anymail's Postmark payload makes of the same message, field for field, and a result that says more
than a plain "OK" must still go through anymail's parsing."""

import json

import pytest
from django.core.mail import get_connection

from notifications.channels import postmark as batch
from notifications.channels.base import Outcome
from notifications.channels.email import EmailChannel, OutgoingEmail
from tests.fakes import Reply, postmark_accepted

pytestmark = pytest.mark.django_db

ICS = ("session.ics", "BEGIN:VCALENDAR\r\nSUMMARY:Python — Basics\r\nEND:VCALENDAR\r\n", "text/calendar")


def email(n: int, **fields) -> OutgoingEmail:
    values = {
        "to": f"student{n}@example.com",
        "subject": "Starts Tomorrow: Python Basics",
        "text": "Hello Asha,\n\nhttps://meet.example.com/1",
        "html": "<p>Hello Asha,</p>",
        "delivery_id": n,
        "kind": "session_24h",
    }
    return OutgoingEmail(**(values | fields))


EMAILS = {
    "transactional": email(1),
    "marketing, one-click unsubscribe": email(
        2,
        kind="lead_day0",
        marketing=True,
        headers={
            "List-Unsubscribe": "<https://school.example/u/x>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    ),
    "a calendar invitation attached": email(3, attachments=[ICS]),
    "not English": email(4, subject="कल शुरू: पायथन", text="नमस्ते आशा", html="<p>नमस्ते आशा</p>"),
    "text only": email(5, html=""),
    "a sender with a display name": email(6, from_email="Kurs Hüb <noreply@school.example>"),
}


@pytest.mark.parametrize("name", EMAILS)
def test_the_json_built_for_a_plain_email_is_what_anymail_makes_of_it(postmark, settings, name):
    settings.POSTMARK_TRANSACTIONAL_STREAM = "outbound"
    connection = get_connection()
    message = EmailChannel(connection)._message(EMAILS[name])

    built = batch._plain_data(connection, message, {})

    assert built is not None
    anymails = connection.build_message_payload(message, connection.send_defaults)
    assert anymails.get_api_endpoint() == "email"
    assert built == json.loads(anymails.serialize_data())


@pytest.mark.parametrize(
    "change",
    [
        {"to": "Asha Verma <asha@example.com>"},  # a display name: anymail formats it
        {"to": "asha@exämple.com"},  # an international domain: anymail encodes it
        {"headers": {"Reply-To": "teacher@school.example"}},  # anymail moves it out of the headers
    ],
)
def test_an_email_that_is_not_plain_goes_through_anymails_payload_in_the_same_batch(postmark, change):
    unusual = email(2, **change)
    with EmailChannel() as channel:
        assert batch._plain_data(channel.connection, channel._message(unusual), {}) is None
        results = channel.send_many([email(1), unusual])

    assert [result.outcome for result in results] == [Outcome.SENT, Outcome.SENT]
    assert [request.path for request in postmark.requests] == ["/email/batch"]
    sent = postmark.requests[0].json()
    anymails = channel.connection.build_message_payload(channel._message(unusual), {})
    assert sent[1]["To"] == anymails.data["To"]


def test_a_result_that_says_more_than_ok_is_read_by_anymail(postmark):
    def answer(recorded):
        first, second = recorded.json()
        delayed = postmark_accepted(second, "pm-late") | {"Message": "Message accepted, but delivery may be delayed."}
        return Reply(200, [postmark_accepted(first, "pm-ok"), delayed])

    postmark.default = answer
    with EmailChannel() as channel:
        messages = [channel._message(one) for one in (email(1), email(2))]
        errors = batch.send_batch(channel.connection, messages)

    assert errors == [None, None]
    assert messages[0].anymail_status.recipients["student1@example.com"].status == "sent"
    assert messages[1].anymail_status.recipients["student2@example.com"].status == "queued"
    assert messages[0].anymail_status.message_id.startswith("pm-ok")
