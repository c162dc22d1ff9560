"""
Demo data that gives every automation something to do (`manage.py seed_demo`).

Students in several time zones, sessions at different distances from now, recordings,
assignments, pending payments, and an imported lead list part-way through its campaign.

It lives in automation, the top layer, because a demo spans every app below it.
"""

import datetime as dt
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from leads.models import CrmActivity, CTASubmission, ImportBatch, Lead, LeadCampaign, WelcomeCall
from lms.models import Assignment, Course, Enrollment, LiveSession, Payment, Recording, Submission, User
from notifications.models import Category, Channel, Delivery, Suppression

ADMIN_EMAIL = "admin@example.com"
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

# (name, email, phone, status, days since first contact)
LEADS = [
    ("Neha Kapoor", "neha.kapoor@example.com", "+919920334455", "contacted", 4),
    ("Siddharth Jain", "siddharth.jain@example.com", "+918291045678", "contacted", 4),
    ("Pooja Banerjee", "pooja.banerjee@example.com", "", "contacted", 4),
    ("Rahul Deshmukh", "rahul.deshmukh@example.com", "+919819876012", "contacted", 4),
    ("Manish Tiwari", "manish.tiwari@example.com", "+919845567123", "contacted", 8),
    ("Divya Pillai", "divya.pillai@example.com", "+919739012456", "contacted", 8),
    ("Sameer Qureshi", "sameer.qureshi@example.com", "", "contacted", 8),
    ("Anjali Bhatt", "anjali.bhatt@example.com", "+919004411223", "contacted", 8),
    ("Gaurav Chopra", "gaurav.chopra@example.com", "+919987650123", "unsubscribed", 4),
    ("Rohan Mehta", "rohan.mehta@example.com", "+919820011234", "converted", 6),
    ("Harsh Vardhan", "harsh.vardhan@example.com", "+917208123456", "new", None),
    ("Ishita Sen", "ishita.sen@example.com", "", "new", None),
    ("Nikhil Joshi", "nikhil.joshi@example.com", "+919160234567", "new", None),
    ("Tanvi Shah", "tanvi.shah@example.com", "+918108765432", "new", None),
    ("Mohammed Irfan", "mohammed.irfan@example.com", "+919930112233", "new", None),
]
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
    """Return, by label, the rows the demo owns (what the summary counts and --reset deletes)."""
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
            Q(lead__in=leads) | Q(submission__in=submissions) | Q(user__in=users)
        ),
        "Welcome calls": WelcomeCall.objects.filter(student__in=users),
    }
    rows["Suppressions"] = Suppression.objects.filter(address__in=_demo_addresses())
    return rows


def count_demo_data() -> dict[str, int]:
    """Return how many demo rows there are, by model."""
    return {label: queryset.count() for label, queryset in _demo_querysets().items()}


def delete_demo_data() -> int:
    """Delete the demo rows and the messages planned for them; return how many rows went."""
    users = User.objects.filter(email__in=demo_user_emails())
    addresses = _demo_addresses()
    # Ledger rows outlive their recipient (SET_NULL); a fresh demo should start with a clean outbox.
    deleted, _ = Delivery.objects.filter(Q(recipient__in=users) | Q(to_address__in=addresses)).delete()
    querysets = _demo_querysets()
    # Children before parents where the link is SET_NULL, so nothing is left orphaned.
    for label in ("Lead campaigns", "Import batches", "Leads", "CTA submissions", "Payments", "Suppressions"):
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


