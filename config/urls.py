from django.contrib import admin
from django.urls import include, path

from automation.views import jobs_dashboard

admin.site.site_header = "CourseHub administration"
admin.site.site_title = "CourseHub admin"
admin.site.index_title = "Messages, courses and leads"

urlpatterns = [
    path("admin/automation/jobs/", admin.site.admin_view(jobs_dashboard), name="automation_jobs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("anymail/", include("anymail.urls")),  # /anymail/<esp>/tracking/
    path("", include("notifications.urls")),
    path("", include("leads.urls")),
    path("", include("lms.urls")),
]
