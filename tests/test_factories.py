"""Every factory builds a valid row: a broken factory fails here, not in a dozen other tests."""

import pytest
from django.contrib.auth import authenticate

from automation.tests import factories as automation_factories
from common.phones import is_valid_e164
from leads.tests import factories as leads_factories
from lms.tests import factories as lms_factories
from notifications.tests import factories as notification_factories

pytestmark = pytest.mark.django_db

FACTORIES = [
    lms_factories.UserFactory,
    lms_factories.StaffUserFactory,
    lms_factories.CourseFactory,
    lms_factories.EnrollmentFactory,
    lms_factories.LiveSessionFactory,
    lms_factories.RecordingFactory,
    lms_factories.AssignmentFactory,
    lms_factories.SubmissionFactory,
    lms_factories.PaymentFactory,
    leads_factories.ImportBatchFactory,
    leads_factories.LeadCampaignFactory,
    leads_factories.LeadFactory,
    leads_factories.CTASubmissionFactory,
    leads_factories.CrmActivityFactory,
    leads_factories.WelcomeCallFactory,
    notification_factories.UserFactory,
    notification_factories.NotificationFactory,
    notification_factories.DeliveryFactory,
    notification_factories.DeliveryEventFactory,
    notification_factories.SuppressionFactory,
    notification_factories.NotificationPreferenceFactory,
    automation_factories.JobExecutionLogFactory,
]
TRAITS = [
    (lms_factories.UserFactory, {"opted_in": True}),
    (lms_factories.UserFactory, {"no_phone": True}),
    (lms_factories.StaffUserFactory, {"superuser": True}),
    (lms_factories.PaymentFactory, {"paid": True}),
    (leads_factories.LeadFactory, {"contacted": True}),
    (leads_factories.LeadFactory, {"converted": True}),
    (leads_factories.CTASubmissionFactory, {"approved": True}),
    (leads_factories.CTASubmissionFactory, {"rejected": True}),
    (notification_factories.NotificationFactory, {"read": True}),
    (notification_factories.DeliveryFactory, {"whatsapp": True, "recipient__whatsapp_opt_in": True}),
    (notification_factories.DeliveryFactory, {"sent": True}),
    (notification_factories.SuppressionFactory, {"unsubscribed": True}),
    (automation_factories.JobExecutionLogFactory, {"running": True}),
    (automation_factories.JobExecutionLogFactory, {"failed": True}),
]


@pytest.mark.parametrize("factory_class", FACTORIES, ids=lambda f: f"{f.__module__.split('.')[0]}.{f.__name__}")
def test_factory_creates_a_valid_row(factory_class):
    first, second = factory_class(), factory_class()  # twice: unique fields must stay unique
    for obj in (first, second):
        obj.full_clean(validate_unique=True)
        assert type(obj)._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize(("factory_class", "traits"), TRAITS, ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_factory_traits_create_valid_rows(factory_class, traits):
    obj = factory_class(**traits)
    obj.full_clean()


def test_users_get_unique_emails_valid_indian_mobiles_and_kolkata_time():
    users = lms_factories.UserFactory.create_batch(30) + notification_factories.UserFactory.create_batch(5)
    assert len({user.email for user in users}) == len(users)
    assert all(is_valid_e164(user.phone) and user.phone.startswith("+9198") for user in users)
    assert {user.timezone for user in users[:30]} == {"Asia/Kolkata"}


def test_factory_users_can_log_in_with_the_test_password_or_their_own():
    user = lms_factories.UserFactory()
    other = lms_factories.UserFactory(password="s3cret-Passw0rd")
    assert authenticate(email=user.email, password=lms_factories.TEST_PASSWORD) == user
    assert authenticate(email=other.email, password="s3cret-Passw0rd") == other
    assert authenticate(email=other.email, password=lms_factories.TEST_PASSWORD) is None


def test_a_submission_enrolls_its_student_in_the_course():
    submission = lms_factories.SubmissionFactory()
    assert submission.student.enrollments.filter(course=submission.assignment.course).exists()


def test_deliveries_use_a_registered_kind_and_the_channel_address():
    from notifications.kinds import get_kind

    email = notification_factories.DeliveryFactory()
    whatsapp = notification_factories.DeliveryFactory(whatsapp=True)
    assert get_kind(email.kind).name == "session_24h"
    assert email.to_address == email.recipient.email
    assert whatsapp.to_address == whatsapp.recipient.phone
