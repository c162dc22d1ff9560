"""The message kinds notifications sends itself: confirmations of WhatsApp keywords."""

from .kinds import MessageKind, register
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
