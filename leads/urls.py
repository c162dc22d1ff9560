from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("start/", views.cta, name="cta"),
]
