"""The message kinds notifications sends itself: confirmations of WhatsApp keywords, the digest."""

from .kinds import CRITICAL, INAPP, MessageKind, register
from .models import Category, Channel, Topic


def _confirmation(name: str, description: str) -> MessageKind:
    """Register a free-form WhatsApp reply confirming what the person just asked for."""
    return register(
        MessageKind(
            name=name,
            category=Category.ACCOUNT,
            topic=Topic.ACCOUNT,
            channels=(Channel.WHATSAPP,),
            reply=True,
            description=description,
        )
    )


WHATSAPP_STOPPED = _confirmation(
    "whatsapp_stopped", "Confirms a STOP sent on WhatsApp: no more WhatsApp messages to that number."
)
WHATSAPP_STARTED = _confirmation("whatsapp_started", "Confirms a START sent on WhatsApp: WhatsApp messages resume.")
WHATSAPP_MARKETING_STOPPED = _confirmation(
    "whatsapp_marketing_stopped",
    "Confirms a “Stop promotions” on WhatsApp: no more offers there; reminders go on.",
)
WHATSAPP_MARKETING_STARTED = _confirmation(
    "whatsapp_marketing_started", "Confirms that offers on WhatsApp resume for the number."
)

# The attention budget's digest (services/digest.py): at the student's hour, so never held or capped.
ATTENTION_DIGEST = register(
    MessageKind(
        name="attention_digest",
        category=Category.TRANSACTIONAL,
        topic=Topic.REMINDERS,
        channels=(Channel.EMAIL, INAPP),
        urgency=CRITICAL,
        variables={
            "summary": "What the digest holds, in the reader's language (e.g. 2 new recordings, 1 payment pending).",
            "items": "Each message: {% for item in items %}{{ item.title }} {{ item.url }} {{ item.due }}{% endfor %}"
            " (item.due: when an assignment is due, in the reader's words: due Friday; empty for others).",
            "count": "How many messages it holds (a number).",
            "digest_url": "The student's notifications page.",
        },
        samples={
            "summary": "2 new recordings, 1 assignment due, 1 payment pending",
            "items": [
                {"title": "Recording Available: Python Basics", "url": "https://example.com/notifications/"},
                {
                    "title": "Assignment Due Soon: Week 2",
                    "url": "https://example.com/notifications/",
                    "due": "due Friday",
                },
            ],
            "count": 2,
        },
        description="Once a day at the student's hour: the messages folded past their daily cap, summed up.",
    )
)

# The digest on WhatsApp (services/digest.py): planned beside the email and in-app digest only for a
# reader whose language has an approved WhatsApp template for it (whatsapp_templates.
# has_approved_template); WhatsApp allows no free-form message outside the 24-hour window.
ATTENTION_DIGEST_WHATSAPP = register(
    MessageKind(
        name="attention_digest_whatsapp",
        category=Category.TRANSACTIONAL,
        topic=Topic.REMINDERS,
        channels=(Channel.WHATSAPP,),
        urgency=CRITICAL,
        whatsapp_variables=("first_name", "summary", "digest_url"),
        variables={
            "summary": "What the digest holds, in the reader's language (e.g. 2 new recordings, 1 payment pending).",
            "digest_url": "The student's notifications page.",
        },
        samples={"summary": "2 new recordings, 1 assignment due Friday, 1 payment pending"},
        description="The daily digest on WhatsApp, only to readers whose language has an approved template for it.",
    )
)
