"""What lms hears from notifications: WhatsApp consent changed for a number (STOP or START, staff, a page)."""

from django.dispatch import receiver

from notifications.api import account_for_number, whatsapp_consent_changed

from .models import User


@receiver(whatsapp_consent_changed, dispatch_uid="lms.whatsapp_consent_changed")
def record_whatsapp_consent(sender, *, address: str, given: bool, at, **kwargs) -> None:
    """The one account with that number follows (same transaction); with two or more, none does.

    Consent belongs to the account that gave it: pages set their own account's flag, and a number
    several accounts have changes none of them (its STOP still stops every message to it).
    """
    user, _ = account_for_number(address)
    if user is not None:
        User.objects.filter(pk=user.pk).exclude(whatsapp_opt_in=given).update(whatsapp_opt_in=given)
