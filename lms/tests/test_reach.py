"""Issue 29: RSVP in one tap, tracked joins, the live nudge, the missed-it recording and a session's figures
(the reach ladder's own tests: test_reach_ladder.py; the whole life below includes an escalation).

The doors are exercised through their real views and the provider webhooks with signed payloads;
the rules plan into the real ledger and the dispatcher sends through the fake providers.
"""

import base64
import datetime as dt
import re
from io import BytesIO

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lms import reminders
from lms.attendance import MAX_UPLOAD_BYTES, import_participants, read_participants
from lms.models import RecordingOpen, SessionAttendance, SessionRsvp
from lms.reach import run_reach_ladder
from lms.services import publish_recording
from lms.session_links import make_token
from notifications.models import Delivery, InboundMessage, Notification
from notifications.services.dispatch import dispatch_due_deliveries
from tests.fake_graph import APP_SECRET, signed, status_update, webhook

from .factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, RecordingFactory, UserFactory

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 25, 4, 30, tzinfo=dt.UTC)  # 10:00 in Kolkata
Status = Delivery.Status
META_WEBHOOK = "/webhooks/meta/whatsapp/"


@pytest.fixture
def course():
    return CourseFactory(title="Data Science Bootcamp")


def enrolled(course, n: int, **kwargs):
    people = []
    for i in range(n):
        user = UserFactory(
            name=f"Student {i}",
            email=f"student{i}@example.com",
            phone=f"+9198765432{i:02d}",
            whatsapp_opt_in=True,
            timezone="Asia/Kolkata",
            locale="en_IN",
            **kwargs,
        )
        EnrollmentFactory(student=user, course=course)
        people.append(user)
    return people


@pytest.fixture
def session(course):
    return LiveSessionFactory(
        course=course, title="Intro to Pandas", scheduled_at=START, meeting_url="https://meet.example.com/pandas"
    )


def kinds_to(user, kind):
    return sorted(Delivery.objects.filter(recipient=user, event__kind=kind).values_list("channel", flat=True))


def link_in(text: str, path: str) -> str:
    return re.search(rf"https?://\S+{re.escape(path)}\S*", text).group(0).rstrip(".,)")


