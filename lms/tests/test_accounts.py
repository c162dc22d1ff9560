"""Set-password links: asked for anonymously, sent by the worker, never stored, single use, rate-limited."""

from importlib import import_module

import pytest
from django.contrib.auth.models import Permission
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from lms.models import User
from lms.tests.factories import StaffUserFactory, UserFactory
from lms.tests.links import LINK, open_link
from lms.tests.links import emailed_link as link_in
from notifications.models import Delivery, DeliveryEvent, Notification
from notifications.rendering import REDACTED
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.tests.test_lean_ledger_migration import back_to_latest, migrate  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def ask_for_link(client, email: str, *, ip: str = "203.0.113.7"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def run_worker():
    return dispatch_due_deliveries()


def emailed_link(message) -> str:
    return link_in(message.body)


@pytest.fixture
def student():
    return UserFactory(email="nisha@example.com", name="Nisha Rao", password=None)


def test_forgot_password_queues_a_link_the_worker_sends_and_it_sets_a_password(client, student):
    response = ask_for_link(client, "Nisha@Example.com")
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []  # the request only queues it: the worker sends

    run_worker()
    (message,) = mail.outbox
    assert message.subject == "Your link to set a password" and message.to == ["nisha@example.com"]
    assert message.body.startswith("Hi Nisha,")  # the first name, as everywhere
    link = emailed_link(message)

    opened = open_link(client, link)
    assert "Choose your password" in opened.content.decode()
    done = client.post(
        opened.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase-42", "new_password2": "a-new-long-passphrase-42"},
    )
    assert done.status_code == 302 and done["Location"] == "/"
    client.logout()
    assert client.login(username="nisha@example.com", password="a-new-long-passphrase-42")
    client.logout()
    assert "This link no longer works" in open_link(client, link).content.decode()


def test_the_token_is_in_no_request_line_and_leaves_the_address_bar_at_once(client, student):
    ask_for_link(client, student.email)
    run_worker()
    link = emailed_link(mail.outbox[0])
    path, _, token = link.partition("#")
    # The fragment never reaches the server: the request line (and the access log) holds the path only.
    assert token not in path

    page = client.get(path)
    assert page.status_code == 200 and token not in page.content.decode()
    first = client.post(path, {"link": token})
    assert first.status_code == 302
    assert token not in first["Location"] and first["Location"].endswith("/set-password/")
    page = client.get(first["Location"])
    assert page.status_code == 200 and token not in page.content.decode()
    assert "Choose your password" in page.content.decode()
    # Without the session that received the token, the token-free address is worth nothing.
    assert "This link no longer works" in Client().get(first["Location"]).content.decode()


def test_without_scripts_pasting_the_whole_link_opens_it(client, student):
    ask_for_link(client, student.email)
    run_worker()
    path, _, token = emailed_link(mail.outbox[0]).partition("#")
    page = client.get(path).content.decode()
    assert "Paste the whole link from your email here" in page
    assert client.post(path, {"link": "not the link"}).status_code == 400
    pasted = client.post(path, {"link": f" https://school.example{path}#{token} "}, follow=True)
    assert "Choose your password" in pasted.content.decode()


def test_no_column_of_the_ledger_holds_the_link_and_view_only_staff_cannot_see_it(client, student):
    superuser = User.objects.create_superuser(email="admin@example.com", password="Very-long-admin-pass-1")
    ask_for_link(client, "admin@example.com")
    run_worker()
    (message,) = mail.outbox
    token = emailed_link(message).partition("#")[2]

    delivery = Delivery.objects.get(to_address="admin@example.com")
    assert delivery.status == Delivery.Status.SENT and delivery.recipient == superuser
    for row in (*Delivery.objects.all(), *DeliveryEvent.objects.all(), *Notification.objects.all()):
        for field in row._meta.concrete_fields:
            assert token not in str(getattr(row, field.attname)), f"{type(row).__name__}.{field.name} holds it"
    assert REDACTED in delivery.rendered_text  # what was sent, with the link hidden

    viewer = StaffUserFactory(email="viewer@school.example")
    viewer.user_permissions.set(Permission.objects.filter(codename="view_delivery"))
    staff_client = Client()
    staff_client.force_login(viewer)
    page = staff_client.get(reverse("admin:notifications_delivery_change", args=[delivery.pk])).content.decode()
    assert "Your link to set a password" in page and token not in page and "set-password/" not in page


def test_a_link_waiting_in_the_ledger_is_made_when_sent_so_a_backlog_does_not_age_it(client, student, settings):
    ask_for_link(client, student.email)
    assert "set_password_url" not in Delivery.objects.get().context
    run_worker()
    assert "expires" in mail.outbox[0].body and LINK.search(mail.outbox[0].body)


def test_an_unknown_address_gets_the_same_answer_the_same_work_and_no_email(client, student):
    def ask(email: str):
        with CaptureQueriesContext(connection) as queries:
            response = ask_for_link(client, email)
        return response, len(queries)

    known, known_queries = ask(student.email)
    unknown, unknown_queries = ask("ghost@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known_queries == unknown_queries
    assert mail.outbox == []

    run_worker()
    assert [m.to for m in mail.outbox] == [[student.email]]
    ghost = Delivery.objects.get(to_address="ghost@example.com")
    assert ghost.status == Delivery.Status.CANCELLED and "no_account" in ghost.events.last().detail


def test_a_hundred_requests_for_one_address_send_one_email(client, student):
    for _ in range(100):
        # From many addresses, so only the per-address limits are tested here.
        ask_for_link(client, student.email, ip=f"198.51.100.{_ % 50}")
    run_worker()
    assert len(mail.outbox) == 1
    assert Delivery.objects.filter(event__kind="set_password_link").count() == 1


def test_one_client_asking_for_many_addresses_is_told_to_wait(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_ip": "10/h"}
    for n in range(10):
        UserFactory(email=f"s{n}@example.com")
    answers = [ask_for_link(client, f"s{n % 10}@example.com").status_code for n in range(30)]
    assert answers[:10] == [302] * 10 and set(answers[10:]) == {429}
    assert "Too many requests" in ask_for_link(client, "s1@example.com").content.decode()
    # Another client is not held back by this one.
    assert ask_for_link(client, "s1@example.com", ip="192.0.2.55").status_code == 302
    run_worker()
    assert len(mail.outbox) == 10


def test_the_new_link_page_is_limited_like_the_reset_page(client, student, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_ip": "3/h"}
    url = reverse("set_password_new_link")
    answers = [
        client.post(url, {"email": f"x{n}@example.com"}, REMOTE_ADDR="203.0.113.9").status_code for n in range(5)
    ]
    assert answers == [200, 200, 200, 429, 429]


def test_links_made_before_the_change_no_longer_work(client, student):
    class OldGenerator(PasswordResetTokenGenerator):
        key_salt = "lms.accounts.SetPasswordTokenGenerator"

    uid = urlsafe_base64_encode(force_bytes(student.pk))
    old_link = reverse("set_password", args=[uid, OldGenerator().make_token(student)])
    assert "This link no longer works" in client.get(old_link, follow=True).content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_latest")
def test_the_migration_forgets_links_the_ledger_stored():
    # The ledger as lms 0002 found it (a whole context per row): the schema before notifications 0011.
    student_id = UserFactory(email="nisha@example.com", name="Nisha Rao", password=None).pk
    old = migrate([("notifications", "0010_delivery_priority")])
    Delivery = old.get_model("notifications", "Delivery")
    student = old.get_model("lms", "User").objects.get(pk=student_id)
    link = "https://school.example/accounts/set-password/MTk4NA/diy48m-1922404c5a05592a23e9be723d45b512/"
    stored = Delivery.objects.create(
        kind="welcome",
        channel="email",
        event_key="welcome:1",
        dedupe_key="welcome:1:u1",
        recipient=student,
        to_address=student.email,
        context={"email": student.email, "set_password_url": link, "link_expires": "Mon"},
        rendered_text=f"Choose your password here:\n{link}\nThen log in.",
    )
    other = Delivery.objects.create(
        kind="session_24h",
        channel="email",
        event_key="session_24h:1",
        dedupe_key="session_24h:1:u1",
        recipient=student,
        to_address=student.email,
        context={"title": "Intro"},
        rendered_text="Hello",
    )
    migration = import_module("lms.migrations.0002_forget_stored_set_password_links")
    migration.forget_links(old, None)

    stored.refresh_from_db()
    assert stored.context == {"email": student.email, "user_id": student.pk}
    assert stored.rendered_text == f"Choose your password here:\n{REDACTED}\nThen log in."
    other.refresh_from_db()
    assert other.context == {"title": "Intro"} and other.rendered_text == "Hello"


def test_the_links_page_speaks_the_students_hindi(client, student):
    student.language = "hi"
    student.save(update_fields=["language"])
    ask_for_link(client, student.email)
    run_worker()
    path = emailed_link(mail.outbox[0]).partition("#")[0]
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "पासवर्ड चुनने के लिए अपना लिंक खोलें" in page and "आगे बढ़ें" in page
