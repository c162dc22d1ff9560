"""The notifications page, the unread badge and the preferences page, through the test client."""

import datetime as dt
import re
from html import unescape as html_unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Channel, Delivery, Notification, NotificationPreference, Topic
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.inapp import cursor, get_unread_notification_count, notification_target

from .factories import NotificationFactory, SuppressionFactory, UserFactory
from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
LIST_URL = reverse("notifications:list")
PREFERENCES_URL = reverse("notifications:preferences")


@pytest.fixture
def asha(client):
    user = UserFactory(name="Asha Verma", phone="+919876543210", whatsapp_opt_in=True)
    client.force_login(user)
    return user


def open_url(notification) -> str:
    return reverse("notifications:open", args=[notification.pk])


def badge(response) -> str | None:
    """Return the header badge's text, or None when there is no badge."""
    html = response.content.decode()
    marker = 'data-testid="unread-badge">'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split("<", 1)[0]


# --- The list -------------------------------------------------------------------------------


def test_list_shows_only_my_notifications_newest_first_with_unread_highlighted(client, asha):
    now = timezone.now()
    NotificationFactory(user=asha, title="Older, read", created_at=now - dt.timedelta(days=2), read=True)
    NotificationFactory(user=asha, title="Newest, unread", created_at=now)
    NotificationFactory(user=UserFactory(), title="Someone else's", created_at=now)

    html = client.get(LIST_URL).content.decode()

    assert "Someone else" not in html
    assert html.index("Newest, unread") < html.index("Older, read")
    assert html.count('class="notification unread"') == 1
    assert html.count('class="notification"') == 1


def test_list_is_paginated_twenty_a_page_by_position_not_by_number(client, asha):
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(user=asha, kind="test", title=f"Notice {i:02d}", created_at=now - dt.timedelta(minutes=i))
        for i in range(45)
    )
    first = client.get(LIST_URL).content.decode()
    assert first.count('data-testid="notification"') == 20
    assert "Notice 00" in first and "Notice 20" not in first
    assert 'rel="prev"' not in first and ">Newest<" not in first

    second = client.get(LIST_URL + older_link(first)).content.decode()
    assert "Notice 20" in second and "Notice 39" in second and "Notice 19" not in second
    third = client.get(LIST_URL + older_link(second)).content.decode()
    assert third.count('data-testid="notification"') == 5
    assert "Notice 44" in third and 'rel="next"' not in third

    back = client.get(LIST_URL + link(third, "prev")).content.decode()
    assert "Notice 20" in back and "Notice 39" in back and "Notice 40" not in back
    # A notification planned meanwhile does not shift the pages already open (an offset would).
    NotificationFactory(user=asha, title="Brand new", created_at=now + dt.timedelta(minutes=1))
    assert client.get(LIST_URL + older_link(first)).content.decode().count("Notice 20") == 1
    for nonsense in ("nonsense", "1.x", "9" * 40 + ".1", ""):
        response = client.get(LIST_URL, {"older": nonsense, "newer": nonsense})
        assert response.status_code == 200 and "Brand new" in response.content.decode()


def link(html: str, rel: str) -> str:
    return html_unescape(re.search(rf'href="(\?[^"]+)" rel="{rel}"', html).group(1))


def older_link(html: str) -> str:
    return link(html, "next")


def test_visitors_are_sent_to_log_in(client):
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={LIST_URL}"


# --- Opening one ----------------------------------------------------------------------------


def test_opening_a_notification_marks_it_read_and_follows_its_meeting_link(client, asha):
    notification = NotificationFactory(user=asha, link="https://meet.example.com/python-basics")

    response = client.post(open_url(notification))

    # Another site opens from a page of ours (a form's redirect there would break the CSP's
    # form-action 'self'); the browser test follows it to the meeting.
    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="0; url=https://meet.example.com/python-basics">' in page
    assert 'href="https://meet.example.com/python-basics"' in page
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_a_link_to_our_own_site_opens_as_a_path_on_whichever_host_serves_it(client, asha, settings):
    notification = NotificationFactory(user=asha, link=f"{settings.SITE_URL}/assignments/7/")
    assert client.post(open_url(notification))["Location"] == "/assignments/7/"


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "//evil.example/phish",
        "/\\evil.example",
        "ftp://files.example/x",
        "",
    ],
)
def test_a_link_that_is_not_http_or_a_path_is_not_followed(client, asha, link):
    notification = NotificationFactory(user=asha, link=link)
    response = client.post(open_url(notification))
    assert response["Location"] == LIST_URL
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_safe_targets():
    assert notification_target(link="/notifications/") == "/notifications/"
    assert notification_target(link="http://zoom.example/j/1?pwd=x") == "http://zoom.example/j/1?pwd=x"
    assert notification_target(link=" https://pay.example.com/c/1 ") == "https://pay.example.com/c/1"
    assert notification_target(link="https://school.example") == "/"
    assert notification_target(link="mailto:help@example.com") == ""


