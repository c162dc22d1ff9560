"""Admin for users, courses and what students are reminded about."""

from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.utils.html import format_html_join

from common.admin import ReadOnlyAdminMixin, ReadOnlyInline, changelist_link
from common.formatting import format_money
from notifications.api import render_delivery_timeline

from .models import (
    Assignment,
    Course,
    Enrollment,
    LiveSession,
    Payment,
    PhoneVerification,
    PlanningMark,
    Recording,
    Submission,
    User,
)
from .services import mark_payment_paid, publish_recording, save_session
from .session_admin import SessionPageMixin

# --- Users -----------------------------------------------------------------------------------


class EmailLoginFormMixin:
    """Email is the login: stored in lower case, unique whatever its case."""

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower()
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if email and others.exists():
            raise ValidationError("A user with this email address already exists.", code="unique")
        return email


class UserCreationForm(EmailLoginFormMixin, auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "role")


class UserChangeForm(EmailLoginFormMixin, auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class EnrollmentInline(ReadOnlyInline):
    model = Enrollment
    fields = ("course", "is_active", "enrolled_at")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("course")


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "role", "phone", "whatsapp_opt_in", "timezone", "locale", "language")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Activity", {"fields": ("related", "message_timeline", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "role", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("related", "message_timeline", "last_login", "date_joined")
    list_display = ("email", "name", "role", "phone", "whatsapp_opt_in", "is_staff", "is_active", "date_joined")
    list_filter = ("role", "is_staff", "is_superuser", "is_active", "whatsapp_opt_in", "groups")
    search_fields = ("email", "name", "phone")
    search_help_text = "Email address, name or phone number (or part of one)."
    date_hierarchy = "date_joined"
    ordering = ("email",)
    inlines = [EnrollmentInline]

    def get_inlines(self, request, obj):
        # The add page is only email, name and password; enrollments come after.
        return self.inlines if obj else []

    @admin.display(description="see also")
    def related(self, obj):
        if not obj.pk:
            return "—"
        links = [
            changelist_link("lms.enrollment", "Enrollments", student__id__exact=obj.pk),
            changelist_link("lms.payment", "Payments", student__id__exact=obj.pk),
            changelist_link("notifications.delivery", "Messages sent", recipient__id__exact=obj.pk),
            changelist_link("notifications.notification", "In-app notifications", user__id__exact=obj.pk),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="messages and bounces")
    def message_timeline(self, obj):
        if not obj.pk:
            return "—"
        return render_delivery_timeline(recipient_id=obj.pk, addresses=[obj.email.lower(), obj.phone])


# Links typed without a scheme ("zoom.us/j/1") are read as https, the only kind we send.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


# --- Courses and enrollments -----------------------------------------------------------------


def money(amount, currency) -> str:
    return format_money(amount, currency)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "price_display", "is_active", "enrollment_count", "created_at")
    list_filter = ("is_active", "currency")
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    date_hierarchy = "created_at"
    ordering = ("title",)
    fields = ("title", "slug", "description", "price", "currency", "is_active", "created_at", "enrollments_link")
    readonly_fields = ("enrollments_link",)

    def get_queryset(self, request):
        active = Count("enrollments", filter=Q(enrollments__is_active=True))
        return super().get_queryset(request).annotate(active_enrollments=active)

    @admin.display(description="price", ordering="price")
    def price_display(self, obj):
        return money(obj.price, obj.currency)

    @admin.display(description="active enrollments", ordering="active_enrollments")
    def enrollment_count(self, obj):
        return obj.active_enrollments

    @admin.display(description="enrollments")
    def enrollments_link(self, obj):
        if not obj.pk:
            return "—"
        return changelist_link("lms.enrollment", f"{obj.active_enrollments} active: see all", course__id__exact=obj.pk)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("student", "course", "is_active", "enrolled_at")
    list_filter = ("is_active", "course", "enrolled_at")
    list_select_related = ("student", "course")
    search_fields = ("student__email", "student__name", "course__title")
    search_help_text = "Student's email or name, or the course title."
    autocomplete_fields = ("student", "course")
    date_hierarchy = "enrolled_at"
    ordering = ("-enrolled_at", "-id")
    show_full_result_count = False


# --- Live sessions, recordings, assignments ---------------------------------------------------


