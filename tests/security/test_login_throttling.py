"""Login throttling (django-axes): guessing a password through the real login pages stops working after a few tries."""

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.utils import timezone

from lms.tests.factories import TEST_PASSWORD, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db
STUDENT_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "198.51.100.7"


def log_in(client, url, email, password, address=ATTACKER, **headers):
    return client.post(url, {"username": email, "password": password}, REMOTE_ADDR=address, **headers)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def guess_wrong(client, url, email, times, **kwargs):
    for attempt in range(times):
        response = log_in(client, url, email, f"wrong-guess-{attempt}", **kwargs)
        assert not logged_in(client)
    return response


@pytest.fixture
def student():
    return UserFactory(email="meera@example.com")


@pytest.fixture
def limit(settings):
    return settings.AXES_FAILURE_LIMIT


def test_the_limit_is_a_few_failures_and_the_cool_off_some_minutes(settings):
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10
    assert dt.timedelta(minutes=5) <= settings.AXES_COOLOFF_TIME


def test_the_right_password_works_after_fewer_failures_than_the_limit(client, student, limit):
    guess_wrong(client, STUDENT_LOGIN, student.email, limit - 1)
    response = log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_student_login_refuses_the_right_password_after_the_limit_and_says_why(client, student, limit):
    guess_wrong(client, STUDENT_LOGIN, student.email, limit)

    response = log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD)

    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Too many failed attempts" in page and "locked" in page
    assert 'name="password"' in page  # the login page itself, with the message on it
    assert "Please enter a correct" not in page


def test_two_hundred_guesses_never_get_in(client, student):
    for attempt in range(200):
        log_in(client, STUDENT_LOGIN, student.email, f"guess-{attempt}")
    log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD)
    assert not logged_in(client)


def test_admin_login_refuses_the_right_password_after_the_limit(client, limit):
    admin = StaffUserFactory(email="root@school.example", superuser=True)
    guess_wrong(client, ADMIN_LOGIN, admin.email, limit)

    response = log_in(client, ADMIN_LOGIN, admin.email, TEST_PASSWORD)

    assert response.status_code == 429
    assert not logged_in(client)
    assert "Too many failed attempts" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_the_email_in_another_case_counts_against_the_same_lock(client, student, limit):
    for attempt in range(limit):
        log_in(client, STUDENT_LOGIN, f"  {student.email.upper()} " if attempt % 2 else student.email, "wrong")
    log_in(client, STUDENT_LOGIN, student.email.capitalize(), TEST_PASSWORD)
    assert not logged_in(client)


def test_the_lock_is_for_that_account_from_that_address_only(client, student, limit):
    other = UserFactory(email="kabir@example.com")
    guess_wrong(client, STUDENT_LOGIN, student.email, limit)

    log_in(client, STUDENT_LOGIN, other.email, TEST_PASSWORD)
    assert logged_in(client)
    client.logout()
    log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD, address="203.0.113.50")
    assert logged_in(client)


def test_the_right_password_works_again_after_the_cool_off(client, student, limit, settings):
    guess_wrong(client, STUDENT_LOGIN, student.email, limit)
    start = timezone.now()

    with time_machine.travel(start + settings.AXES_COOLOFF_TIME - dt.timedelta(minutes=1), tick=False):
        log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD)
        assert not logged_in(client)
    # A try during the lock starts the cool-off again.
    with time_machine.travel(start + 2 * settings.AXES_COOLOFF_TIME, tick=False):
        response = log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD)
        assert response.status_code == 302 and logged_in(client)


def admin_client(client, *codenames):
    staff = StaffUserFactory(email="desk@school.example")
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="axes", codename__in=codenames))
    client.force_login(staff)
    return client