def test_opening_someone_elses_notification_is_404_and_leaves_it_unread(client, asha):
    theirs = NotificationFactory(user=UserFactory())

    assert client.post(open_url(theirs)).status_code == 404

    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_needs_a_post_so_link_prefetchers_mark_nothing_read(client, asha):
    notification = NotificationFactory(user=asha)
    response = client.get(open_url(notification))  # a page with the button that opens it, not a blank 405
    assert response.status_code == 200 and 'data-testid="notification-page"' in response.content.decode()
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_as_read_marks_only_mine(client, asha):
    NotificationFactory.create_batch(3, user=asha)
    theirs = NotificationFactory(user=UserFactory())

    response = client.post(reverse("notifications:mark_all_read"), follow=True)

    assert "Marked 3 notifications as read." in response.content.decode()
    assert get_unread_notification_count(user=asha) == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get(reverse("notifications:mark_all_read")).status_code == 405


# --- The badge ------------------------------------------------------------------------------


def test_badge_shows_the_unread_count_on_every_page_and_disappears_at_zero(client, asha):
    first, *_ = NotificationFactory.create_batch(3, user=asha)
    NotificationFactory(user=asha, read=True)
    NotificationFactory(user=UserFactory())  # not mine

    assert badge(client.get(LIST_URL)) == "3"
    assert badge(client.get(PREFERENCES_URL)) == "3"
    client.post(open_url(first))
    assert badge(client.get(LIST_URL)) == "2"
    client.post(reverse("notifications:mark_all_read"))
    assert badge(client.get(LIST_URL)) is None


def test_badge_caps_at_99_plus(client, asha):
    Notification.objects.bulk_create(Notification(user=asha, kind="test", title="x") for _ in range(120))
    assert badge(client.get(PREFERENCES_URL)) == "99+"


def test_badge_costs_one_query_against_notifications(client, asha):
    NotificationFactory.create_batch(2, user=asha)
    with CaptureQueriesContext(connection) as queries:
        client.get(PREFERENCES_URL)
    touching = [q["sql"] for q in queries if '"notifications_notification"' in q["sql"]]
    assert len(touching) == 1
    assert "COUNT(" in touching[0].upper()


def test_visitors_get_no_badge_and_no_count_query(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("login"))
    assert badge(response) is None
    assert not [q for q in queries if '"notifications_notification"' in q["sql"]]


def test_unread_count_is_answered_from_the_partial_index(asha):
    Notification.objects.bulk_create(Notification(user=asha, kind="test", title="x") for _ in range(50))
    with CaptureQueriesContext(connection) as queries:
        get_unread_notification_count(user=asha)
    (count_sql,) = [q["sql"] for q in queries]
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Tiny test tables are cheaper to scan; make the planner show which index it would use.
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(explain + count_sql)
        plan = " ".join(str(cell) for row in cursor.fetchall() for cell in row)
    assert "notif_user_unread" in plan


def test_notifications_page_costs_a_bounded_number_of_queries_for_10000_notifications(
    client, asha, django_assert_max_num_queries
):
    now = timezone.now()
    Notification.objects.bulk_create(
        (
            Notification(
                user=asha,
                kind="session_24h",
                title=f"Starts Tomorrow: Class {i}",
                message="Your session starts tomorrow at 10:00 AM.",
                link=f"https://meet.example.com/class-{i}",
                created_at=now - dt.timedelta(minutes=i),
                read_at=now if i % 3 else None,
            )
            for i in range(10_000)
        ),
        batch_size=2000,
    )
    with django_assert_max_num_queries(4):
        first = client.get(LIST_URL)
    oldest = Notification.objects.filter(user=asha).order_by("created_at", "id")[20]
    # Session, user, the badge's count, one page of rows: no count of them all, however deep.
    with django_assert_max_num_queries(4):
        deep = client.get(LIST_URL, {"older": cursor(oldest)})
    assert first.content.decode().count('data-testid="notification"') == 20
    assert deep.content.decode().count('data-testid="notification"') == 20
    assert "Class 9999" in deep.content.decode() and 'rel="next"' not in deep.content.decode()
    assert badge(first) == "99+"


# --- Preferences ----------------------------------------------------------------------------


def preferences_form(user, **changes) -> dict:
    """The preferences form as the page shows it to `user` (everything on), with `changes`."""
    data = {f"{topic}_{channel}": "on" for topic in ("reminders", "payments", "marketing") for channel in Channel}
    data |= {"whatsapp_opt_in": "yes" if user.whatsapp_opt_in else "no", "phone": user.phone, "timezone": user.timezone}
    data |= changes
    return {key: value for key, value in data.items() if value is not None}


