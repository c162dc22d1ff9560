"""
Demo data that gives every automation something to do (`manage.py seed_demo`).

Students in several time zones, sessions at different distances from now, recordings,
assignments, pending payments, and an imported lead list part-way through its campaign.
Whatever has a service is made by it (import, campaign, dispatch, bounce, unsubscribe, CTA
form, approval, payment, publishing), so the demo cannot drift from the product.

It lives in automation, the top layer, because a demo spans every app below it.
"""

import csv
import datetime as dt
import io
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from leads.campaigns import plan_lead_follow_ups, start_lead_campaign
from leads.importing import import_leads
from leads.links import LEAD, make_lead_ref
from leads.models import CrmActivity, CTASubmission, ImportBatch, Lead, LeadCampaign, WelcomeCall
from leads.onboarding import approve_cta_submission
from leads.services import submit_cta
from lms.models import Assignment, Course, Enrollment, LiveSession, Payment, Recording, Submission, User
from lms.services import mark_payment_paid, publish_recording, submit_assignment
from notifications.api import (
    Channel,
    DeliveryStatus,
    ProviderEvent,
    apply_provider_event,
    count_suppressions,
    delete_messages_of,
    delivery_id_for_subject,
    dispatch_due_deliveries,
    make_unsubscribe_token,
    resolve_unsubscribe_token,
    unsubscribe,
)

ADMIN_EMAIL = "admin@example.com"
STUDENT_EMAIL = "asha.verma@example.com"  # the demo student who can log in (student 0)
DEFAULT_STUDENTS = 12
MAX_STUDENTS = 200
IMPORT_FILENAME = "webinar-leads-demo.csv"
IMPORT_SOURCE = "Webinar: Break into Data Science (demo)"


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str = ""
    timezone: str = "Asia/Kolkata"
    locale: str = "en_IN"
    whatsapp_opt_in: bool = True


# The first twelve students, by index; `--students` beyond twelve adds generated ones.
STUDENTS = [
    Person("Asha Verma", "asha.verma@example.com", "+919876543210"),
    Person("Rohan Mehta", "rohan.mehta@example.com", "+919820011234"),  # came in through the lead campaign
    Person("Priya Nair", "priya.nair@example.com", "+919845067812"),
    Person("Arjun Reddy", "arjun.reddy@example.com", "+919900123456"),
    Person("Sneha Iyer", "sneha.iyer@example.com", "+919167345218", whatsapp_opt_in=False),
    Person("Vikram Singh", "vikram.singh@example.com", "+919811456723"),
    Person("Kavya Krishnan", "kavya.krishnan@example.com", "", whatsapp_opt_in=False),  # no phone
    Person("Aditya Kulkarni", "aditya.kulkarni@example.com", "+917045889102"),
    Person("Emily Carter", "emily.carter@example.com", "+12125550147", "America/New_York", "en_US"),
    Person(
        "James Whitfield",
        "james.whitfield@example.com",
        "+447911123456",
        "Europe/London",
        "en_GB",
        whatsapp_opt_in=False,
    ),
    Person("Fatima Al Mansoori", "fatima.almansoori@example.com", "+971501234567", "Asia/Dubai", "en_AE"),
    Person("Tan Wei Ling", "weiling.tan@example.com", "+6591234567", "Asia/Singapore", "en_SG"),
]
_FIRST_NAMES = [
    "Aarav", "Diya", "Ishaan", "Meera", "Kabir", "Anika", "Reyansh", "Saanvi", "Vivaan", "Myra",
    "Aryan", "Tara", "Dev", "Nisha", "Yash", "Riya", "Kunal", "Shreya", "Varun", "Lakshmi",
]  # fmt: skip
_LAST_NAMES = ["Sharma", "Patel", "Gupta", "Rao", "Das", "Menon", "Chatterjee", "Bose", "Agarwal", "Joshi"]


