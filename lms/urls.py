from django.urls import path

from . import views

app_name = "lms"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("courses/", views.my_courses, name="courses"),
    path("profile/", views.profile, name="profile"),
    path("profile/phone/", views.phone_code, name="phone_code"),
    path("assignments/<int:pk>/", views.assignment_detail, name="assignment"),
]
