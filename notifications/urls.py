from django.urls import path

from . import views
from .channels.whatsapp.status_callback import twilio_status_callback

app_name = "notifications"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("webhooks/twilio/status/", twilio_status_callback, name="twilio_status"),
]