def demo_student(index: int) -> Person:
    """Return the demo student at `index`: one of the twelve, or a generated student in India."""
    if index < len(STUDENTS):
        return STUDENTS[index]
    k = index - len(STUDENTS)
    first, last = _FIRST_NAMES[k % 20], _LAST_NAMES[(k + k // 20) % 10]
    return Person(
        name=f"{first} {last}",
        email=f"{first}.{last}{index}@example.com".lower(),
        # +9198 followed by any eight digits is a valid Indian mobile number.
        phone=f"+9198{(31_000_000 + index * 104_729) % 10**8:08d}",
        whatsapp_opt_in=k % 5 != 4,
    )


@dataclass(frozen=True)
class DemoCourse:
    slug: str
    title: str
    price: Decimal
    description: str

    def takes(self, index: int) -> bool:
        """Return True when the student at `index` is enrolled in this course."""
        return {
            "python-for-data-analysis-demo": index % 4 != 3,
            "full-stack-web-development-demo": index % 2 == 1,
            "data-science-mentorship-demo": index % 4 == 0,
        }[self.slug]


PYTHON, WEB, MENTORSHIP = COURSES = [
    DemoCourse(
        "python-for-data-analysis-demo",
        "Python for Data Analysis",
        Decimal("4999.00"),
        "Six weekends of live classes: Python, NumPy, pandas and charts, with graded notebooks.",
    ),
    DemoCourse(
        "full-stack-web-development-demo",
        "Full-Stack Web Development",
        Decimal("12000.00"),
        "HTML, CSS, JavaScript and Django, from the first page to a deployed REST API.",
    ),
    DemoCourse(
        "data-science-mentorship-demo",
        "Data Science & Machine Learning Mentorship",
        Decimal("100000.00"),
        "Six months of one-to-one mentoring, live workshops and a capstone project reviewed by industry mentors.",
    ),
]

# (course, title, hours from now, meeting slug); the comments say which automation each one feeds.
SESSIONS = [
    (PYTHON, "Pandas: Cleaning Messy Data", 20, "pda-pandas-cleaning"),  # "tomorrow" reminder
    (PYTHON, "Office Hours: Ask Me Anything", 10 / 60, "pda-office-hours"),  # "starting soon" reminder
    (WEB, "Building REST APIs with Django", 40 / 60, "fsw-rest-apis"),  # too close for 24 h, not yet 15 min
    (MENTORSHIP, "Feature Engineering Workshop", 72, "dsm-feature-engineering"),  # nothing yet
    (PYTHON, "NumPy Fundamentals", -2, "pda-numpy-fundamentals"),  # its recording was just published
    (WEB, "Git and GitHub for Teams", -24, "fsw-git-github"),  # recording published yesterday
    (MENTORSHIP, "Linear Regression from Scratch", -48, "dsm-linear-regression"),  # recording still private
]

# (name, email, phone, city, wave): wave 1 was first emailed 8 days ago (Day 3 sent, Day 7 due),
# wave 2 four days ago (Day 3 due), None never (imported, not yet in the campaign).
LEADS = [
    ("Neha Kapoor", "neha.kapoor@example.com", "+919920334455", "Bengaluru", 1),
    ("Siddharth Jain", "siddharth.jain@example.com", "+918291045678", "Pune", 1),
    ("Pooja Banerjee", "pooja.banerjee@example.com", "", "Hyderabad", 1),  # her Day 0 bounces
    ("Rahul Deshmukh", "rahul.deshmukh@example.com", "+919819876012", "Chennai", 1),
    ("Manish Tiwari", "manish.tiwari@example.com", "+919845567123", "Mumbai", 1),
    ("Divya Pillai", "divya.pillai@example.com", "+919739012456", "Delhi", 1),
    ("Gaurav Chopra", "gaurav.chopra@example.com", "+919987650123", "Bengaluru", 1),  # unsubscribes
    ("Rohan Mehta", "rohan.mehta@example.com", "+919820011234", "Pune", 1),  # converts, pays
    ("Sameer Qureshi", "sameer.qureshi@example.com", "", "Hyderabad", 2),
    ("Anjali Bhatt", "anjali.bhatt@example.com", "+919004411223", "Chennai", 2),
    ("Harsh Vardhan", "harsh.vardhan@example.com", "+917208123456", "Mumbai", 2),
    ("Ishita Sen", "ishita.sen@example.com", "", "Delhi", 2),
    ("Nikhil Joshi", "nikhil.joshi@example.com", "+919160234567", "Bengaluru", 2),
    ("Tanvi Shah", "tanvi.shah@example.com", "+918108765432", "Pune", None),
    ("Mohammed Irfan", "mohammed.irfan@example.com", "+919930112233", "Mumbai", None),
]
BOUNCES, UNSUBSCRIBES, CONVERTS = "pooja.banerjee@example.com", "gaurav.chopra@example.com", "rohan.mehta@example.com"
CAMPAIGN_NAME = "Break into Data Science webinar (demo)"
CAMPAIGN_COST = Decimal("10000.00")
# (name, email, phone, WhatsApp opt-in, hours ago, message): waiting for staff approval.
PENDING_CTA = [
    ("Karan Malhotra", "karan.malhotra@example.com", "+919811122233", True, 1, "Is there a weekend batch?"),
    ("Ananya Ghosh", "ananya.ghosh@example.com", "", False, 5, "Please call me about EMI options."),
    ("Daniel Okafor", "daniel.okafor@example.com", "+447911123457", False, 26, "Can I join from London?"),
]


def demo_user_emails() -> list[str]:
    """Return every address a demo user may have, whatever `--students` was."""
    return [ADMIN_EMAIL, *(demo_student(index).email for index in range(MAX_STUDENTS))]


def _demo_addresses() -> list[str]:
    people = [demo_student(index) for index in range(MAX_STUDENTS)]
    leads = [(email, phone) for _, email, phone, *_ in (*LEADS, *PENDING_CTA)]
    emails = [ADMIN_EMAIL, *(p.email for p in people), *(email for email, _ in leads)]
    phones = [*(p.phone for p in people), *(phone for _, phone in leads)]
    return sorted({address for address in (*emails, *phones) if address})


def _demo_querysets() -> dict[str, QuerySet]:
    """Return, by label, the rows the demo owns in lms and leads (what the summary counts and --reset
    deletes; notifications' own are counted and deleted by its api)."""
    users = User.objects.filter(email__in=demo_user_emails())
    courses = Course.objects.filter(slug__in=[course.slug for course in COURSES])
    rows = {
        "Staff users": users.filter(is_staff=True),
        "Students": users.filter(is_staff=False),
        "Courses": courses,
        "Enrollments": Enrollment.objects.filter(course__in=courses),
        "Live sessions": LiveSession.objects.filter(course__in=courses),
        "Recordings": Recording.objects.filter(session__course__in=courses),
        "Assignments": Assignment.objects.filter(course__in=courses),
        "Submissions": Submission.objects.filter(assignment__course__in=courses),
        "Payments": Payment.objects.filter(Q(student__in=users) | Q(course__in=courses)),
    }
    batches = ImportBatch.objects.filter(filename=IMPORT_FILENAME)
    lead_emails = [email for _, email, *_ in LEADS]
    leads = Lead.objects.filter(email__in=lead_emails)
    submissions = CTASubmission.objects.filter(email__in=[*lead_emails, *(row[1] for row in PENDING_CTA)])
    rows |= {
        "Import batches": batches,
        "Lead campaigns": LeadCampaign.objects.filter(import_batch__in=batches),
        "Leads": leads,
        "CTA submissions": submissions,
        "CRM activities": CrmActivity.objects.filter(
            Q(lead__in=leads)
            | Q(submission__in=submissions)
            | Q(user__in=users)
            | Q(metadata__import_batch__in=list(batches.values_list("pk", flat=True)))
        ),
        "Welcome calls": WelcomeCall.objects.filter(student__in=users),
    }
    return rows


def count_demo_data() -> dict[str, int]:
    """Return how many demo rows there are, by model."""
    counts = {label: queryset.count() for label, queryset in _demo_querysets().items()}
    return counts | {"Suppressions": count_suppressions(addresses=_demo_addresses())}


def delete_demo_data() -> int:
    """Delete the demo rows and the messages planned for them; return how many rows went."""
    users = User.objects.filter(email__in=demo_user_emails())
    addresses = _demo_addresses()
    # Ledger rows outlive their recipient (SET_NULL); a fresh demo should start with a clean outbox
    # and no suppression of its addresses.
    deleted = delete_messages_of(recipients=users, addresses=addresses)
    querysets = _demo_querysets()
    # Children before parents where the link is SET_NULL, so nothing is left orphaned.
    labels = (
        "CRM activities",
        "Lead campaigns",
        "Import batches",
        "Leads",
        "CTA submissions",
        "Payments",
    )
    for label in labels:
        if label in querysets:
            deleted += querysets[label].delete()[0]
    deleted += Course.objects.filter(slug__in=[course.slug for course in COURSES]).delete()[0]
    deleted += users.delete()[0]
    return deleted


@dataclass
class DemoResult:
    created: bool  # False when demo data was already there and nothing changed
    now: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    admin_email: str = ADMIN_EMAIL
    admin_password: str | None = None  # set only when this run set it
    student_email: str = STUDENT_EMAIL
    student_password: str | None = None  # likewise


def seed_demo_data(
    *,
    students: int = DEFAULT_STUDENTS,
    reset: bool = False,
    admin_password: str | None = None,
    student_password: str | None = None,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Create the demo data (after deleting the old with `reset`); leave existing demo data alone.

    The history is made by the product's own services, in the order it would have happened,
    with the clock moved by their `now`: the leads file is imported and its campaign started
    eight days ago, emails are dispatched, one bounces and one lead unsubscribes, a lead
    converts through the CTA form and staff approve her, payments are paid and recordings
    published. Each step commits as it would in production (dispatch happens outside any
    transaction); `--reset` removes a half-made demo.
    """
    _check_demo_request(students=students, passwords=(admin_password, student_password))
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    with transaction.atomic():
        deleted = delete_demo_data() if reset else 0
    if Course.objects.filter(slug__in=[course.slug for course in COURSES]).exists():
        return _keep_demo(now=now, admin_password=admin_password, student_password=student_password)
    with transaction.atomic():
        admin, admin_password = _ensure_admin(password=admin_password)
        # The list came first: one of its leads is a student today (the import skips students).
        batch = _import_lead_list(admin=admin, now=now)
        people = _create_students(count=students)
        student_password = _set_student_password(password=student_password or secrets.token_urlsafe(9))
        courses = _create_courses(now=now)
        _create_enrollments(people=people, courses=courses, now=now)
        _create_sessions(courses=courses, now=now)
        _create_assignments(people=people, courses=courses, now=now)
        _create_payments(people=people, courses=courses, now=now)
    _run_lead_campaign(admin=admin, batch=batch, courses=courses, now=now)
    return DemoResult(
        created=True,
        now=now,
        counts=count_demo_data(),
        deleted=deleted,
        admin_password=admin_password,
        student_password=student_password,
    )


def _check_demo_request(*, students: int, passwords: tuple[str | None, ...]) -> None:
    """Refuse a number of students out of bounds or a weak password, before anything changes."""
    if not 1 <= students <= MAX_STUDENTS:
        raise ValidationError(f"Choose between 1 and {MAX_STUDENTS} students (not {students}).")
    for password in passwords:
        if password is not None:
            validate_password(password)


def _keep_demo(*, now: dt.datetime, admin_password: str | None, student_password: str | None) -> DemoResult:
    """Demo data is there already: nothing is recreated (times would drift from "now"), but a
    password asked for is set."""
    result = DemoResult(created=False, now=now, counts=count_demo_data())
    if admin_password:
        result.admin_password = _ensure_admin(password=admin_password)[1]
    if student_password:
        result.student_password = _set_student_password(password=student_password)
    return result


def _set_student_password(*, password: str) -> str | None:
    """Give the demo student a password she can log in with; return it (None: no such student)."""
    student = User.objects.filter(email__iexact=STUDENT_EMAIL).first()
    if student is None:
        return None
    student.set_password(password)
    student.save(update_fields=["password"])
    return password


def _ensure_admin(*, password: str | None) -> tuple[User, str | None]:
    """Return the demo admin and the password this run gave it (None: left unchanged)."""
    admin = User.objects.filter(email__iexact=ADMIN_EMAIL).first()
    if admin is None:
        password = password or secrets.token_urlsafe(12)
        admin = User.objects.create_superuser(email=ADMIN_EMAIL, password=password, name="Demo Admin")
        return admin, password
    admin.is_staff = admin.is_superuser = True
    if password:
        admin.set_password(password)
    admin.save()
    return admin, password


def _create_students(*, count: int) -> list[User]:
    people = []
    for index in range(count):
        person = demo_student(index)
        user, created = User.objects.get_or_create(
            email=person.email,
            defaults={
                "name": person.name,
                "phone": person.phone,
                "whatsapp_opt_in": person.whatsapp_opt_in and bool(person.phone),
                "timezone": person.timezone,
                "locale": person.locale,
                "role": User.Role.STUDENT,
            },
        )
        if created:
            # Demo students log in through "forgot password", like real ones.
            user.set_unusable_password()
            user.save(update_fields=["password"])
        people.append(user)
    return people


def _create_courses(*, now: dt.datetime) -> dict[str, Course]:
    return {
        course.slug: Course.objects.create(
            slug=course.slug,
            title=course.title,
            description=course.description,
            price=course.price,
            currency="INR",
            created_at=now - dt.timedelta(days=60),
        )
        for course in COURSES
    }


def _create_enrollments(*, people: list[User], courses: dict[str, Course], now: dt.datetime) -> None:
    Enrollment.objects.bulk_create(
        Enrollment(student=user, course=courses[course.slug], enrolled_at=now - dt.timedelta(days=30 - index % 20))
        for index, user in enumerate(people)
        for course in COURSES
        if course.takes(index)
    )


def _create_sessions(*, courses: dict[str, Course], now: dt.datetime) -> None:
    for course, title, hours, slug in SESSIONS:
        session = LiveSession.objects.create(
            course=courses[course.slug],
            title=title,
            scheduled_at=now + dt.timedelta(hours=hours),
            duration_minutes=90 if course is MENTORSHIP else 60,
            meeting_url=f"https://meet.example.com/{slug}",
        )
        if hours < 0:
            ended = session.scheduled_at + dt.timedelta(minutes=session.duration_minutes)
            recording = Recording.objects.create(
                session=session,
                url=f"https://videos.example.com/recordings/{slug}",
                visible_to_students=False,
                created_at=ended + dt.timedelta(minutes=10),
            )
            if course is not MENTORSHIP:  # one recording is still being edited
                publish_recording(recording=recording, now=ended + dt.timedelta(minutes=30))


def _create_assignments(*, people: list[User], courses: dict[str, Course], now: dt.datetime) -> None:
    due_soon = Assignment.objects.create(
        course=courses[PYTHON.slug],
        title="Clean the Sales Dataset",
        description="Load sales.csv with pandas, fix the missing values and plot monthly revenue.",
        deadline=now + dt.timedelta(hours=30),
    )
    Assignment.objects.create(
        course=courses[WEB.slug],
        title="Build a To-Do REST API",
        description="Django REST endpoints for lists and items, with tests.",
        deadline=now + dt.timedelta(days=5),
    )
    past = Assignment.objects.create(
        course=courses[MENTORSHIP.slug],
        title="Titanic Survival: Model Write-up",
        description="Two pages on your model, its features and how you validated it.",
        deadline=now - dt.timedelta(days=2),
    )
    # Some students already handed in the one due soon: only the others are reminded.
    python_students = [user for index, user in enumerate(people) if PYTHON.takes(index)]
    for hours, user in zip((26, 3), python_students[: max(1, len(python_students) // 3)], strict=False):
        submit_assignment(
            assignment=due_soon,
            student=user,
            text="Notebook: https://colab.example.com/notebooks/sales-cleaning",
            now=now - dt.timedelta(hours=hours),
        )
    mentees = [user for index, user in enumerate(people) if MENTORSHIP.takes(index)]
    for user in mentees[:1]:
        submit_assignment(
            assignment=past,
            student=user,
            text="Write-up: https://docs.example.com/titanic-write-up",
            now=now - dt.timedelta(days=2, hours=3),
        )


def _create_payment(*, student: User, course: Course, now: dt.datetime, paid_after: dt.timedelta | None = None):
    """A course fee as the payment page makes it, paid through the service when `paid_after` is given."""
    payment = Payment.objects.create(
        student=student,
        course=course,
        amount=course.price,
        currency=course.currency,
        status=Payment.Status.PENDING,
        description=f"Course fee: {course.title}",
        payment_url=f"https://pay.example.com/checkout/demo-{secrets.token_hex(6)}",
        created_at=now,
    )
    if paid_after is not None:
        payment = mark_payment_paid(payment=payment, now=now + paid_after)
    return payment


def _create_payments(*, people: list[User], courses: dict[str, Course], now: dt.datetime) -> None:
    # (student index, course, days since created, paid): 4 and 10 days are due a reminder, 1 is not yet.
    plan = [(5, WEB, 4, False), (2, PYTHON, 1, False), (4, MENTORSHIP, 10, False), (0, PYTHON, 6, True)]
    for index, course, days, paid in plan:
        _create_payment(
            student=people[index % len(people)],
            course=courses[course.slug],
            now=now - dt.timedelta(days=days),
            paid_after=dt.timedelta(days=1) if paid else None,
        )


def leads_csv() -> bytes:
    """The webinar's lead list as staff would upload it: one row repeated, one address mistyped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "email", "phone", "city", "interest"])
    for name, email, phone, city, _ in LEADS:
        writer.writerow([name, email, phone, city, "Data Science"])
    writer.writerow(["Neha K.", LEADS[0][1], "", "Bengaluru", "Data Science"])  # a duplicate
    writer.writerow(["Vivek Rao", "vivek.rao@example", "", "Mumbai", "Data Science"])  # invalid
    return buffer.getvalue().encode()


def _import_lead_list(*, admin: User, now: dt.datetime) -> ImportBatch:
    """The webinar's list, uploaded eight days ago."""
    return import_leads(
        data=leads_csv(),
        filename=IMPORT_FILENAME,
        source=IMPORT_SOURCE,
        uploaded_by=admin,
        start_campaign=False,
        now=now - dt.timedelta(days=8, hours=1),
    ).batch


def _run_lead_campaign(*, admin: User, batch: ImportBatch, courses: dict[str, Course], now: dt.datetime) -> None:
    """Eight days of the lead campaign, through the services that run it, in order."""
    day = dt.timedelta(days=1)
    ids = dict(Lead.objects.filter(import_batch=batch).values_list("email", "pk"))
    wave = {number: [ids[email] for _, email, _, _, when in LEADS if when == number] for number in (1, 2)}

    # Day 0 for the first wave; the campaign's cost is what staff enter in the admin.
    started = start_lead_campaign(import_batch=batch, lead_ids=wave[1], name=CAMPAIGN_NAME, now=now - 8 * day)
    LeadCampaign.objects.filter(pk=started.campaign.pk).update(cost=CAMPAIGN_COST)
    dispatch_due_deliveries(now=now - 8 * day + dt.timedelta(minutes=5))

    _bounce_and_unsubscribe(ids=ids, at=now - 8 * day + dt.timedelta(minutes=7))

    # Day 3 for the first wave; Day 0 for the second.
    plan_lead_follow_ups(now=now - 5 * day)
    dispatch_due_deliveries(now=now - 5 * day + dt.timedelta(minutes=5))
    start_lead_campaign(import_batch=batch, lead_ids=wave[2], now=now - 4 * day)
    dispatch_due_deliveries(now=now - 4 * day + dt.timedelta(minutes=5))

    _convert_a_lead(admin=admin, lead_id=ids[CONVERTS], courses=courses, now=now)

    # People who filled in the form and wait for staff.
    for name, email, phone, opt_in, hours, message in PENDING_CTA:
        submit_cta(
            name=name,
            email=email,
            phone=phone,
            whatsapp_opt_in=opt_in,
            message=message,
            now=now - dt.timedelta(hours=hours),
        )


def _bounce_and_unsubscribe(*, ids: dict[str, int], at: dt.datetime) -> None:
    """One Day 0 email bounces (the provider's webhook), one lead unsubscribes from hers."""

    def day0(lead: str) -> int:
        return delivery_id_for_subject(kind="lead_day0", subject_type=LEAD, subject_id=ids[lead])

    apply_provider_event(
        event=ProviderEvent(
            channel=Channel.EMAIL,
            status=DeliveryStatus.BOUNCED,
            delivery_id=day0(BOUNCES),
            occurred_at=at,
            detail="550 5.1.1 The email account that you tried to reach does not exist.",
        )
    )
    token = make_unsubscribe_token(delivery_id=day0(UNSUBSCRIBES))
    unsubscribe(target=resolve_unsubscribe_token(token=token), source="the unsubscribe page")


def _convert_a_lead(*, admin: User, lead_id: int, courses: dict[str, Course], now: dt.datetime) -> None:
    """A lead follows her Day 3 link to the CTA form; staff approve her the next day (welcome
    call booked); she pays for both of her courses."""
    day = dt.timedelta(days=1)
    name, email, phone, *_ = next(row for row in LEADS if row[1] == CONVERTS)
    submission = submit_cta(
        name=name,
        email=email,
        phone=phone,
        whatsapp_opt_in=True,
        message="Saw the webinar. I want to start this month.",
        lead_ref=make_lead_ref(lead_id),
        now=now - 2 * day,
    )
    approve_cta_submission(submission=submission, approved_by=admin, schedule_call=True, now=now - day)
    student = User.objects.get(email__iexact=email)
    for course in (WEB, PYTHON):
        if Enrollment.objects.filter(student=student, course=courses[course.slug]).exists():
            _create_payment(
                student=student, course=courses[course.slug], now=now - day, paid_after=dt.timedelta(hours=12)
            )
