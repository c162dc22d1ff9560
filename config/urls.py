from django.contrib import admin
from django.urls import include, path

from automation import console, ops_views
from automation.views import jobs_dashboard
from lms import account_views
from notifications.webhooks import email as email_webhook

admin.site.site_header = "CourseHub administration"
admin.site.site_title = "CourseHub admin"
admin.site.index_title = "Messages, courses and leads"

urlpatterns = [
    path("admin/automation/jobs/", admin.site.admin_view(jobs_dashboard), name="automation_jobs"),
    path("admin/console/", admin.site.admin_view(console.dashboard), name="automation_dashboard"),
    path("admin/console/outbox/", admin.site.admin_view(console.outbox), name="automation_outbox"),
    path("admin/console/charts.css", console.charts_css, name="console_charts_css"),
    path("admin/", admin.site.urls),
    # For load balancers and Prometheus (automation/ops_views.py): health anonymous, metrics with a token.
    path("health/", ops_views.health, name="health"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("accounts/set-password/<str:uidb64>/<str:token>/", account_views.set_password_view, name="set_password"),
    path("accounts/set-password/new-link/", account_views.new_link_view, name="set_password_new_link"),
    # The emailed link: its token after "#", never in a request line (account_views.set_password_start_view).
    path("accounts/set-password/<str:uidb64>/", account_views.set_password_start_view, name="set_password_start"),
    # Reset links go through the ledger like every other message; Django's view would send directly.
    path("accounts/password_reset/", account_views.password_reset_view, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    # Only the configured provider's tracking webhook, and only with its secret (notifications/webhooks/email.py).
    path("anymail/<slug:esp>/tracking/", email_webhook.email_tracking_webhook, name="email_tracking_webhook"),
    path("", include("notifications.urls")),
    path("", include("leads.urls")),
    path("", include("lms.urls")),
]
