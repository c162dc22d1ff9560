from django.urls import path

from . import attention_views, views
from .webhooks.meta_whatsapp import meta_whatsapp_webhook
from .webhooks.twilio_inbound import twilio_inbound_message
from .webhooks.twilio_status import twilio_status_callback

app_name = "notifications"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("webhooks/twilio/status/", twilio_status_callback, name="twilio_status"),
    path("webhooks/twilio/inbound/", twilio_inbound_message, name="twilio_inbound"),
    # Meta's WhatsApp Cloud API: the handshake (GET), status updates and inbound messages (POST).
    path("webhooks/meta/whatsapp/", meta_whatsapp_webhook, name="meta_whatsapp"),
    path("notifications/", views.notification_list, name="list"),
    path("notifications/<int:pk>/open/", views.notification_open, name="open"),
    path("notifications/read-all/", views.notification_mark_all_read, name="mark_all_read"),
    # The email footer links here (templates/notifications/base_email.html).
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/attention/", attention_views.attention_preferences, name="attention"),
]
