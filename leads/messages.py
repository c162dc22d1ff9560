"""The message kinds leads sends (templates in templates/notifications/<name>/)."""

from notifications.kinds import INAPP, MessageKind, register
from notifications.models import Category, Channel, Topic

LEAD_DAY0 = register(
    MessageKind(
        name="lead_day0",
        category=Category.MARKETING,
        topic=Topic.MARKETING,
        channels=(Channel.EMAIL,),
        still_wanted="leads.campaigns.unwanted_lead_emails",
        render_context="leads.campaigns.campaign_links",
        description="Day 0: the first call-to-action email after an import.",
    )
)
LEAD_DAY3 = register(
    MessageKind(
        name="lead_day3",
        category=Category.MARKETING,
        topic=Topic.MARKETING,
        channels=(Channel.EMAIL,),
        still_wanted="leads.campaigns.unwanted_lead_emails",
        render_context="leads.campaigns.campaign_links",
        description="Day 3: “Still interested?”",
    )
)
LEAD_DAY7 = register(
    MessageKind(
        name="lead_day7",
        category=Category.MARKETING,
        topic=Topic.MARKETING,
        channels=(Channel.EMAIL,),
        still_wanted="leads.campaigns.unwanted_lead_emails",
        render_context="leads.campaigns.campaign_links",
        description="Day 7: the final offer.",
    )
)
WELCOME = register(
    MessageKind(
        name="welcome",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL, Channel.WHATSAPP),
        whatsapp_variables=("first_name", "login_url"),
        attachments="leads.calendar.welcome_call_attachments",
        render_context="lms.accounts.set_password_links",
        description="Welcome Aboard: a set-password link after staff approve a CTA submission.",
    )
)
CTA_APPROVED_STAFF = register(
    MessageKind(
        name="cta_approved_staff",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL, INAPP),
        description="Tells the approving staff member what the onboarding did.",
    )
)
CTA_REJECTED = register(
    MessageKind(
        name="cta_rejected",
        category=Category.TRANSACTIONAL,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL,),
        description="A polite note when staff reject a CTA submission.",
    )
)