@transaction.atomic
def seed_demo_data(
    *,
    students: int = DEFAULT_STUDENTS,
    reset: bool = False,
    admin_password: str | None = None,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Create the demo data (after deleting the old with `reset`); leave existing demo data alone."""
    if not 1 <= students <= MAX_STUDENTS:
        raise ValidationError(f"Choose between 1 and {MAX_STUDENTS} students (not {students}).")
    if admin_password is not None:
        validate_password(admin_password)
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    deleted = delete_demo_data() if reset else 0
    if Course.objects.filter(slug__in=[course.slug for course in COURSES]).exists():
        # Nothing is recreated (times would drift from "now"), but a password asked for is set.
        password = _ensure_admin(password=admin_password)[1] if admin_password else None
        return DemoResult(created=False, now=now, counts=count_demo_data(), admin_password=password)

    admin, password = _ensure_admin(password=admin_password)
    people = _create_students(count=students)
    courses = _create_courses(now=now)
    _create_enrollments(people=people, courses=courses, now=now)
    _create_sessions(courses=courses, now=now)
    _create_assignments(people=people, courses=courses, now=now)
    _create_payments(people=people, courses=courses, now=now)
    _create_leads(admin=admin, now=now)
    return DemoResult(created=True, now=now, counts=count_demo_data(), deleted=deleted, admin_password=password)


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
            visible = course is not MENTORSHIP  # one recording is still being edited
            ended = session.scheduled_at + dt.timedelta(minutes=session.duration_minutes)
            Recording.objects.create(
                session=session,
                url=f"https://videos.example.com/recordings/{slug}",
                visible_to_students=visible,
                published_at=ended + dt.timedelta(minutes=30) if visible else None,
                created_at=ended + dt.timedelta(minutes=10),
            )


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
        Submission.objects.create(
            assignment=due_soon,
            student=user,
            submitted_at=now - dt.timedelta(hours=hours),
            text="Notebook: https://colab.example.com/notebooks/sales-cleaning",
        )
    mentees = [user for index, user in enumerate(people) if MENTORSHIP.takes(index)]
    for user in mentees[:1]:
        Submission.objects.create(
            assignment=past,
            student=user,
            submitted_at=now - dt.timedelta(days=2, hours=3),
            text="Write-up: https://docs.example.com/titanic-write-up",
        )


def _create_payments(*, people: list[User], courses: dict[str, Course], now: dt.datetime) -> None:
    # (student index, course, days since created, paid): 4 and 10 days are due a reminder, 1 is not yet.
    plan = [(5, WEB, 4, False), (2, PYTHON, 1, False), (4, MENTORSHIP, 10, False), (0, PYTHON, 6, True)]
    for number, (index, course, days, paid) in enumerate(plan, start=1):
        created = now - dt.timedelta(days=days)
        Payment.objects.create(
            student=people[index % len(people)],
            course=courses[course.slug],
            amount=course.price,
            currency="INR",
            status=Payment.Status.PAID if paid else Payment.Status.PENDING,
            description=f"Course fee: {course.title}",
            payment_url=f"https://pay.example.com/checkout/demo-{number:03d}-{secrets.token_hex(4)}",
            created_at=created,
            paid_at=created + dt.timedelta(days=1) if paid else None,
        )


def _create_leads(*, admin: User, now: dt.datetime) -> None:
    imported_at = now - dt.timedelta(days=8, hours=1)
    report = [{"row": row, "email": email, "outcome": "created"} for row, (_, email, *_) in enumerate(LEADS, start=2)]
    report += [
        {"row": len(LEADS) + 2, "email": "neha.kapoor@example.com", "outcome": "duplicate"},
        {"row": len(LEADS) + 3, "email": "not-an-email", "outcome": "invalid", "detail": "Enter a valid email."},
    ]
    batch = ImportBatch.objects.create(
        source=IMPORT_SOURCE,
        filename=IMPORT_FILENAME,
        uploaded_by=admin,
        total_rows=len(LEADS) + 2,
        created_count=len(LEADS),
        duplicate_count=1,
        invalid_count=1,
        report=report,
        created_at=imported_at,
    )
    campaign = LeadCampaign.objects.create(
        name="Break into Data Science webinar (demo)",
        import_batch=batch,
        cost=Decimal("15000.00"),
        currency="INR",
        started_at=now - dt.timedelta(days=8),
        created_at=now - dt.timedelta(days=8),
    )
    cities = ["Bengaluru", "Pune", "Hyderabad", "Chennai", "Mumbai", "Delhi"]
    for index, (name, email, phone, status, days) in enumerate(LEADS):
        contacted = now - dt.timedelta(days=days) if days is not None else None
        lead, _ = Lead.objects.get_or_create(
            email=email,
            defaults={
                "name": name,
                "phone": phone,
                "status": status,
                "import_batch": batch,
                "campaign": campaign if contacted else None,
                "source": IMPORT_SOURCE,
                "data": {"city": cities[index % len(cities)], "interest": "Data Science"},
                "first_contacted_at": contacted,
                "last_contacted_at": contacted,
                "converted_at": now - dt.timedelta(days=2) if status == Lead.Status.CONVERTED else None,
                "created_at": imported_at,
            },
        )
        CrmActivity.objects.create(
            kind=CrmActivity.Kind.LEAD_IMPORTED,
            lead=lead,
            actor=admin,
            description=f"Imported from {IMPORT_FILENAME}.",
            created_at=imported_at,
        )
        if status == Lead.Status.UNSUBSCRIBED:
            Suppression.objects.get_or_create(
                channel=Channel.EMAIL,
                address=email,
                category=Category.MARKETING,
                defaults={"reason": Suppression.Reason.UNSUBSCRIBED, "detail": "One-click unsubscribe (demo)."},
            )
        if status == Lead.Status.CONVERTED:
            _convert_lead(lead=lead, admin=admin, now=now, models=(Lead, CTASubmission, CrmActivity, WelcomeCall))
    in_campaign = sum(1 for *_, days in LEADS if days is not None)
    LeadCampaign.objects.filter(pk=campaign.pk).update(total_leads=in_campaign, conversions=1)

    for name, email, phone, opt_in, hours, message in PENDING_CTA:
        submission = CTASubmission.objects.create(
            name=name,
            email=email,
            phone=phone,
            whatsapp_opt_in=opt_in,
            message=message,
            created_at=now - dt.timedelta(hours=hours),
        )
        CrmActivity.objects.create(
            kind=CrmActivity.Kind.CTA_SUBMITTED,
            submission=submission,
            description=f"{name} asked to join.",
            created_at=submission.created_at,
        )


def _convert_lead(*, lead, admin: User, now: dt.datetime, models) -> None:
    """Record the path of a lead who submitted the form and was approved by staff."""
    Lead, CTASubmission, CrmActivity, WelcomeCall = models
    submitted_at, approved_at = now - dt.timedelta(days=2), now - dt.timedelta(days=1)
    student = User.objects.filter(email__iexact=lead.email).first()
    submission = CTASubmission.objects.create(
        name=lead.name,
        email=lead.email,
        phone=lead.phone,
        whatsapp_opt_in=True,
        message="Saw the webinar. I want to start this month.",
        status=CTASubmission.Status.APPROVED,
        lead=lead,
        user=student,
        processed_by=admin,
        processed_at=approved_at,
        created_at=submitted_at,
    )
    Lead.objects.filter(pk=lead.pk).update(cta_submission=submission)
    Kind = CrmActivity.Kind
    activities = [
        (Kind.CTA_SUBMITTED, submitted_at, f"{lead.name} asked to join."),
        (Kind.LEAD_CONVERTED, submitted_at, f"{lead.email} submitted the CTA form (campaign link)."),
        (Kind.APPROVED, approved_at, f"Approved by {admin.email}."),
    ]
    if student is not None:
        activities.append((Kind.USER_CREATED, approved_at, f"Student account created for {student.email}."))
        WelcomeCall.objects.create(
            student=student,
            assigned_to=admin,
            submission=submission,
            scheduled_at=now + dt.timedelta(days=1, hours=2),
            notes="Walk through the dashboard and the first week's schedule.",
            created_at=approved_at,
        )
    CrmActivity.objects.bulk_create(
        CrmActivity(
            kind=kind,
            lead=lead,
            submission=submission,
            user=student,
            actor=admin if kind == Kind.APPROVED else None,
            description=description,
            created_at=at,
        )
        for kind, at, description in activities
    )