def test_preferences_page_shows_my_choices(client, asha):
    NotificationPreference.objects.create(user=asha, topic=Topic.MARKETING, channel=Channel.EMAIL, enabled=False)
    html = client.get(PREFERENCES_URL).content.decode()
    assert 'name="marketing_email"' in html
    assert 'name="marketing_email" id="id_marketing_email" checked' not in html
    assert 'name="reminders_email" id="id_reminders_email" checked' in html
    assert 'name="account_email"' not in html  # account messages cannot be turned off
    assert "+919876543210" in html
    assert "WhatsApp is <strong>on</strong>" in html


def test_saving_unchanged_preferences_writes_no_rows(client, asha):
    response = client.post(PREFERENCES_URL, preferences_form(asha))
    assert response.status_code == 302
    assert not NotificationPreference.objects.exists()


def test_turning_off_reminders_by_email_is_honoured_by_the_dispatcher(client, asha):
    client.post(PREFERENCES_URL, preferences_form(asha, reminders_email=None))
    assert NotificationPreference.objects.filter(
        user=asha, topic=Topic.REMINDERS, channel=Channel.EMAIL, enabled=False
    ).exists()

    plan_session_reminder(asha)
    result = dispatch_due_deliveries(now=NOW)

    email = Delivery.objects.get(recipient=asha, channel=Channel.EMAIL)
    whatsapp = Delivery.objects.get(recipient=asha, channel=Channel.WHATSAPP)
    assert (email.status, whatsapp.status) == (Delivery.Status.SUPPRESSED, Delivery.Status.SENT)
    assert result.reasons["opted_out"] == 1


def test_turning_a_topic_back_on_lets_it_through_again(client, asha):
    client.post(PREFERENCES_URL, preferences_form(asha, reminders_whatsapp=None))
    client.post(PREFERENCES_URL, preferences_form(asha))

    assert NotificationPreference.objects.get(user=asha, topic=Topic.REMINDERS, channel=Channel.WHATSAPP).enabled
    plan_session_reminder(asha)
    dispatch_due_deliveries(now=NOW)
    assert set(Delivery.objects.filter(recipient=asha).values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_whatsapp_opt_out_stops_planned_whatsapp_messages(client, asha, whatsapp_sent):
    plan_session_reminder(asha)  # planned while opted in

    response = client.post(PREFERENCES_URL, preferences_form(asha, whatsapp_opt_in="no"), follow=True)

    assert "WhatsApp is <strong>off</strong>" in response.content.decode()
    asha.refresh_from_db()
    assert asha.whatsapp_opt_in is False
    result = dispatch_due_deliveries(now=NOW)
    assert result.reasons["whatsapp_not_opted_in"] == 1
    assert whatsapp_sent == []


def test_whatsapp_opt_in_needs_a_valid_phone_which_is_stored_in_e164(client):
    user = UserFactory(phone="", whatsapp_opt_in=False)
    client.force_login(user)

    no_phone = client.post(PREFERENCES_URL, preferences_form(user, whatsapp_opt_in="yes"))
    bad_phone = client.post(PREFERENCES_URL, preferences_form(user, whatsapp_opt_in="yes", phone="12345"))
    user.refresh_from_db()
    assert (no_phone.status_code, bad_phone.status_code) == (200, 200)
    assert "Add your mobile number to get messages on WhatsApp." in no_phone.content.decode()
    assert "is not a valid phone number" in bad_phone.content.decode()
    assert (user.whatsapp_opt_in, user.phone) == (False, "")

    # A new number joins the account only with the code the profile page sends it (lms.phones).
    new = client.post(PREFERENCES_URL, preferences_form(user, whatsapp_opt_in="yes", phone="098765 43210"))
    assert "use your profile page: we send it a code first" in new.content.decode()
    user.refresh_from_db()
    assert (user.whatsapp_opt_in, user.phone) == (False, "")

    user.phone = "+919876543210"  # proved on the profile page
    user.save(update_fields=["phone"])
    good = client.post(PREFERENCES_URL, preferences_form(user, whatsapp_opt_in="yes", phone="098765 43210"))
    user.refresh_from_db()
    assert good.status_code == 302
    assert (user.whatsapp_opt_in, user.phone) == (True, "+919876543210")


def test_changing_time_zone(client, asha):
    client.post(PREFERENCES_URL, preferences_form(asha, timezone="Europe/London"))
    asha.refresh_from_db()
    assert asha.timezone == "Europe/London"
    response = client.post(PREFERENCES_URL, preferences_form(asha, timezone="Mars/Olympus_Mons"))
    assert response.status_code == 200
    asha.refresh_from_db()
    assert asha.timezone == "Europe/London"


def test_a_number_that_replied_stop_is_explained(client, asha):
    SuppressionFactory(channel=Channel.WHATSAPP, address=asha.phone, reason="opted_out")
    assert "If you replied STOP" in client.get(PREFERENCES_URL).content.decode()