def test_staff_lift_a_lockout_in_the_admin_and_the_student_logs_in(client, django_user_model, student, limit):
    from django.test import Client

    attacker = Client()
    guess_wrong(attacker, STUDENT_LOGIN, student.email, limit)
    log_in(attacker, STUDENT_LOGIN, student.email, TEST_PASSWORD)
    assert not logged_in(attacker)

    staff = admin_client(client, "view_accessattempt", "delete_accessattempt")
    changelist = staff.get("/admin/axes/accessattempt/?locked_out=yes")
    assert changelist.status_code == 200
    attempt = AccessAttempt.objects.get(username=student.email)
    assert student.email in changelist.content.decode()
    confirm = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert confirm.status_code == 302
    assert not AccessAttempt.objects.exists()

    log_in(attacker, STUDENT_LOGIN, student.email, TEST_PASSWORD)
    assert logged_in(attacker)


def test_staff_without_the_permission_cannot_lift_a_lockout(client, student, limit):
    guess_wrong(client, STUDENT_LOGIN, student.email, limit)
    attempt = AccessAttempt.objects.get()
    staff = admin_client(client, "view_accessattempt")

    staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert staff.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def behind_one_proxy(settings):
    """As config/settings.py sets it for TRUSTED_PROXY_COUNT=1."""
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 0


def test_behind_a_proxy_a_forged_forwarded_for_does_not_escape_the_lock(client, student, limit, settings):
    behind_one_proxy(settings)
    proxy = "10.0.0.2"
    for attempt in range(limit):
        # The client forges the left of the header; the proxy appends the address it saw.
        forged = f"192.0.2.{attempt + 1}, {ATTACKER}"
        log_in(client, STUDENT_LOGIN, student.email, "wrong", address=proxy, HTTP_X_FORWARDED_FOR=forged)
    log_in(
        client,
        STUDENT_LOGIN,
        student.email,
        TEST_PASSWORD,
        address=proxy,
        HTTP_X_FORWARDED_FOR="192.0.2.99, " + ATTACKER,
    )
    assert not logged_in(client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}

    # Another client behind the same proxy is not locked out with the attacker.
    log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert logged_in(client)


PROXY_SECRET = "a-long-random-proxy-secret"


def behind_one_proxy_with_its_secret(settings):
    """TRUSTED_PROXY_COUNT=1 and TRUSTED_PROXY_SECRET: the proxy vouches for each request with a header."""
    behind_one_proxy(settings)
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXY_SECRETS = 1, [PROXY_SECRET]


def test_reaching_the_app_without_the_proxy_a_forged_forwarded_for_does_not_escape_the_lock(
    client, student, limit, settings
):
    behind_one_proxy_with_its_secret(settings)
    # The attacker connects directly, writing a new X-Forwarded-For on each guess.
    for attempt in range(limit):
        log_in(client, STUDENT_LOGIN, student.email, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt + 1}")
    log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert not logged_in(client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    # A forged secret is no secret.
    log_in(
        client, STUDENT_LOGIN, student.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.201", HTTP_X_PROXY_SECRET="x"
    )
    assert not logged_in(client)

    # Through the proxy (its secret on the request), another client counts under its own address.
    log_in(
        client,
        STUDENT_LOGIN,
        student.email,
        TEST_PASSWORD,
        address="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_PROXY_SECRET=PROXY_SECRET,
    )
    assert logged_in(client)


def test_without_a_trusted_proxy_the_forwarded_for_header_is_ignored(client, student, limit):
    for attempt in range(limit):
        log_in(client, STUDENT_LOGIN, student.email, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt + 1}")
    log_in(client, STUDENT_LOGIN, student.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert not logged_in(client)


def test_a_mistyped_password_is_never_stored_where_staff_can_read_it(client, student):
    typo = "Almost-The-Real-Passw0rd"
    log_in(client, STUDENT_LOGIN, student.email, typo)
    log_in(client, ADMIN_LOGIN, student.email, typo)

    # One record for the account from that address, whichever login page was used.
    attempt = AccessAttempt.objects.get(username=student.email)
    stored = " ".join(str(value) for value in AccessAttempt.objects.values_list("get_data", "post_data", "http_accept"))
    assert typo not in stored
    assert attempt.failures_since_start == 2
