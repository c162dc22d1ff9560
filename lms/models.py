"""Users, courses and everything a student is reminded about."""

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.phones import normalize_phone
from common.timezones import timezone_choices
from notifications.api import LanguageField

# India first, then by region (a callable: migrations name it instead of copying the tz data).
TIMEZONE_CHOICES = timezone_choices


def default_timezone() -> str:
    return settings.TIME_ZONE


def default_locale() -> str:
    return settings.DEFAULT_LOCALE


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a time zone name (e.g. Asia/Kolkata).")


class PhoneField(models.CharField):
    """A phone number stored in E.164; anything people type is normalised or refused."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_phone(value) if value else ""

    def pre_save(self, model_instance, add):
        # Whatever path a number comes by (form, shell, import), it is stored in E.164.
        value = self.to_python(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value


class TouchedQuerySet(models.QuerySet):
    """A bulk update() moves `updated_at` too, so incremental planning (lms.incremental) sees it."""

    def update(self, **kwargs):
        kwargs.setdefault("updated_at", timezone.now())
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        now = timezone.now()
        for obj in objs:
            obj.updated_at = now
        fields = [*fields, "updated_at"] if "updated_at" not in fields else fields
        return super().bulk_update(objs, fields, *args, **kwargs)


class Touched(models.Model):
    """A row incremental planning reads by what changed since its last run: `updated_at` moves on
    every save() (even with update_fields) and every update() of a queryset. A user's too: an account
    re-activated, a phone number or WhatsApp consent added is planned for at the next run. A raw SQL
    write that does not move it is caught by the rules' periodic full sweep (PLANNING_FULL_SWEEP_MINUTES)."""

    updated_at = models.DateTimeField(default=timezone.now, db_default=Now(), db_index=True, editable=False)

    objects = TouchedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        self.updated_at = timezone.now()
        if update_fields is not None and "updated_at" not in update_fields:
            update_fields = [*update_fields, "updated_at"]
        super().save(*args, update_fields=update_fields, **kwargs)


