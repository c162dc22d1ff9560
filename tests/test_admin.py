"""The admin: every page opens, list pages cost the same whatever their length, ledger actions are guarded."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from automation.models import JobExecutionLog, WorkerHeartbeat
from leads.models import CrmActivity, CTASubmission, ImportBatch, Lead, LeadCampaign, WelcomeCall
from lms.models import (
    Assignment,
    Course,
    Enrollment,
    LiveSession,
    Payment,
    PhoneVerification,
    PlanningMark,
    Recording,
    RecordingOpen,
    SessionAttendance,
    SessionRsvp,
    Submission,
    User,
)
from notifications.models import (
    AttentionPreference,
    ChannelPause,
    Delivery,
    DeliveryDailyCount,
    DeliveryEvent,
    InboundMessage,
    Language,
    MessageEvent,
    MessageGroup,
    MessageTemplate,
    Notification,
    NotificationPreference,
    SubjectHold,
    Suppression,
    WhatsAppConsent,
    WhatsAppTemplate,
)

pytestmark = pytest.mark.django_db

OUR_APPS = ("notifications", "lms", "leads", "automation")
ADDABLE = [User, Course, Enrollment, LiveSession, Recording, Assignment, Submission, Payment]
ADDABLE += [Suppression, NotificationPreference, WelcomeCall, Language, MessageTemplate, WhatsAppConsent]
ADDABLE += [AttentionPreference, LeadCampaign]  # leadsops: campaigns added by staff
NOT_ADDABLE = [Delivery, DeliveryEvent, Notification, ImportBatch, Lead, CTASubmission, CrmActivity]
NOT_ADDABLE += [PlanningMark]
NOT_ADDABLE += [JobExecutionLog, WorkerHeartbeat, InboundMessage, ChannelPause, WhatsAppTemplate, DeliveryDailyCount]
NOT_ADDABLE += [
    MessageEvent,
    MessageGroup,
    PhoneVerification,
    SessionRsvp,
    SessionAttendance,
    RecordingOpen,
    SubjectHold,
]
ALL_MODELS = ADDABLE + NOT_ADDABLE


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def make_rows(n: int) -> dict:
    """Create one of everything, all linked, numbered `n`; return the interesting rows by name."""
    now = timezone.now()
    student = User.objects.create_user(email=f"student{n}@example.com", name=f"Student {n}", phone=f"+91980000{n:04d}")
    teacher = User.objects.create_user(email=f"teacher{n}@example.com", name=f"Teacher {n}", is_staff=True)
    course = Course.objects.create(title=f"Course {n}", slug=f"course-{n}", price=Decimal("4999"))
    Enrollment.objects.create(student=student, course=course)
    session = LiveSession.objects.create(
        course=course, title=f"Session {n}", scheduled_at=now + dt.timedelta(hours=20), meeting_url="https://meet.x/1"
    )
    Recording.objects.create(session=session, url="https://video.x/1")
    SessionRsvp.objects.create(session=session, student=student, answer="yes", via="email")
    SessionAttendance.objects.create(session=session, student=student, source="link")
    RecordingOpen.objects.create(session=session, student=student)
    assignment = Assignment.objects.create(course=course, title=f"Essay {n}", deadline=now + dt.timedelta(days=1))
    Submission.objects.create(assignment=assignment, student=student, text="Done")
    payment = Payment.objects.create(student=student, course=course, amount=Decimal("100000"), currency="INR")

    delivery = Delivery.objects.create_single(
        kind="session_24h",
        channel="email",
        event_key=f"session_24h:{session.pk}@x",
        subject_type="lms.livesession",
        subject_id=session.pk,
        recipient=student,
        to_address=student.email,
        context={"first_name": "Student", "title": session.title, "when": "tomorrow"},
        status=Delivery.Status.FAILED,
        attempts=3,
        rendered_subject=f"Starts tomorrow: {session.title}",
        rendered_text="Hello Student,\nyour session starts tomorrow.",
        error_code="invalid_address",
        last_error="Recipient refused.",
    )
    DeliveryEvent.objects.create(delivery=delivery, status=Delivery.Status.FAILED, detail="Recipient refused.")
    Notification.objects.create(user=student, kind="session_24h", title="Starts tomorrow", message="See you")
    NotificationPreference.objects.create(user=student, topic="marketing", channel="email", enabled=False)
    AttentionPreference.objects.create(user=student, quiet_start=dt.time(22), quiet_end=dt.time(7), digest_hour=19)
    Suppression.objects.create(channel="email", address=f"gone{n}@example.com", reason="bounced")

    batch = ImportBatch.objects.create(filename=f"leads{n}.csv", uploaded_by=teacher, total_rows=2, created_count=1)
    campaign = LeadCampaign.objects.create(
        name=f"Campaign {n}", import_batch=batch, total_leads=1, conversions=1, cost=Decimal("2500")
    )
    submission = CTASubmission.objects.create(name=f"Lead {n}", email=f"lead{n}@example.com", processed_by=teacher)
    lead = Lead.objects.create(
        email=f"lead{n}@example.com",
        name=f"Lead {n}",
        status=Lead.Status.CONVERTED,
        converted_at=now,
        import_batch=batch,
        campaign=campaign,
        cta_submission=submission,
        data={"city": "Pune"},
    )
    CrmActivity.objects.create(
        kind=CrmActivity.Kind.CTA_SUBMITTED, description="Asked to join.", submission=submission, lead=lead
    )
    CrmActivity.objects.create(
        kind=CrmActivity.Kind.NOTE, description="Called back.", submission=submission, user=student, actor=teacher
    )
    WelcomeCall.objects.create(
        student=student, assigned_to=teacher, submission=submission, scheduled_at=now + dt.timedelta(days=2)
    )
    JobExecutionLog.objects.create(
        job_name="session_reminders_24h",
        status=JobExecutionLog.Status.SUCCESS,
        completed_at=now,
        duration_seconds=1.25,
        records_processed=3,
        metadata={"planned": {"email": 3}},
    )
    WorkerHeartbeat.objects.create(host=f"worker-{n}.example.com", pid=1000 + n, cluster="coursehub", tasks_done=n)
    PlanningMark.objects.create(
        rule=f"rule_{n}", planned_through=now, started_at=now, swept_through=now, runs_since_sweep=n
    )
    InboundMessage.objects.create(
        provider="meta", provider_message_id=f"wamid.IN{n}", from_address=student.phone, user=student, body="Thank you!"
    )
    ChannelPause.objects.get_or_create(
        channel="whatsapp", defaults={"reason": "Twilio 401 error 20003: Authenticate", "until": now}
    )
    WhatsAppTemplate.objects.create(
        provider="meta", name=f"session_reminder_{n}", language="en", category="utility", status="approved"
    )
    WhatsAppConsent.objects.create(address=student.phone, category="marketing", given=True, source="example form")
    DeliveryDailyCount.objects.create(day=now.date(), kind=f"kind_{n}", channel="email", rows=3, sent=3)
    SubjectHold.objects.create(subject_type="lms.livesession", subject_id=n, reason="Teacher is ill", held_by="staff")
    MessageGroup.objects.create(event=delivery.event, digest=f"g{n}", context={"title": "Python Basics"})
    Language.objects.create(code=f"t{n}", name=f"Test language {n}", locale="ta_IN")
    PhoneVerification.objects.create(user=student, phone=f"+91970000{n:04d}", code_hash="0" * 64, code_sent_at=now)
    MessageTemplate.objects.create(kind="session_24h", version=n, subject="Starts {{ day_label }}: {{ title }}")
    return {"student": student, "delivery": delivery, "payment": payment, "submission": submission}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rows():
    return make_rows(1)


def test_every_model_of_ours_is_in_the_admin():
    ours = {model for app in OUR_APPS for model in apps.get_app_config(app).get_models()}
    assert ours == set(ALL_MODELS)
    assert all(admin.site.is_registered(model) for model in ours)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_page_open(admin_client, rows, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "changelist"), {"q": "example"}).status_code == 200
    obj = model.objects.order_by("pk").last()
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", ADDABLE, ids=lambda model: model.__name__)
def test_add_page_opens_where_staff_may_add(admin_client, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", NOT_ADDABLE, ids=lambda model: model.__name__)
def test_add_page_refused_for_rows_written_by_services(admin_client, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_list_page_makes_no_query_per_row(admin_client, model):
    make_rows(1)
    url = admin_url(model, "changelist")
    admin_client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    for n in range(2, 6):
        make_rows(n)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    assert len(many) == len(few), [query["sql"] for query in many.captured_queries]


@pytest.mark.parametrize(
    ("model", "query"),
    [
        (Delivery, {"status": "failed", "channel": "email", "kind": "session_24h"}),
        (Delivery, {"q": "student1@example.com"}),
        (Delivery, {"recipient__id__exact": "1"}),
        (Notification, {"read": "unread", "kind": "session_24h"}),
        (Notification, {"read": "read", "q": "student1"}),
        (Suppression, {"channel": "email", "category": "", "reason": "bounced"}),
        (Lead, {"status": "converted", "follow_up_day3_sent__exact": "0"}),
        (CTASubmission, {"status": "pending"}),
        (JobExecutionLog, {"job_name": "session_reminders_24h", "status": "success"}),
        (Course, {"o": "5"}),  # sorted by enrollment count
    ],
)
def test_filters_and_searches_work(admin_client, rows, model, query):
    # An unknown or disallowed lookup would redirect to "?e=1" (302) instead.
    assert admin_client.get(admin_url(model, "changelist"), query).status_code == 200


def test_delivery_page_shows_what_was_sent_its_context_and_history(admin_client, rows):
    delivery = rows["delivery"]
    page = admin_client.get(admin_url(Delivery, "change", delivery.pk)).content.decode()
    assert "Starts tomorrow: Session 1" in page
    assert "your session starts tomorrow." in page
    assert "&quot;first_name&quot;: &quot;Student&quot;" in page  # pretty-printed JSON, escaped
    assert "Recipient refused." in page
    assert "History" in page
    assert 'name="_save"' not in page  # nothing to save: ledger rows are not edited by hand


def test_nobody_edits_a_delivery_by_posting_its_form(admin_client, rows):
    delivery = rows["delivery"]
    response = admin_client.post(admin_url(Delivery, "change", delivery.pk), {"to_address": "evil@example.com"})
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.to_address == "student1@example.com"


def test_course_list_shows_enrollment_count_and_price_with_currency(admin_client, rows):
    page = admin_client.get(admin_url(Course, "changelist")).content.decode()
    assert "₹4,999" in page
    assert '<td class="field-enrollment_count">1</td>' in page
    page = admin_client.get(admin_url(Payment, "changelist")).content.decode()
    assert "₹1,00,000" in page


def staff(*codenames: str) -> User:
    user = User.objects.create_user(email=f"staff-{'-'.join(codenames) or 'none'}@example.com", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="notifications", codename__in=codenames)
    )
    return user


def post_action(client, action: str, *deliveries: Delivery):
    return client.post(
        admin_url(Delivery, "changelist"),
        {"action": action, "_selected_action": [delivery.pk for delivery in deliveries], "index": "0"},
        follow=True,
    )


def test_staff_with_change_permission_requeues_failed_deliveries(client, rows):
    failed = rows["delivery"]
    sent = Delivery.objects.create_single(
        kind="session_24h",
        channel="email",
        event_key="other",
        to_address="other@example.com",
        status=Delivery.Status.SENT,
    )
    client.force_login(staff("view_delivery", "change_delivery"))
    response = post_action(client, "requeue", failed, sent)
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == (Delivery.Status.PENDING, 0)
    assert sent.status == Delivery.Status.SENT
    assert failed.events.filter(status=Delivery.Status.PENDING, detail__contains="staff-view_delivery").exists()
    assert "1 delivery requeued; 1 of the 2 selected were not failed" in response.content.decode()


def test_staff_without_change_permission_cannot_requeue_even_by_forging_the_post(client, rows):
    failed = rows["delivery"]
    client.force_login(staff("view_delivery"))
    page = client.get(admin_url(Delivery, "changelist")).content.decode()
    assert "requeue" not in page  # the action is not offered
    response = post_action(client, "requeue", failed)
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.FAILED
    assert not failed.events.filter(status=Delivery.Status.PENDING).exists()


def test_staff_settle_unknown_deliveries(admin_client, rows):
    unknown = rows["delivery"]
    Delivery.objects.filter(pk=unknown.pk).update(status=Delivery.Status.UNKNOWN)
    response = post_action(admin_client, "mark_unknown_sent", unknown)
    assert "1 delivery marked sent." in response.content.decode()
    unknown.refresh_from_db()
    assert unknown.status == Delivery.Status.SENT
    assert unknown.sent_at is not None


def test_staff_add_a_user_who_logs_in_with_email(admin_client):
    response = admin_client.post(
        admin_url(User, "add"),
        {
            "email": "New.Student@Example.com",
            "name": "New Student",
            "role": "student",
            "usable_password": "true",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.student@example.com")
    assert user.check_password("a-long-unusual-passphrase-42")


def test_staff_cannot_add_a_second_user_with_the_same_email_in_other_case(admin_client, rows):
    response = admin_client.post(
        admin_url(User, "add"),
        {"email": "STUDENT1@example.com", "role": "student", "usable_password": "false"},
    )
    assert response.status_code == 200
    assert "A user with this email address already exists." in response.content.decode()


def form_data(client, url: str, **changes) -> dict:
    """Return what the browser would post back from the change page at `url`, with `changes`."""
    context = client.get(url).context
    form = context["adminform"].form
    data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
    for inline in context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {management.add_prefix(name): value for name, value in management.initial.items()}
    return {name: value for name, value in (data | changes).items() if value is not False}


def test_staff_edit_a_user(admin_client, rows):
    student = rows["student"]
    url = admin_url(User, "change", student.pk)
    data = form_data(admin_client, url, name="Renamed", phone="098765 43210", timezone="Europe/London")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    student.refresh_from_db()
    assert (student.name, student.phone, student.timezone) == ("Renamed", "+919876543210", "Europe/London")


def test_staff_add_a_suppression_stored_as_the_dispatcher_compares_it(admin_client):
    for channel, typed, stored in [
        ("email", " Someone@Example.COM ", "someone@example.com"),
        ("whatsapp", "098765 43210", "+919876543210"),
    ]:
        response = admin_client.post(
            admin_url(Suppression, "add"), {"channel": channel, "address": typed, "category": "", "reason": "manual"}
        )
        assert response.status_code == 302
        assert Suppression.objects.filter(channel=channel, address=stored).exists()


def test_staff_mark_a_payment_paid(admin_client, rows):
    payment = rows["payment"]
    admin_client.post(
        admin_url(Payment, "changelist"), {"action": "mark_paid", "_selected_action": [payment.pk], "index": "0"}
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert payment.paid_at is not None


def test_cta_submission_page_shows_its_crm_timeline(admin_client, rows):
    page = admin_client.get(admin_url(CTASubmission, "change", rows["submission"].pk)).content.decode()
    assert "CRM timeline" in page
    assert "Asked to join." in page
    assert "Called back." in page
