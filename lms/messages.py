"""The message kinds lms sends (templates in templates/notifications/<name>/)."""

from notifications.kinds import INAPP, MessageKind, register
from notifications.models import Category, Channel, Topic

ALL = (Channel.EMAIL, Channel.WHATSAPP, INAPP)

SESSION_24H = register(
    MessageKind(
        name="session_24h",
        topic=Topic.REMINDERS,
        channels=ALL,
        whatsapp_variables=("first_name", "title", "when", "join_url"),
        still_wanted="lms.reminders.unwanted_session_reminders",
        description="A live session starts within 24 hours.",
    )
)
SESSION_15MIN = register(
    MessageKind(
        name="session_15min",
        topic=Topic.REMINDERS,
        channels=ALL,
        whatsapp_variables=("first_name", "title", "join_url"),
        still_wanted="lms.reminders.unwanted_session_reminders",
        description="A live session starts within 15 minutes.",
    )
)
RECORDING_AVAILABLE = register(
    MessageKind(
        name="recording_available",
        topic=Topic.REMINDERS,
        channels=(Channel.EMAIL, INAPP),
        description="A session's recording can be watched.",
    )
)
ASSIGNMENT_DUE = register(
    MessageKind(
        name="assignment_due",
        topic=Topic.REMINDERS,
        channels=(Channel.EMAIL, INAPP),
        still_wanted="lms.reminders.unwanted_assignment_reminders",
        description="An assignment not yet submitted is due within 48 hours.",
    )
)
PAYMENT_REMINDER = register(
    MessageKind(
        name="payment_reminder",
        category=Category.TRANSACTIONAL,
        topic=Topic.PAYMENTS,
        channels=ALL,
        whatsapp_variables=("first_name", "amount", "payment_url"),
        still_wanted="lms.reminders.unwanted_payment_reminders",
        description="A payment has been pending for some days.",
    )
)
SET_PASSWORD_LINK = register(
    MessageKind(
        name="set_password_link",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL,),
        still_wanted="lms.accounts.unwanted_set_password_links",
        render_context="lms.accounts.set_password_links",
        description="A link to choose a password, asked for on the forgot-password or expired-link page.",
    )
)
