"""Factories for leads: an import, its campaign, leads at each step, CTA submissions and the CRM trail."""

import datetime as dt

import factory
from django.utils import timezone

from leads.models import CrmActivity, CTASubmission, ImportBatch, Lead, LeadCampaign, WelcomeCall
from lms.tests.factories import StaffUserFactory, UserFactory
from notifications.tests.factories import email_for


def _ago(**delta) -> factory.LazyFunction:
    """A declaration for "now minus delta", computed when the object is built."""
    return factory.LazyFunction(lambda: timezone.now() - dt.timedelta(**delta))


def _lead_mobile(n: int) -> str:
    # A range of their own (+9197...), so a lead's number never looks like a student's by accident.
    return f"+9197{n % 10**8:08d}"


class ImportBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportBatch

    source = "Webinar: Break into Data Science"
    filename = factory.Sequence(lambda n: f"webinar-leads-{n:03d}.csv")
    uploaded_by = factory.SubFactory(StaffUserFactory)
    status = ImportBatch.Status.COMPLETED
    total_rows = 10
    created_count = 10
    duplicate_count = 0
    invalid_count = 0
    report = factory.LazyFunction(list)
    created_at = factory.LazyFunction(timezone.now)


class LeadCampaignFactory(factory.django.DjangoModelFactory):
    """An active campaign for an import; `total_leads` and `conversions` are what you pass."""

    class Meta:
        model = LeadCampaign

    import_batch = factory.SubFactory(ImportBatchFactory)
    name = factory.LazyAttribute(lambda o: f"{o.import_batch.source} ({o.import_batch.filename})")
    status = LeadCampaign.Status.ACTIVE
    total_leads = 0
    conversions = 0
    currency = "INR"
    started_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)


class CTASubmissionFactory(factory.django.DjangoModelFactory):
    """A pending request to join, from someone with a phone who opted in to WhatsApp."""

    class Meta:
        model = CTASubmission

    name = factory.Faker("name", locale="en_IN")
    email = factory.LazyAttributeSequence(lambda o, n: email_for(o.name, n, domain="mail.example.com"))
    phone = factory.Sequence(_lead_mobile)
    message = "I'd like to join the weekend batch. Is there an EMI option?"
    whatsapp_opt_in = True
    status = CTASubmission.Status.PENDING
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        approved = factory.Trait(
            status=CTASubmission.Status.APPROVED,
            processed_by=factory.SubFactory(StaffUserFactory),
            processed_at=factory.LazyFunction(timezone.now),
        )
        rejected = factory.Trait(
            status=CTASubmission.Status.REJECTED,
            processed_by=factory.SubFactory(StaffUserFactory),
            processed_at=factory.LazyFunction(timezone.now),
            rejection_reason="Duplicate of an existing student account.",
        )


class LeadFactory(factory.django.DjangoModelFactory):
    """A new lead from an import, not yet contacted. Traits: `contacted`, `converted`."""

    class Meta:
        model = Lead

    name = factory.Faker("name", locale="en_IN")
    email = factory.LazyAttributeSequence(lambda o, n: email_for(o.name, n, domain="mail.example.com"))
    phone = factory.Sequence(_lead_mobile)
    status = Lead.Status.NEW
    import_batch = factory.SubFactory(ImportBatchFactory)
    campaign = None
    source = "Webinar: Break into Data Science"
    data = factory.LazyFunction(lambda: {"city": "Pune", "interest": "Data Science"})
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        # Day 0 went out four days ago: the Day 3 follow-up is due.
        contacted = factory.Trait(
            status=Lead.Status.CONTACTED,
            campaign=factory.SubFactory(
                LeadCampaignFactory, import_batch=factory.SelfAttribute("..import_batch"), total_leads=1
            ),
            first_contacted_at=_ago(days=4),
            last_contacted_at=factory.SelfAttribute("first_contacted_at"),
        )
        converted = factory.Trait(
            status=Lead.Status.CONVERTED,
            first_contacted_at=_ago(days=5),
            last_contacted_at=factory.SelfAttribute("first_contacted_at"),
            converted_at=factory.LazyFunction(timezone.now),
            cta_submission=factory.SubFactory(
                CTASubmissionFactory,
                name=factory.SelfAttribute("..name"),
                email=factory.SelfAttribute("..email"),
                phone=factory.SelfAttribute("..phone"),
            ),
        )


class CrmActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CrmActivity

    kind = CrmActivity.Kind.NOTE
    description = "Called; asked for the weekend batch schedule."
    lead = factory.SubFactory(LeadFactory)
    actor = factory.SubFactory(StaffUserFactory)
    metadata = factory.LazyFunction(dict)
    created_at = factory.LazyFunction(timezone.now)


class WelcomeCallFactory(factory.django.DjangoModelFactory):
    """A 30-minute welcome call tomorrow with a new student."""

    class Meta:
        model = WelcomeCall

    student = factory.SubFactory(UserFactory)
    assigned_to = factory.SubFactory(StaffUserFactory)
    submission = None
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
    duration_minutes = 30
    status = WelcomeCall.Status.SCHEDULED
    notes = ""
    created_at = factory.LazyFunction(timezone.now)
