from django.urls import path

from . import session_views, views

app_name = "lms"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("courses/", views.my_courses, name="courses"),
    path("profile/", views.profile, name="profile"),
    path("profile/phone/", views.phone_code, name="phone_code"),
    path("assignments/<int:pk>/", views.assignment_detail, name="assignment"),
    path("sessions/<int:pk>/rsvp/", session_views.rsvp_mine, name="session_rsvp_mine"),
    path("sessions/<int:pk>/join/", session_views.join_mine, name="session_join_mine"),
    path("sessions/<int:pk>/recording/", session_views.watch_mine, name="session_watch_mine"),
    path("s/rsvp/<str:token>/<str:answer>/", session_views.rsvp_by_link, name="session_rsvp"),
    path("s/join/<str:token>/", session_views.join_by_link, name="session_join"),
    path("s/watch/<str:token>/", session_views.watch_by_link, name="session_watch"),
]
