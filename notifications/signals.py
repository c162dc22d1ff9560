"""Signals notifications sends for the apps that own people: they update their own records."""

from django.dispatch import Signal

# A person changed their WhatsApp consent from their phone (STOP or START): kwargs `address`
# (E.164), `given` (bool) and `at`. lms sets the matching accounts' consent.
whatsapp_consent_changed = Signal()

# A provider's receipt moved a delivery on (delivered, read, failed, bounced...): kwargs `change`
# (a DeliveryChange: id, kind, event key, subject, recipient, channel, status) and `at`. Sent in the
# webhook's transaction, once per change; lms's reach ladder escalates a failed step at once.
delivery_status_changed = Signal()
