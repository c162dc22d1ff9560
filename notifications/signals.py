"""Signals notifications sends for the apps that own people: they update their own records."""

from django.dispatch import Signal

# A person changed their WhatsApp consent from their phone (STOP or START): kwargs `address`
# (E.164), `given` (bool) and `at`. lms sets the matching accounts' consent.
whatsapp_consent_changed = Signal()
