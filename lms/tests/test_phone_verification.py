"""A number joins an account only once its owner proves it: typing someone else's number changes nothing of theirs."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from lms.models import PhoneVerification, User
from lms.tests.factories import StaffUserFactory, UserFactory
from notifications.models import Delivery, InboundMessage, WhatsAppConsent
from notifications.services.consent import record_whatsapp_consent
from tests.fake_graph import APP_SECRET, inbound_text, signed, webhook

pytestmark = pytest.mark.django_db
PROFILE, PHONE_CODE = reverse("lms:profile"), reverse("lms:phone_code")
VICTIM_NUMBER = "+919811122233"


@pytest.fixture
def victim():
    """A student whose number is on her account, with WhatsApp consent on record."""
    user = UserFactory(email="victim@example.com", phone=VICTIM_NUMBER, whatsapp_opt_in=True)
    record_whatsapp_consent(address=VICTIM_NUMBER, category="utility", given=True, source="CTA form", user=user)
    return user


@pytest.fixture
def meera(client):
    user = UserFactory(name="Meera Phone", email="meera@example.com", phone="", whatsapp_opt_in=False)
    client.force_login(user)
    return user


def profile_form(**changes) -> dict:
    return {"name": "Meera Phone", "phone": "", "timezone": "Asia/Kolkata", "language": "en", **changes}


def post_profile(client, django_capture_on_commit_callbacks, **changes):
    with django_capture_on_commit_callbacks(execute=True):  # the code leaves right after commit
        return client.post(PROFILE, profile_form(**changes), follow=True)


def code_sent_to(whatsapp_sent, number: str) -> str:
    """The code in the last WhatsApp message to `number`."""
    body = [message for message in whatsapp_sent if message.to == number][-1].body
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_typing_someone_elses_number_flips_nothing_of_theirs(
    client, meera, victim, whatsapp_sent, django_capture_on_commit_callbacks
):
    # Unticked: before, every account with the number lost its WhatsApp consent.
    page = post_profile(client, django_capture_on_commit_callbacks, phone=VICTIM_NUMBER).content.decode()
    victim.refresh_from_db()
    meera.refresh_from_db()
    assert victim.whatsapp_opt_in is True and victim.phone == VICTIM_NUMBER
    assert WhatsAppConsent.objects.get(address=VICTIM_NUMBER, category="utility").given is True
    assert (meera.phone, meera.whatsapp_opt_in) == ("", False)  # not hers until she enters the code
    assert 'data-testid="phone-code"' in page and "<strong>+919811122233</strong> on WhatsApp" in page
    # The only thing that reached the number: a code the victim can ignore.
    assert [message.kind for message in whatsapp_sent if message.to == VICTIM_NUMBER] == ["phone_code"]

    # Ticked, for a victim who had said no: still nothing of hers changes.
    User.objects.filter(pk=victim.pk).update(whatsapp_opt_in=False)
    post_profile(client, django_capture_on_commit_callbacks, phone="+919811122234")
    post_profile(client, django_capture_on_commit_callbacks, phone=VICTIM_NUMBER, whatsapp_opt_in="on")
    victim.refresh_from_db()
    assert victim.whatsapp_opt_in is False


def test_a_new_number_joins_the_account_with_the_code_sent_to_it_once(
    client, meera, whatsapp_sent, django_capture_on_commit_callbacks
):
    post_profile(client, django_capture_on_commit_callbacks, phone="098765 43210", whatsapp_opt_in="on")
    (message,) = whatsapp_sent
    assert message.to == "+919876543210" and message.kind == "phone_code"
    code = code_sent_to(whatsapp_sent, "+919876543210")

    page = client.get(PROFILE).content.decode()
    assert 'data-testid="phone-code"' in page and "+919876543210" in page

    wrong = "000000" if code != "000000" else "111111"
    page = client.post(PHONE_CODE, {"code": wrong, "action": "verify"}, follow=True).content.decode()
    assert "That is not the code we sent" in page
    meera.refresh_from_db()
    assert meera.phone == ""

    page = client.post(PHONE_CODE, {"code": f" {code[:3]} {code[3:]} ", "action": "verify"}, follow=True)
    assert "Your number +919876543210 is verified." in page.content.decode()
    meera.refresh_from_db()
    assert (meera.phone, meera.whatsapp_opt_in, meera.phone_verified_at is not None) == ("+919876543210", True, True)
    consent = WhatsAppConsent.objects.get(address="+919876543210", category="utility")
    assert (consent.given, consent.user, consent.source) == (True, meera, "profile page (number proved by code)")

    # Single use: the same code again proves nothing more.
    page = client.post(PHONE_CODE, {"code": code, "action": "verify"}, follow=True).content.decode()
    assert "No number is waiting for a code" in page


def test_the_code_is_kept_nowhere_readable_neither_in_the_ledger_nor_in_the_database(
    client, meera, whatsapp_sent, django_capture_on_commit_callbacks
):
    post_profile(client, django_capture_on_commit_callbacks, phone="+919876543210")
    code = code_sent_to(whatsapp_sent, "+919876543210")
    row = Delivery.objects.get(event__kind="phone_code")
    assert row.status == Delivery.Status.SENT
    assert code not in row.rendered_text and code not in str(row.context)
    pending = PhoneVerification.objects.get(user=meera)
    assert pending.code_hash and code not in pending.code_hash
    # Staff see the number waiting, never the code or its hash.
    client.force_login(StaffUserFactory(superuser=True))
    page = client.get(reverse("admin:lms_phoneverification_change", args=[meera.pk])).content.decode()
    assert "+919876543210" in page and pending.code_hash not in page and code not in page


def test_an_expired_code_is_refused_and_a_new_one_works(
    client, meera, whatsapp_sent, django_capture_on_commit_callbacks
):
    post_profile(client, django_capture_on_commit_callbacks, phone="+919876543210")
    old = code_sent_to(whatsapp_sent, "+919876543210")
    sent_at = PhoneVerification.objects.get(user=meera).code_sent_at
    PhoneVerification.objects.filter(user=meera).update(code_sent_at=sent_at - dt.timedelta(minutes=11))
    page = client.post(PHONE_CODE, {"code": old, "action": "verify"}, follow=True).content.decode()
    assert "This code has expired" in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(PHONE_CODE, {"action": "resend"})
    new = code_sent_to(whatsapp_sent, "+919876543210")
    client.post(PHONE_CODE, {"code": new, "action": "verify"})
    meera.refresh_from_db()
    assert meera.phone == "+919876543210"


def test_five_wrong_codes_void_the_code_even_the_right_one(
    client, meera, whatsapp_sent, django_capture_on_commit_callbacks
):
    post_profile(client, django_capture_on_commit_callbacks, phone="+919876543210")
    code = code_sent_to(whatsapp_sent, "+919876543210")
    wrong = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code][:5]
    for guess in wrong:
        client.post(PHONE_CODE, {"code": guess, "action": "verify"})
    page = client.post(PHONE_CODE, {"code": code, "action": "verify"}, follow=True).content.decode()
    assert "Too many wrong codes" in page
    meera.refresh_from_db()
    assert meera.phone == ""


def test_codes_to_one_number_are_limited_per_hour(client, meera, whatsapp_sent, django_capture_on_commit_callbacks):
    for _ in range(3):
        post_profile(client, django_capture_on_commit_callbacks, phone=VICTIM_NUMBER)
        post_profile(client, django_capture_on_commit_callbacks, phone="")  # start again
    page = post_profile(client, django_capture_on_commit_callbacks, phone=VICTIM_NUMBER).content.decode()
    assert "We sent this number too many codes" in page
    assert len([message for message in whatsapp_sent if message.to == VICTIM_NUMBER]) == 3


def test_cancelling_a_new_number_keeps_the_old_one_and_voids_its_code(
    client, meera, whatsapp_sent, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=meera.pk).update(phone="+919800000001", whatsapp_opt_in=True)
    post_profile(client, django_capture_on_commit_callbacks, phone="+919876543210", whatsapp_opt_in="on")
    code = code_sent_to(whatsapp_sent, "+919876543210")
    meera.refresh_from_db()
    assert (meera.phone, meera.whatsapp_opt_in) == ("+919800000001", True)  # the old one until proved
    client.post(PHONE_CODE, {"action": "cancel"})
    client.post(PHONE_CODE, {"code": code, "action": "verify"})
    meera.refresh_from_db()
    assert meera.phone == "+919800000001"


def test_consent_belongs_to_the_account_that_gave_it_even_on_a_shared_number(
    client, meera, victim, whatsapp_sent, django_capture_on_commit_callbacks
):
    # Both proved the family's phone; Meera turning WhatsApp off turns off hers, not her sister's.
    User.objects.filter(pk=meera.pk).update(phone=VICTIM_NUMBER, whatsapp_opt_in=True)
    post_profile(client, django_capture_on_commit_callbacks, phone=VICTIM_NUMBER)
    meera.refresh_from_db()
    victim.refresh_from_db()
    assert (meera.whatsapp_opt_in, victim.whatsapp_opt_in) == (False, True)


# --- Replies from a number --------------------------------------------------------------------


def post_reply(client, number: str, text: str, message_id: str):
    body, signature = signed(webhook(inbound_text(number, text, message_id=message_id)), APP_SECRET)
    return client.post(
        "/webhooks/meta/whatsapp/", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def test_a_reply_from_a_number_two_accounts_have_is_filed_on_neither_with_a_note_for_staff(client, graph, victim):
    other = UserFactory(email="other@example.com", phone=VICTIM_NUMBER, whatsapp_opt_in=True)
    assert post_reply(client, VICTIM_NUMBER, "Is there a class on Sunday?", "wamid.A").status_code == 200
    assert post_reply(client, VICTIM_NUMBER, "STOP", "wamid.B").status_code == 200

    replies = InboundMessage.objects.order_by("received_at", "id")
    assert [(reply.body, reply.user) for reply in replies] == [("Is there a class on Sunday?", None), ("STOP", None)]
    assert all("two accounts have this number" in reply.staff_note for reply in replies)
    # The STOP stops messages to the number, but neither account's own consent changes.
    victim.refresh_from_db()
    other.refresh_from_db()
    assert (victim.whatsapp_opt_in, other.whatsapp_opt_in) == (True, True)

    # Staff read the note where they read replies.
    client.force_login(StaffUserFactory(superuser=True))
    page = client.get(reverse("admin:notifications_inboundmessage_changelist")).content.decode()
    assert "Not filed on an account: two accounts have this number." in page


def test_a_reply_from_a_number_one_account_has_is_filed_on_it(client, graph, victim):
    post_reply(client, VICTIM_NUMBER, "STOP", "wamid.C")
    reply = InboundMessage.objects.get()
    assert (reply.user, reply.staff_note) == (victim, "")
    victim.refresh_from_db()
    assert victim.whatsapp_opt_in is False


def test_saving_the_profile_again_while_a_number_waits_keeps_it_and_sends_no_second_code(
    client, meera, whatsapp_sent, django_capture_on_commit_callbacks
):
    post_profile(client, django_capture_on_commit_callbacks, phone="+919876543210")
    page = client.get(PROFILE).content.decode()
    assert 'name="phone" value="+919876543210"' in page  # the form shows the number waiting for its code
    post_profile(client, django_capture_on_commit_callbacks, phone="+919876543210", whatsapp_opt_in="on")
    assert len(whatsapp_sent) == 1
    client.post(PHONE_CODE, {"code": code_sent_to(whatsapp_sent, "+919876543210"), "action": "verify"})
    meera.refresh_from_db()
    assert (meera.phone, meera.whatsapp_opt_in) == ("+919876543210", True)


def test_a_hindi_student_verifies_her_number_in_hindi(client, whatsapp_sent, django_capture_on_commit_callbacks):
    priya = UserFactory(name="Priya", email="priya@example.com", phone="", language="hi")
    client.force_login(priya)
    post_profile(client, django_capture_on_commit_callbacks, name="Priya", language="hi", phone="+919876543210")
    assert "आपका CourseHub कोड है" in whatsapp_sent[-1].body
    page = client.get(PROFILE).content.decode()
    assert "अपना नया नंबर सत्यापित करें" in page and "नंबर सत्यापित करें" in page and "नया कोड भेजें" in page
    wrong = client.post(PHONE_CODE, {"code": "12", "action": "verify"}, follow=True).content.decode()
    assert "यह वह कोड नहीं है जो हमने भेजा था" in wrong
    done = client.post(
        PHONE_CODE, {"code": code_sent_to(whatsapp_sent, "+919876543210"), "action": "verify"}, follow=True
    )
    assert "आपका नंबर +919876543210 सत्यापित हो गया है।" in done.content.decode()
