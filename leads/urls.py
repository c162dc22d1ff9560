from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("start/", views.cta, name="cta"),
    path("start/thanks/", views.cta_thanks, name="cta_thanks"),
]
