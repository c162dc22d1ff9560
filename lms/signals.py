"""What lms hears from notifications: a student's WhatsApp consent changed from their phone."""

from django.dispatch import receiver

from notifications.signals import whatsapp_consent_changed

from .models import User


@receiver(whatsapp_consent_changed, dispatch_uid="lms.whatsapp_consent_changed")
def record_whatsapp_consent(sender, *, address: str, given: bool, at, **kwargs) -> None:
    """STOP or START from a number: the accounts with that number follow (same transaction)."""
    User.objects.filter(phone=address).exclude(whatsapp_opt_in=given).update(whatsapp_opt_in=given)