class UserManager(DjangoUserManager.from_queryset(TouchedQuerySet)):
    """Email is the login; a bulk update() moves `updated_at` (Touched)."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("Every user needs an email address.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("role", User.Role.ADMIN)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(Touched, AbstractUser):
    class Role(models.TextChoices):
        STUDENT = "student", "Student"
        INSTRUCTOR = "instructor", "Instructor"
        ADMIN = "admin", "Admin"

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)  # the login form's label, in the page's language
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    phone = PhoneField(help_text="Stored in international form, e.g. +919876543210.")
    # When the student proved `phone` is theirs with a one-time code (lms.phones); empty for a number
    # staff or the onboarding entered.
    phone_verified_at = models.DateTimeField("phone verified at", null=True, blank=True)
    whatsapp_opt_in = models.BooleanField(
        "WhatsApp opt-in", default=False, help_text="The person agreed to receive messages on WhatsApp."
    )
    timezone = models.CharField(
        max_length=64, choices=TIMEZONE_CHOICES, default=default_timezone, validators=[validate_timezone]
    )
    locale = models.CharField(max_length=16, default=default_locale, help_text="For money and dates, e.g. en_IN.")
    language = LanguageField()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email

    def clean(self):
        super().clean()
        self.email = (self.email or "").strip().lower()

    def get_full_name(self):
        return self.name or self.email

    def get_short_name(self):
        return (self.name or self.email).split(" ")[0]


class PhoneVerification(models.Model):
    """A number a student typed and has not proved yet: it joins the account only with the code sent to it.

    One per account (a new number replaces the last). The code is never stored: only a keyed hash of it,
    made when the message is rendered for sending (lms.phones.verification_code).
    """

    user = models.OneToOneField(User, primary_key=True, on_delete=models.CASCADE, related_name="phone_verification")
    phone = PhoneField(blank=False, help_text="The number to prove, in E.164.")
    whatsapp_opt_in = models.BooleanField(default=False, help_text="WhatsApp consent to record once it is proved.")
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.phone} for {self.user_id} (not proved yet)"


class Course(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default=default_currency)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="course_price_not_negative")]

    def __str__(self):
        return self.title


class Enrollment(Touched):
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    is_active = models.BooleanField(default=True, help_text="Inactive enrollments get no reminders.")
    enrolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [models.UniqueConstraint(fields=["student", "course"], name="enrollment_unique")]
        indexes = [models.Index(fields=["course", "student"], condition=Q(is_active=True), name="enrollment_active")]

    def __str__(self):
        return f"{self.student} in {self.course}"


class LiveSession(Touched):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=200)
    scheduled_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=60)
    meeting_url = models.URLField(max_length=500)
    is_cancelled = models.BooleanField(default=False)
    # Grows each time the session's time or length changes: calendar invitations carry it as their
    # SEQUENCE, so a calendar replaces its old copy of the session (lms.calendar).
    sequence = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["scheduled_at"]
        indexes = [
            models.Index(fields=["scheduled_at"], condition=Q(is_cancelled=False), name="session_upcoming"),
        ]
        constraints = [models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="session_duration_positive")]

    def __str__(self):
        return f"{self.title} ({timezone.localtime(self.scheduled_at):%Y-%m-%d %H:%M %Z})"


class Recording(Touched):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="recordings")
    url = models.URLField(max_length=500)
    visible_to_students = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True, help_text="When it was made visible.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["published_at"], condition=Q(visible_to_students=True), name="recording_visible")
        ]

    def __str__(self):
        return f"Recording of {self.session.title}"


class Assignment(Touched):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="assignments")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    deadline = models.DateTimeField()

    class Meta:
        ordering = ["deadline"]
        indexes = [models.Index(fields=["deadline"], name="assignment_deadline")]

    def __str__(self):
        return self.title


class Submission(models.Model):
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="submissions")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="submissions")
    submitted_at = models.DateTimeField(default=timezone.now)
    text = models.TextField(blank=True)
    file = models.FileField(upload_to="submissions/%Y/%m/", blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [models.UniqueConstraint(fields=["assignment", "student"], name="submission_unique")]

    def __str__(self):
        return f"{self.student} → {self.assignment}"


class Payment(Touched):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"

    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="payments")
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default=default_currency)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    description = models.CharField(max_length=200, blank=True)
    payment_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "paid", "failed", "refunded"]), name="payment_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], condition=Q(status="pending"), name="payment_pending")]

    def __str__(self):
        return f"{self.currency} {self.amount} from {self.student} ({self.status})"


class SessionRsvp(models.Model):
    """A student's answer to "Will you be there?" for one live session (lms.rsvp): their last one counts."""

    class Answer(models.TextChoices):
        YES = "yes", _("I'll be there")
        NO = "no", _("Can't make it")
        REMIND_1H = "remind_1h", _("Remind me 1 h before")

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="rsvps")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="session_rsvps")
    answer = models.CharField(max_length=16, choices=Answer.choices)
    via = models.CharField(max_length=16, help_text="Where the answer came from: email, whatsapp, inapp.")
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "student"], name="rsvp_one_per_student"),
            models.CheckConstraint(condition=Q(answer__in=["yes", "no", "remind_1h"]), name="rsvp_answer_valid"),
        ]

    def __str__(self):
        return f"{self.student_id} → {self.session_id}: {self.answer}"


class SessionAttendance(models.Model):
    """A student joined a live session: through the tracked join link, or a participants export staff uploaded."""

    class Source(models.TextChoices):
        LINK = "link", "Tracked join link"
        UPLOAD = "upload", "Participants export"

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="attendances")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="session_attendances")
    source = models.CharField(max_length=16, choices=Source.choices)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "student"], name="attendance_one_per_student")]

    def __str__(self):
        return f"{self.student_id} joined {self.session_id} ({self.source})"


class RecordingOpen(models.Model):
    """A student opened a session's recording through the tracked link a message carried (lms.attendance)."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="recording_opens")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recording_opens")
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "student"], name="recording_open_one_per_student")]

    def __str__(self):
        return f"{self.student_id} opened the recording of {self.session_id}"


class PlanningMark(models.Model):
    """Where a scheduled rule's last successful run left off (lms.incremental): the next run plans
    only what changed since, and what its window opened since, with a full sweep now and then."""

    rule = models.CharField(max_length=64, unique=True)
    # The `now` the last run planned for (the simulated clock of a test or `--now`, else the real one).
    planned_through = models.DateTimeField()
    # The real clock when that run started: rows whose updated_at is later (less a margin) changed since.
    started_at = models.DateTimeField()
    # The `now` of the last full run.
    swept_through = models.DateTimeField()
    runs_since_sweep = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.rule} through {self.planned_through:%Y-%m-%d %H:%M}"