def local(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def post_meta(client, value: dict):
    body, signature = signed(webhook(value), APP_SECRET)
    response = client.post(META_WEBHOOK, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 200
    return response


def button_tap(sender: str, *, text: str, payload: str, message_id: str, at: dt.datetime) -> dict:
    """Meta's `messages` entry for a template's quick-reply button tapped (type "button")."""
    return {
        "contacts": [{"profile": {"name": "Student"}, "wa_id": sender.removeprefix("+")}],
        "messages": [
            {
                "from": sender.removeprefix("+"),
                "id": message_id,
                "timestamp": str(int(at.timestamp())),
                "type": "button",
                "button": {"text": text, "payload": payload},
            }
        ],
    }


# --- A. RSVP ------------------------------------------------------------------------------------


def test_the_email_rsvp_link_asks_on_get_and_records_only_on_post(client, course, session):
    [asha] = enrolled(course, 1)
    token = make_token("rsvp", session_id=session.pk, student_id=asha.pk)
    url = reverse("lms:session_rsvp", args=[token, "no"])
    with time_machine.travel(START - dt.timedelta(hours=20), tick=False):
        page = client.get(url)
        assert page.status_code == 200 and "t make it</button>" in page.content.decode()
        assert not SessionRsvp.objects.exists()  # a mail scanner following the link records nothing
        done = client.post(url, {"answer": "no"})
    assert done.status_code == 200 and 'data-testid="rsvp-recorded"' in done.content.decode()
    rsvp = SessionRsvp.objects.get()
    assert (rsvp.student, rsvp.answer, rsvp.via) == (asha, "no", "email")


def test_a_forged_or_foreign_rsvp_link_is_refused_and_answers_close_at_the_start(client, course, session):
    [asha] = enrolled(course, 1)
    stranger = UserFactory(email="stranger@example.com")
    forged = make_token("rsvp", session_id=session.pk, student_id=asha.pk)[:-2] + "xx"
    foreign = make_token("rsvp", session_id=session.pk, student_id=stranger.pk)
    join_token = make_token("join", session_id=session.pk, student_id=asha.pk)  # another purpose's salt
    with time_machine.travel(START - dt.timedelta(hours=2), tick=False):
        for token in (forged, foreign, join_token):
            assert client.post(reverse("lms:session_rsvp", args=[token, "yes"])).status_code == 404
    good = reverse("lms:session_rsvp", args=[make_token("rsvp", session_id=session.pk, student_id=asha.pk), "yes"])
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        assert client.post(good, {"answer": "yes"}).status_code == 409
    assert not SessionRsvp.objects.exists()


def test_the_signed_in_student_answers_with_the_in_app_buttons(client, course, session):
    [asha] = enrolled(course, 1)
    client.force_login(asha)
    with time_machine.travel(START - dt.timedelta(hours=3), tick=False):
        page = client.get(reverse("lms:session_rsvp_mine", args=[session.pk])).content.decode()
        assert page.count('name="answer"') == 3
        client.post(reverse("lms:session_rsvp_mine", args=[session.pk]), {"answer": "remind_1h"})
    assert SessionRsvp.objects.get().answer == "remind_1h"
    other = LiveSessionFactory()  # not a session of her courses
    assert client.get(reverse("lms:session_rsvp_mine", args=[other.pk])).status_code == 404


def test_a_whatsapp_quick_reply_records_the_answer_and_confirms_it(client, course, session, graph):
    [asha] = enrolled(course, 1)
    tapped = START - dt.timedelta(hours=20)
    post_meta(client, button_tap(asha.phone, text="Can't make it", payload="RSVP_NO", message_id="wamid.T1", at=tapped))
    post_meta(client, button_tap(asha.phone, text="Can't make it", payload="RSVP_NO", message_id="wamid.T1", at=tapped))
    rsvp = SessionRsvp.objects.get()
    assert (rsvp.student, rsvp.session, rsvp.answer, rsvp.via) == (asha, session, "no", "whatsapp")
    inbound = InboundMessage.objects.get()
    assert "RSVP" in inbound.staff_note and inbound.keyword == ""
    confirmation = Delivery.objects.get(event__kind="session_rsvp_noted")
    dispatch_due_deliveries(now=tapped)
    confirmation.refresh_from_db()
    assert confirmation.status == Status.SENT
    assert "send you the recording" in str(graph.requests[-1].json())

    # A payload naming the session, from Twilio's webhook: the words alone do too (Hindi here).
    post_meta(client, button_tap(asha.phone, text="मैं आऊँगा", payload="", message_id="wamid.T2", at=tapped))
    assert SessionRsvp.objects.get().answer == "yes"


def test_a_tap_from_a_number_on_no_account_records_nothing(client, course, session, graph):
    enrolled(course, 1)
    at = START - dt.timedelta(hours=20)
    post_meta(client, button_tap("+15550001111", text="I'll be there", payload="RSVP_YES", message_id="w.X", at=at))
    assert not SessionRsvp.objects.exists()
    assert not Delivery.objects.filter(event__kind="session_rsvp_noted").exists()


def test_cant_make_it_skips_the_starting_soon_reminder_and_remind_me_plans_one_an_hour_before(course, session):
    yes, no, later, silent = enrolled(course, 4)
    SessionRsvp.objects.create(session=session, student=yes, answer="yes", via="email")
    SessionRsvp.objects.create(session=session, student=no, answer="no", via="whatsapp")
    SessionRsvp.objects.create(session=session, student=later, answer="remind_1h", via="inapp")

    reminders.plan_session_reminders_15min(now=START - dt.timedelta(minutes=50))
    assert [d.recipient for d in Delivery.objects.filter(event__kind="session_1h", channel="email")] == [later]
    assert Delivery.objects.get(event__kind="session_1h", channel="email").expiry == START - dt.timedelta(minutes=15)

    reminders.plan_session_reminders_15min(now=START - dt.timedelta(minutes=10))
    told = set(Delivery.objects.filter(event__kind="session_15min").values_list("recipient", flat=True))
    assert told == {yes.pk, later.pk, silent.pk}
    assert not Notification.objects.filter(user=no, kind="session_15min").exists()


def test_a_no_given_after_the_reminder_was_planned_cancels_it_at_dispatch(course, session):
    [asha] = enrolled(course, 1)
    reminders.plan_session_reminders_15min(now=START - dt.timedelta(minutes=10))
    SessionRsvp.objects.create(session=session, student=asha, answer="no", via="email")
    dispatch_due_deliveries(now=START - dt.timedelta(minutes=9))
    assert set(Delivery.objects.filter(event__kind="session_15min").values_list("status", flat=True)) == {
        Status.CANCELLED
    }


# --- B. Attendance ------------------------------------------------------------------------------


def test_the_tracked_join_link_works_from_30_minutes_before_to_the_end(client, course, session):
    [asha] = enrolled(course, 1)
    url = reverse("lms:session_join", args=[make_token("join", session_id=session.pk, student_id=asha.pk)])
    with time_machine.travel(START - dt.timedelta(minutes=31), tick=False):
        assert "not opened yet" in client.post(url).content.decode()
    with time_machine.travel(START - dt.timedelta(minutes=29), tick=False):
        assert client.get(url).status_code == 200
        assert not SessionAttendance.objects.exists()
    with time_machine.travel(START + dt.timedelta(minutes=3), tick=False):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "https://meet.example.com/pandas"
    attendance = SessionAttendance.objects.get()
    assert (attendance.student, attendance.source, attendance.joined_at) == (
        asha,
        "link",
        START + dt.timedelta(minutes=3),
    )
    with time_machine.travel(START + dt.timedelta(minutes=61), tick=False):
        assert client.post(url).status_code == 410


ZOOM_EXPORT = """Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants
812 3456 7890,Intro to Pandas,11/25/2026 10:00:00 AM,11/25/2026 11:02:00 AM,teacher@example.com,62,4

Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest
Student 0,Student0@Example.com,11/25/2026 04:31:10 AM,11/25/2026 05:30:00 AM,59,No
Student 0,student0@example.com,11/25/2026 04:40:00 AM,11/25/2026 05:30:00 AM,50,No
Guest,,11/25/2026 04:35:00 AM,11/25/2026 05:00:00 AM,25,Yes
Visitor,visitor@example.com,11/25/2026 04:35:00 AM,11/25/2026 05:00:00 AM,25,Yes
Student 2,student2@example.com,not a time,11/25/2026 05:00:00 AM,25,No
"""


def test_staff_upload_a_zoom_participants_export_to_mark_attendance(admin_client, course, session):
    people = enrolled(course, 3)
    SessionAttendance.objects.create(session=session, student=people[2], source="link")
    upload = SimpleUploadedFile("participants.csv", ZOOM_EXPORT.encode(), content_type="text/csv")
    url = reverse("admin:lms_livesession_participants", args=[session.pk])
    page = admin_client.post(url, {"file": upload}, follow=True).content.decode()
    assert "1 marked present, 1 already were; 2 row(s) not used" in page
    assert "Line 7: no valid email (empty)" in page and "visitor@example.com: no student enrolled" in page
    marked = SessionAttendance.objects.get(student=people[0])
    assert (marked.source, marked.joined_at) == ("upload", dt.datetime(2026, 11, 25, 4, 31, 10, tzinfo=dt.UTC))
    assert not SessionAttendance.objects.filter(student=people[1]).exists()


def test_a_google_meet_export_is_read_and_a_file_that_is_too_big_or_has_no_emails_is_refused(course, session):
    people = enrolled(course, 2)
    meet = "First name,Last name,Email,Duration,Time joined,Time exited\nStudent,One,student1@example.com,55 min,,\n"
    result = import_participants(session=session, rows=read_participants(BytesIO_upload(meet.encode())))
    assert result.marked == 1 and SessionAttendance.objects.get().student == people[1]
    with pytest.raises(Exception, match="over 2 MB"):
        read_participants(BytesIO_upload(b"x" * (MAX_UPLOAD_BYTES + 1)))
    with pytest.raises(Exception, match="No email column"):
        import_participants(session=session, rows=read_participants(BytesIO_upload(b"Name,Minutes\nA,3\n")))


def BytesIO_upload(data: bytes):
    upload = BytesIO(data)
    upload.size = len(data)
    return upload


def test_the_upload_needs_the_change_permission(client, course, session):
    staff = UserFactory(email="viewer@example.com", is_staff=True)
    client.force_login(staff)
    upload = SimpleUploadedFile("p.csv", b"Email\nstudent0@example.com\n")
    response = client.post(reverse("admin:lms_livesession_participants", args=[session.pk]), {"file": upload})
    assert response.status_code in (302, 403)
    assert not SessionAttendance.objects.exists()


# --- C. The loop --------------------------------------------------------------------------------


def test_the_live_nudge_goes_5_minutes_after_the_start_to_those_not_joined_and_never_late(course, session, settings):
    came, no, silent, yes = enrolled(course, 4)
    SessionRsvp.objects.create(session=session, student=no, answer="no", via="email")
    SessionRsvp.objects.create(session=session, student=yes, answer="yes", via="email")
    SessionAttendance.objects.create(session=session, student=came, source="link")

    reminders.plan_session_reminders_15min(now=START + dt.timedelta(minutes=4))
    assert not Delivery.objects.filter(event__kind="session_live").exists()
    reminders.plan_session_reminders_15min(now=START + dt.timedelta(minutes=5))
    nudged = set(Delivery.objects.filter(event__kind="session_live").values_list("recipient", flat=True))
    assert nudged == {silent.pk, yes.pk}
    assert Delivery.objects.filter(event__kind="session_live").first().expiry == START + dt.timedelta(minutes=15)

    # Joined between planning and sending: the nudge is cancelled, not sent.
    SessionAttendance.objects.create(session=session, student=yes, source="link")
    dispatch_due_deliveries(now=START + dt.timedelta(minutes=6))
    statuses = dict(
        Delivery.objects.filter(event__kind="session_live", channel="email").values_list("recipient", "status")
    )
    assert statuses == {silent.pk: Status.SENT, yes.pk: Status.CANCELLED}

    later = LiveSessionFactory(course=course, scheduled_at=START + dt.timedelta(hours=3))
    settings.LIVE_NUDGE_MINUTES = "8"
    reminders.plan_session_reminders_15min(now=later.scheduled_at + dt.timedelta(minutes=8))
    assert not Delivery.objects.filter(event__kind="session_live", event__subject_id=later.pk).exists()


def test_the_recording_tells_no_shows_they_missed_it_and_those_who_came_the_usual_notice(client, course, session):
    came, missed, said_no = enrolled(course, 3)
    SessionAttendance.objects.create(session=session, student=came, source="upload")
    SessionRsvp.objects.create(session=session, student=said_no, answer="no", via="email")
    recording = RecordingFactory(session=session, url="https://videos.example.com/pandas", visible_to_students=False)
    publish_recording(recording=recording, now=START + dt.timedelta(hours=2))
    reminders.plan_recording_notifications(now=START + dt.timedelta(hours=2))
    assert kinds_to(came, "recording_available") == ["email"] and not kinds_to(came, "recording_missed")
    assert kinds_to(missed, "recording_missed") == ["email"] and kinds_to(said_no, "recording_missed") == ["email"]
    dispatch_due_deliveries(now=START + dt.timedelta(hours=2))
    sent = {m.to[0]: m for m in mail.outbox}
    letter = sent[missed.email]
    assert letter.subject == "You missed “Intro to Pandas”: here is the recording"
    watch = link_in(letter.body, "/s/watch/")
    assert "videos.example.com" not in letter.body
    assert client.get(local(watch)).status_code == 200 and not RecordingOpen.objects.exists()
    assert client.post(local(watch))["Location"] == "https://videos.example.com/pandas"
    assert RecordingOpen.objects.get().student == missed

    # In-app, the no-show's notice opens the recording through their own tracked door.
    notice = Notification.objects.get(user=said_no, kind="recording_missed")
    client.force_login(said_no)
    assert client.post(local(notice.link))["Location"] == recording.url
    assert set(RecordingOpen.objects.values_list("student", flat=True)) == {missed.pk, said_no.pk}
    assert Notification.objects.get(user=came, kind="recording_available").link == recording.url


def test_without_any_attendance_everyone_gets_the_usual_recording_notice(course, session):
    people = enrolled(course, 2)
    recording = RecordingFactory(session=session, visible_to_students=False)
    publish_recording(recording=recording, now=START + dt.timedelta(hours=2))
    reminders.plan_recording_notifications(now=START + dt.timedelta(hours=2))
    assert all(kinds_to(person, "recording_available") == ["email"] for person in people)
    assert not Delivery.objects.filter(event__kind="recording_missed").exists()


def test_hindi_readers_get_the_new_messages_in_hindi(course, session):
    [asha] = enrolled(course, 1, language="hi")
    SessionRsvp.objects.create(session=session, student=asha, answer="remind_1h", via="email")
    for moment in (START - dt.timedelta(minutes=50), START + dt.timedelta(minutes=6)):
        reminders.plan_session_reminders_15min(now=moment)
        dispatch_due_deliveries(now=moment)
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["अभी लाइव: Intro to Pandas", "एक घंटे में: Intro to Pandas"]


# --- The whole life of a session ----------------------------------------------------------------


def test_a_session_life_on_the_real_ledger_and_webhooks(client, admin_client, course, session, graph, settings):
    settings.META_WHATSAPP_TEMPLATES = {
        kind: f"{kind}_v1" for kind in ("session_24h", "session_15min", "session_1h", "session_live")
    }
    came, cant, asked, silent = enrolled(course, 4)

    # The day before: the 24-hour reminder on every channel, with the RSVP links and buttons.
    day_before = START - dt.timedelta(hours=20)
    reminders.plan_session_reminders_24h(now=day_before)
    dispatch_due_deliveries(now=day_before)
    assert Delivery.objects.filter(event__kind="session_24h").exclude(status=Status.SENT).count() == 0
    letters = {m.to[0]: m for m in mail.outbox}
    # WhatsApp delivered (Meta's signed status webhooks) for three; the fourth is never delivered.
    for row in Delivery.objects.filter(event__kind="session_24h", channel="whatsapp").exclude(recipient=silent):
        update = status_update(row.provider_message_id, "delivered", recipient=row.to_address, delivery_id=row.pk)
        update["timestamp"] = str(int((day_before + dt.timedelta(minutes=1)).timestamp()))
        post_meta(client, {"statuses": [update]})

    # One taps "Can't make it" on WhatsApp, one "Remind me 1 h before" in the email, one "I'll be there".
    tap = button_tap(cant.phone, text="Can't make it", payload="RSVP_NO", message_id="wamid.NO", at=day_before)
    post_meta(client, tap)
    remind = local(link_in(letters[asked.email].body, "/remind_1h/"))
    yes = local(link_in(letters[came.email].body, "/yes/"))
    with time_machine.travel(day_before + dt.timedelta(minutes=5), tick=False):
        client.post(remind)
        client.post(yes)
    answers = dict(SessionRsvp.objects.values_list("student__email", "answer"))
    assert answers == {cant.email: "no", asked.email: "remind_1h", came.email: "yes"}

    # An hour before, the extra reminder.
    reminders.plan_session_reminders_15min(now=START - dt.timedelta(minutes=55))

    # The reach ladder: the one no reminder reached gets WhatsApp 30 minutes before; not delivered
    # within 10 minutes, the email goes, and Postmark's receipt says it arrived before the deadline.
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ["hooks:secret"]}
    for minutes in (30, 25, 20):
        moment = START - dt.timedelta(minutes=minutes)
        with time_machine.travel(moment, tick=False):
            run_reach_ladder(now=moment)
            dispatch_due_deliveries(now=moment)
    steps = Delivery.objects.filter(event__key__contains=":step").order_by("event__key")
    assert [(row.recipient_id, row.channel, row.status) for row in steps] == [
        (silent.pk, "whatsapp", Status.SENT),
        (silent.pk, "email", Status.SENT),
    ]
    email_step = steps[1]
    assert email_step.sent_at == START - dt.timedelta(minutes=20)
    receipt = {
        "RecordType": "Delivery",
        "MessageID": email_step.provider_message_id,
        "Recipient": email_step.to_address,
        "DeliveredAt": (START - dt.timedelta(minutes=19)).isoformat().replace("+00:00", "Z"),
        "Details": "250 OK",
        "Metadata": {"delivery_id": str(email_step.pk)},
    }
    auth = "Basic " + base64.b64encode(b"hooks:secret").decode()
    response = client.post(
        "/anymail/postmark/tracking/", receipt, content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200

    # 15 minutes before, "starting soon" to all but the "no".
    reminders.plan_session_reminders_15min(now=START - dt.timedelta(minutes=14))
    dispatch_due_deliveries(now=START - dt.timedelta(minutes=14))
    assert set(Delivery.objects.filter(event__kind="session_1h").values_list("recipient", flat=True)) == {asked.pk}
    soon = set(Delivery.objects.filter(event__kind="session_15min").values_list("recipient", flat=True))
    assert soon == {came.pk, asked.pk, silent.pk}

    # The student who said yes joins through the tracked link in the starting-soon email.
    starting = next(m for m in mail.outbox if m.to[0] == came.email and m.subject.startswith("Starting Soon"))
    with time_machine.travel(START + dt.timedelta(minutes=2), tick=False):
        response = client.post(local(link_in(starting.body, "/s/join/")))
    assert response["Location"] == "https://meet.example.com/pandas"

    # Five minutes in: "we're live" to those who have not joined and did not say no.
    reminders.plan_session_reminders_15min(now=START + dt.timedelta(minutes=5))
    dispatch_due_deliveries(now=START + dt.timedelta(minutes=5))
    live = set(Delivery.objects.filter(event__kind="session_live").values_list("recipient", flat=True))
    assert live == {asked.pk, silent.pk}
    assert not Delivery.objects.filter(event__kind="session_live", channel="email").exclude(status=Status.SENT)

    # The recording: the one who came gets the usual notice, the no-shows "you missed it".
    recording = RecordingFactory(session=session, url="https://videos.example.com/pandas", visible_to_students=False)
    publish_recording(recording=recording, now=START + dt.timedelta(hours=2))
    reminders.plan_recording_notifications(now=START + dt.timedelta(hours=2))
    dispatch_due_deliveries(now=START + dt.timedelta(hours=2))
    missed = set(Delivery.objects.filter(event__kind="recording_missed").values_list("recipient", flat=True))
    assert missed == {cant.pk, asked.pk, silent.pk}
    assert set(Delivery.objects.filter(event__kind="recording_available").values_list("recipient", flat=True)) == {
        came.pk
    }
    # Nothing was sent to a session's students after it started but the live nudge and the recording.
    late = Delivery.objects.filter(event__kind__in=["session_24h", "session_15min", "session_1h"], sent_at__gt=START)
    assert not late.exists()
    watch = next(m for m in mail.outbox if m.to[0] == cant.email and m.subject.startswith("You missed"))
    client.post(local(link_in(watch.body, "/s/watch/")))

    # The session's admin page shows the figures.
    page = admin_client.get(reverse("admin:lms_livesession_change", args=[session.pk])).content.decode()
    figures = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td></tr>', page))
    assert figures["Enrolled"] == "4"
    assert figures["Reached ≥ 10 min before the start"] == "4 (100 %)"
    assert figures["Reached, by channel"] == "WhatsApp 3, email 1, in-app 0"
    assert figures["RSVPs: yes / no / remind 1 h / no answer"] == "1 / 1 / 1 / 1"
    assert figures["Joined"] == "1 (25 %)"
    assert figures["No-shows who opened the recording"] == "1 of 3"
    assert "Can&#x27;t make it" in page and "no answer" in page


def test_the_signed_doors_are_rate_limited_per_client(client, course, session, settings):
    [asha] = enrolled(course, 1)
    settings.RATE_LIMITS = {"session_link_ip": "2/h"}
    url = reverse("lms:session_join", args=[make_token("join", session_id=session.pk, student_id=asha.pk)])
    with time_machine.travel(START, tick=False):
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
        assert client.post(url).status_code == 429
    assert not SessionAttendance.objects.exists()


def test_twilio_quick_reply_payload_naming_the_session_is_recorded(client, course, session, twilio):
    from tests.test_whatsapp_round2 import TWILIO_INBOUND, post_twilio, twilio_inbound

    [asha] = enrolled(course, 1)
    later = LiveSessionFactory(course=course, scheduled_at=START + dt.timedelta(days=1))
    form = twilio_inbound(asha.phone, "", sid="SMRSVP1", ButtonText="Remind me 1 h before")
    form["ButtonPayload"] = f"RSVP_1H:{later.pk}"
    with time_machine.travel(START - dt.timedelta(hours=2), tick=False):
        assert post_twilio(client, TWILIO_INBOUND, form).status_code == 200
    rsvp = SessionRsvp.objects.get()
    assert (rsvp.session, rsvp.answer, rsvp.via) == (later, "remind_1h", "whatsapp")


def test_a_24h_row_planned_before_tracked_links_still_sends(course, session):
    enrolled(course, 1)
    reminders.plan_session_reminders_24h(now=START - dt.timedelta(hours=20))
    for row in Delivery.objects.filter(event__kind="session_24h"):
        row.own_context = {}  # what rows planned before this change hold: no student id
        row.save(update_fields=["own_context"])
    dispatch_due_deliveries(now=START - dt.timedelta(hours=20))
    body = mail.outbox[0].body
    assert "Join Meeting: https://meet.example.com/pandas" in body
    assert "/s/rsvp/" not in body and Delivery.objects.get(channel="email").rendered_text == body


def test_the_session_page_costs_the_same_queries_whatever_the_class_size(admin_client, course, session):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("admin:lms_livesession_change", args=[session.pk])).status_code == 200
        return len(captured.captured_queries)

    people = enrolled(course, 5)
    SessionRsvp.objects.create(session=session, student=people[0], answer="yes", via="email")
    queries()  # the first request warms the caches (content types, the session)
    small = queries()
    for i in range(5, 60):
        user = UserFactory(email=f"more{i}@example.com")
        EnrollmentFactory(student=user, course=course)
        SessionRsvp.objects.create(session=session, student=user, answer="no", via="whatsapp")
        SessionAttendance.objects.create(session=session, student=user, source="upload")
    assert queries() == small