@admin.register(LiveSession)
class LiveSessionAdmin(SessionPageMixin, admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ("title", "course", "scheduled_at", "duration_minutes", "is_cancelled")
    list_filter = ("is_cancelled", "course", "scheduled_at")
    list_select_related = ("course",)
    search_fields = ("title", "course__title")
    autocomplete_fields = ("course",)
    date_hierarchy = "scheduled_at"
    ordering = ("-scheduled_at",)
    fields = ("course", "title", "scheduled_at", "duration_minutes", "meeting_url", "is_cancelled")

    def save_model(self, request, obj, form, change):
        save_session(session=obj, changed_fields=set(form.changed_data) if change else set())


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ("session", "course", "visible_to_students", "published_at", "created_at")
    list_filter = ("visible_to_students", "session__course", "created_at")
    list_select_related = ("session", "session__course")
    search_fields = ("session__title", "session__course__title", "url")
    autocomplete_fields = ("session",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = ("session", "url", "visible_to_students", "published_at", "created_at")
    # Publishing announces the recording to students: it goes through the action, not a checkbox.
    readonly_fields = ("visible_to_students", "published_at")
    actions = ["publish"]

    @admin.display(description="course", ordering="session__course__title")
    def course(self, obj):
        return obj.session.course

    @admin.action(permissions=["change"], description="Publish selected recordings to students (announces them)")
    def publish(self, request, queryset):
        hidden = list(queryset.filter(visible_to_students=False))
        for recording in hidden:
            publish_recording(recording=recording)
        self.message_user(request, f"{len(hidden)} recording(s) published; students are told on the next run.")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "deadline", "submission_count")
    list_filter = ("course", "deadline")
    list_select_related = ("course",)
    search_fields = ("title", "course__title")
    autocomplete_fields = ("course",)
    date_hierarchy = "deadline"
    ordering = ("-deadline",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(submissions_count=Count("submissions"))

    @admin.display(description="submissions", ordering="submissions_count")
    def submission_count(self, obj):
        return obj.submissions_count


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("assignment", "course", "student", "submitted_at")
    list_filter = ("assignment__course", "submitted_at")
    list_select_related = ("assignment", "assignment__course", "student")
    search_fields = ("student__email", "student__name", "assignment__title")
    autocomplete_fields = ("assignment", "student")
    date_hierarchy = "submitted_at"
    ordering = ("-submitted_at", "-id")

    @admin.display(description="course", ordering="assignment__course__title")
    def course(self, obj):
        return obj.assignment.course


# --- Payments --------------------------------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ("student", "amount_display", "status", "course", "description", "created_at", "paid_at")
    list_filter = ("status", "currency", "course", "created_at")
    list_select_related = ("student", "course")
    search_fields = ("student__email", "student__name", "description")
    search_help_text = "Student's email or name, or the description."
    autocomplete_fields = ("student", "course")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "student",
        "course",
        "amount",
        "currency",
        "description",
        "payment_url",
        "status",
        "created_at",
        "paid_at",
    )
    # A payment is marked paid with the action (which stops its reminders), not by editing it.
    readonly_fields = ("status", "paid_at")
    actions = ["mark_paid"]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)

    @admin.action(permissions=["change"], description="Mark selected pending payments as paid")
    def mark_paid(self, request, queryset):
        paid = 0
        for payment in queryset.filter(status=Payment.Status.PENDING):
            try:
                mark_payment_paid(payment=payment)
            except ValidationError:
                continue  # paid or changed meanwhile
            paid += 1
        skipped = queryset.count() - paid
        level = messages.SUCCESS if not skipped else messages.WARNING
        note = f"; {skipped} were not pending and were left as they were" if skipped else ""
        self.message_user(request, f"{paid} payment(s) marked paid{note}.", level)


@admin.register(PhoneVerification)
class PhoneVerificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Numbers students typed, waiting for the code sent to them; the code's hash is never shown."""

    list_display = ("phone", "user", "code_sent_at", "failed_attempts", "created_at")
    list_select_related = ("user",)
    search_fields = ("phone", "user__email", "user__name")
    fields = ("user", "phone", "whatsapp_opt_in", "code_sent_at", "failed_attempts", "created_at")


@admin.register(PlanningMark)
class PlanningMarkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Where each scheduled planning rule's last run left off, and when it last swept its whole window
    (lms.incremental)."""

    list_display = ("rule", "planned_through", "started_at", "swept_through", "runs_since_sweep")
    search_fields = ("rule",)
    ordering = ("rule",)
