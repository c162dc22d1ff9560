"""The message kinds leads sends (templates in templates/notifications/<name>/)."""

import datetime as dt

from django.conf import settings

from common.formatting import format_when, reader_locale
from lms import accounts
from notifications.api import Category, Channel, Topic, language_of
from notifications.kinds import INAPP, MessageKind, register

from . import calendar, links, optouts


def offer_end_words(context: dict) -> dict:
    """When the Day 7 offer ends, in the reader's language and region (leads have no zone of their
    own: the site's); rows planned before kept the English words they were planned with."""
    if not context.get("offer_ends_at"):
        return {}
    locale = reader_locale(language=language_of(context), locale=settings.DEFAULT_LOCALE)
    ends = dt.datetime.fromisoformat(context["offer_ends_at"])
    return {"offer_ends": format_when(ends, tz=settings.TIME_ZONE, locale=locale)}


CAMPAIGN_VARIABLES = {"cta_url": "The form to tell us what they want to learn (a signed link, made when sent)."}

LEAD_DAY0 = register(
    MessageKind(
        name="lead_day0",
        variables=CAMPAIGN_VARIABLES,
        category=Category.MARKETING,
        topic=Topic.MARKETING,
        channels=(Channel.EMAIL, Channel.WHATSAPP),
        # WhatsApp only to numbers with marketing consent (a lead's, recorded by staff or a form).
        whatsapp_variables=("first_name", "cta_url"),
        still_wanted=optouts.unwanted_lead_emails,
        render_context=links.campaign_links,
        access_links=("cta_url",),
        description="Day 0: the first call-to-action email after an import.",
    )
)
LEAD_DAY3 = register(
    MessageKind(
        name="lead_day3",
        variables=CAMPAIGN_VARIABLES,
        category=Category.MARKETING,
        topic=Topic.MARKETING,
        channels=(Channel.EMAIL, Channel.WHATSAPP),
        # WhatsApp only to numbers with marketing consent (a lead's, recorded by staff or a form).
        whatsapp_variables=("first_name", "cta_url"),
        still_wanted=optouts.unwanted_lead_emails,
        render_context=links.campaign_links,
        access_links=("cta_url",),
        description="Day 3: “Still interested?”",
    )
)
LEAD_DAY7 = register(
    MessageKind(
        name="lead_day7",
        variables={
            **CAMPAIGN_VARIABLES,
            "offer_discount": "The offer's discount in percent (a number).",
            "offer_resources": "What else the offer includes (a list: {% for item in offer_resources %}).",
            "offer_ends": "When the offer ends.",
        },
        samples={"offer_discount": 20, "offer_resources": ["A free workbook", "A 1:1 mentor call"]},
        category=Category.MARKETING,
        topic=Topic.MARKETING,
        channels=(Channel.EMAIL, Channel.WHATSAPP),
        # WhatsApp only to numbers with marketing consent (a lead's, recorded by staff or a form).
        whatsapp_variables=("first_name", "cta_url"),
        still_wanted=optouts.unwanted_lead_emails,
        render_context=links.campaign_links,
        display_context=offer_end_words,
        access_links=("cta_url",),
        description="Day 7: the final offer.",
    )
)
WELCOME = register(
    MessageKind(
        name="welcome",
        variables={
            "email": "The new student's login email.",
            "set_password_url": "The one-time link to choose a password (made when sent).",
            "link_expires": "When that link expires.",
            "login_url": "The login page.",
            "call_when": "When the welcome call is (empty without one).",
            "call_with": "Who will call (empty without a call).",
            "profile_url": "The student's profile page.",
            "courses_url": "The student's courses page.",
            "dashboard_url": "The student's dashboard.",
        },
        samples={"email": "asha@example.com", "call_when": "", "call_with": ""},
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL, Channel.WHATSAPP, INAPP),
        whatsapp_variables=("first_name", "login_url"),
        attachments=calendar.welcome_call_attachments,
        render_context=accounts.set_password_links,
        display_context=links.student_page_links,
        access_links=("set_password_url",),
        description="Welcome Aboard: a set-password link after staff approve a CTA submission.",
    )
)
CTA_APPROVED_STAFF = register(
    MessageKind(
        name="cta_approved_staff",
        variables={
            "student_name": "The approved student's name.",
            "student_email": "The approved student's email.",
            "summary": "What the onboarding did (a list of sentences).",
            "admin_url": "The submission in the admin.",
        },
        samples={"summary": ["Account created.", "Welcome email queued."]},
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL, INAPP),
        description="Tells the approving staff member what the onboarding did.",
    )
)
CTA_REJECTED = register(
    MessageKind(
        name="cta_rejected",
        variables={"reason": "Why, as staff wrote it (may be empty)."},
        category=Category.TRANSACTIONAL,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL,),
        description="A polite note when staff reject a CTA submission.",
    )
)
