from django.urls import path

from . import views

app_name = "lms"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("assignments/<int:pk>/", views.assignment_detail, name="assignment"),
]
