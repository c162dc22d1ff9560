"""Every email greets its reader as the subject and WhatsApp do: by first name, in every shipped language."""

import pytest
from django.conf import settings

from notifications.kinds import all_kinds
from notifications.models import Channel
from notifications.rendering import render_email

EMAIL_KINDS = [kind for kind in all_kinds() if Channel.EMAIL in kind.channels]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EMAIL_KINDS, ids=lambda kind: kind.name)
@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_every_email_greets_by_first_name_never_the_full_name(kind, language):
    context = {**kind.sample_context(), "name": "Meera Phone", "first_name": "Meera", "language": language}
    rendered = render_email(kind=kind, context=context, delivery_id=None, preview=True)
    greeting = rendered.text.splitlines()[0]
    assert "Meera" in greeting and "Phone" not in greeting, greeting
    assert "Meera Phone" not in rendered.html, kind.name


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EMAIL_KINDS, ids=lambda kind: kind.name)
def test_an_email_to_someone_without_a_name_says_hello_to_them_all_the_same(kind):
    context = {**kind.sample_context(), "name": "", "first_name": "there"}
    greeting = render_email(kind=kind, context=context, delivery_id=None, preview=True).text.splitlines()[0]
    assert greeting == "Hi there,"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EMAIL_KINDS, ids=lambda kind: kind.name)
@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_a_subject_to_someone_without_a_name_reads_naturally(kind, language):
    """leadsops: "there, your next step with CourseHub" was a lead's first email without a name."""
    context = {**kind.sample_context(), "name": "", "first_name": "there", "language": language}
    subject = render_email(kind=kind, context=context, delivery_id=None, preview=True).subject
    assert "there" not in subject and not subject.startswith((",", " ")), subject
    if kind.name == "lead_day0" and language == "en":
        assert subject == "Your next step with CourseHub"
