"""Factories for lms: students in Kolkata with Indian mobiles, courses priced in INR, and what they are reminded of."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from django.utils.text import slugify

from lms.models import Assignment, Course, Enrollment, LiveSession, Payment, Recording, Submission, User
from notifications.tests import factories as notification_factories

TEST_PASSWORD = notification_factories.TEST_PASSWORD


def _in(**delta) -> factory.LazyFunction:
    """A declaration for "now plus delta", computed when the object is built."""
    return factory.LazyFunction(lambda: timezone.now() + dt.timedelta(**delta))


class UserFactory(notification_factories.UserFactory):
    """A student in India: E.164 mobile (+9198...), Asia/Kolkata, en_IN; not opted in to WhatsApp.

    Extends the notifications user factory so both share one sequence (unique emails).
    Everyone can log in with `TEST_PASSWORD`; pass `password=...` for another.
    """

    role = User.Role.STUDENT
    timezone = "Asia/Kolkata"
    locale = "en_IN"

    class Params:
        opted_in = factory.Trait(whatsapp_opt_in=True)
        no_phone = factory.Trait(phone="", whatsapp_opt_in=False)


class StaffUserFactory(UserFactory):
    """A staff member who can use the admin (a superuser with `superuser=True`)."""

    role = User.Role.ADMIN
    is_staff = True

    class Params:
        superuser = factory.Trait(is_superuser=True)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course
        django_get_or_create = ("slug",)

    title = factory.Sequence(lambda n: f"Python for Data Analysis {n}")
    slug = factory.LazyAttributeSequence(lambda o, n: f"{slugify(o.title)}-{n}")
    description = "Live weekend classes, recordings and graded assignments."
    price = Decimal("4999.00")
    currency = "INR"
    is_active = True


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    student = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    is_active = True
    enrolled_at = _in(days=-14)


class LiveSessionFactory(factory.django.DjangoModelFactory):
    """A one-hour live class tomorrow (20 hours from now)."""

    class Meta:
        model = LiveSession

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Live Class {n}: Pandas Basics")
    scheduled_at = _in(hours=20)
    duration_minutes = 60
    meeting_url = factory.Sequence(lambda n: f"https://meet.example.com/class-{n:04d}")
    is_cancelled = False


class RecordingFactory(factory.django.DjangoModelFactory):
    """A recording of a session that ended, visible to students since just now."""

    class Meta:
        model = Recording

    session = factory.SubFactory(LiveSessionFactory, scheduled_at=_in(hours=-3))
    url = factory.Sequence(lambda n: f"https://videos.example.com/recordings/{n:04d}")
    visible_to_students = True
    published_at = factory.LazyAttribute(lambda o: timezone.now() if o.visible_to_students else None)
    created_at = _in(hours=-1)


class AssignmentFactory(factory.django.DjangoModelFactory):
    """An assignment due in 30 hours."""

    class Meta:
        model = Assignment

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Assignment {n}: Clean the Sales Dataset")
    description = "Load sales.csv, fix the missing values and plot monthly revenue."
    deadline = _in(hours=30)


class SubmissionFactory(factory.django.DjangoModelFactory):
    """A submission by a student enrolled in the assignment's course."""

    class Meta:
        model = Submission
        skip_postgeneration_save = True

    assignment = factory.SubFactory(AssignmentFactory)
    student = factory.SubFactory(UserFactory)
    submitted_at = factory.LazyFunction(timezone.now)
    text = "Notebook: https://colab.example.com/notebooks/sales-cleaning"

    @factory.post_generation
    def enrolled(obj, create, extracted, **kwargs):
        """Enroll the student in the course (pass `enrolled=False` to skip)."""
        if create and extracted is not False:
            Enrollment.objects.get_or_create(student=obj.student, course=obj.assignment.course)


class PaymentFactory(factory.django.DjangoModelFactory):
    """A pending course fee created just now (pass `created_at` to age it)."""

    class Meta:
        model = Payment

    student = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    amount = factory.LazyAttribute(lambda o: o.course.price if o.course else Decimal("4999.00"))
    currency = "INR"
    status = Payment.Status.PENDING
    description = factory.LazyAttribute(lambda o: f"Course fee: {o.course.title}" if o.course else "Course fee")
    payment_url = factory.Sequence(lambda n: f"https://pay.example.com/checkout/pl_{n:08d}")
    created_at = factory.LazyFunction(timezone.now)
    paid_at = None

    class Params:
        paid = factory.Trait(status=Payment.Status.PAID, paid_at=factory.LazyFunction(timezone.now))
