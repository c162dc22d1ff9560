"""The Day 0/3/7 campaign, the CTA form, conversion tracking, and campaign statistics."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from leads.campaigns import plan_lead_follow_ups
from leads.importing import import_leads
from leads.links import make_lead_ref, read_lead_ref
from leads.models import CrmActivity, CTASubmission, Lead, LeadCampaign
from leads.onboarding import approve_cta_submission
from leads.services import submit_cta
from leads.stats import campaign_stats
from lms.services import mark_payment_paid
from lms.tests.factories import PaymentFactory, UserFactory
from notifications.api import daily_delivery_figures
from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.feedback import ProviderEvent, apply_provider_event

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 5, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def imported():
    result = import_leads(
        data=b"name,email\nAsha Verma,asha@example.com\nRavi Kumar,ravi@example.com\nMeera Shah,meera@example.com\n",
        filename="webinar.csv",
        now=T0,
    )
    return result.batch.campaign


def sent_kinds(email):
    return sorted(Delivery.objects.filter(to_address=email).values_list("event__kind", flat=True))


def test_day0_email_goes_out_on_import_with_a_tracked_cta_link_and_one_click_unsubscribe(imported):
    dispatch_due_deliveries(now=T0)
    assert len(mail.outbox) == 3
    message = next(m for m in mail.outbox if m.to == ["asha@example.com"])
    assert message.subject == "Asha, your next step with CourseHub"
    link = re.search(r"https://school\.example/start/\?ref=\S+", message.body).group(0)
    assert "asha" not in link
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Unsubscribe: https://school.example/unsubscribe/" in message.body


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (3 * DAY - dt.timedelta(seconds=1), []),
        (3 * DAY, ["lead_day3"]),
        (7 * DAY - dt.timedelta(seconds=1), ["lead_day3"]),
        (7 * DAY, ["lead_day7"]),  # a lead first seen after Day 7 gets only the final email
        (30 * DAY, ["lead_day7"]),
    ],
)
def test_follow_up_boundaries(imported, after, expected):
    plan_lead_follow_ups(now=T0 + after)
    plan_lead_follow_ups(now=T0 + after)
    assert [k for k in sent_kinds("asha@example.com") if k != "lead_day0"] == expected


def test_the_full_sequence_sends_each_email_once(imported):
    for day in (0, 3, 4, 7, 8, 12):
        plan_lead_follow_ups(now=T0 + day * DAY)
        dispatch_due_deliveries(now=T0 + day * DAY)
    subjects = sorted(m.subject for m in mail.outbox if m.to == ["ravi@example.com"])
    assert subjects == ["Last chance: 10% off, Ravi", "Ravi, your next step with CourseHub", "Still interested, Ravi?"]
    final = next(m for m in mail.outbox if m.subject.startswith("Last chance") and m.to == ["ravi@example.com"])
    assert "10% off your first course" in final.body
    assert "Premium resource pack" in final.body
    lead = Lead.objects.get(email="ravi@example.com")
    assert lead.follow_up_day3_sent and lead.follow_up_day7_sent


def test_one_run_sends_each_lead_only_the_email_of_its_own_stage(imported):
    plan_lead_follow_ups(now=T0 + 3 * DAY)  # every lead gets Day 3
    late = Lead.objects.get(email="meera@example.com")
    Lead.objects.filter(pk=late.pk).update(first_contacted_at=T0 + 2 * DAY, follow_up_day3_sent=False)

    plan_lead_follow_ups(now=T0 + 7 * DAY)

    assert sent_kinds("asha@example.com") == ["lead_day0", "lead_day3", "lead_day7"]
    assert sent_kinds("meera@example.com") == ["lead_day0", "lead_day3"]  # on Day 5 of its own sequence
    assert Lead.objects.filter(follow_up_day7_sent=True).count() == 2


def test_a_campaign_link_is_signed_when_the_email_is_sent_so_a_backlog_does_not_age_it(settings):
    settings.LEAD_REF_MAX_AGE_DAYS = 30
    with time_machine.travel(T0, tick=False):
        import_leads(data=b"email\nasha@example.com\n", filename="late.csv", now=T0)
    later = T0 + 45 * DAY  # the Day 0 email waited in the ledger (an outage), then went out
    with time_machine.travel(later, tick=False):
        dispatch_due_deliveries(now=later)
        link = re.search(r"https://school\.example/start/\?ref=(\S+)", mail.outbox[0].body).group(1)
        assert read_lead_ref(link) == Lead.objects.get(email="asha@example.com").pk
    with time_machine.travel(later + 31 * DAY, tick=False):
        assert read_lead_ref(link) is None  # and it still expires


def test_the_offer_is_configurable(imported, settings):
    settings.LEAD_OFFER = {"discount_percent": 25, "resources": ["Interview kit"], "valid_days": 3}
    plan_lead_follow_ups(now=T0 + 7 * DAY)
    dispatch_due_deliveries(now=T0 + 7 * DAY)
    body = mail.outbox[-1].body
    assert "25% off your first course" in body and "- Interview kit" in body


def test_a_converted_lead_gets_no_further_email(imported, client):
    plan_lead_follow_ups(now=T0 + 3 * DAY)  # Day 3 planned, not yet sent
    ref = make_lead_ref(Lead.objects.get(email="asha@example.com").pk)
    client.post(f"/start/?ref={ref}", {"name": "Asha", "email": "asha.personal@example.com", "ref": ref})

    dispatch_due_deliveries(now=T0 + 3 * DAY)
    plan_lead_follow_ups(now=T0 + 7 * DAY)
    dispatch_due_deliveries(now=T0 + 7 * DAY)
    assert not [m for m in mail.outbox if m.to == ["asha@example.com"] and "Still" in m.subject]
    assert not Delivery.objects.filter(to_address="asha@example.com", event__kind="lead_day7").exists()
    assert Delivery.objects.get(to_address="asha@example.com", event__kind="lead_day3").status == "cancelled"


def test_an_unsubscribed_lead_gets_no_more_campaign_email_but_student_mail_is_unaffected(imported, client):
    dispatch_due_deliveries(now=T0)
    message = next(m for m in mail.outbox if m.to == ["meera@example.com"])
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>").removeprefix("https://school.example")
    assert client.post(unsubscribe, {"List-Unsubscribe": "One-Click"}).status_code == 200

    plan_lead_follow_ups(now=T0 + 7 * DAY)
    assert sent_kinds("meera@example.com") == ["lead_day0"]
    assert Suppression.objects.get(address="meera@example.com").category == "marketing"


def test_a_conversion_is_counted_once_even_when_the_cta_is_submitted_twice(imported, client):
    lead = Lead.objects.get(email="ravi@example.com")
    ref = make_lead_ref(lead.pk)
    for _ in range(2):
        client.post("/start/", {"name": "Ravi", "email": "ravi@example.com", "ref": ref})
    submit_cta(name="Ravi", email="RAVI@example.com")  # and once more by email only: no proof, not linked

    lead.refresh_from_db()
    assert lead.status == "converted" and lead.converted_at is not None
    assert LeadCampaign.objects.get(pk=imported.pk).conversions == 1
    assert CTASubmission.objects.filter(lead=lead).count() == 2
    assert lead.cta_submission == CTASubmission.objects.filter(lead=lead).earliest("created_at")


def test_the_cta_form_attributes_by_signed_reference_not_by_what_is_typed(imported, client):
    lead = Lead.objects.get(email="meera@example.com")
    ref = make_lead_ref(lead.pk)
    page = client.get(f"/start/?ref={ref}")
    assert page.status_code == 200 and ref in page.content.decode()
    assert "WhatsApp" in page.content.decode()

    response = client.post(
        "/start/",
        {"name": "M", "email": "other@example.com", "ref": ref, "phone": "98765 43210", "whatsapp_opt_in": "on"},
        follow=True,
    )
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    submission = CTASubmission.objects.get()
    assert (submission.lead, submission.phone, submission.whatsapp_opt_in) == (lead, "+919876543210", True)
    lead.refresh_from_db()
    assert lead.status == "converted"


def test_a_forged_reference_counts_no_conversion_even_with_the_leads_email(imported, client):
    client.post("/start/", {"name": "Ravi", "email": "ravi@example.com", "ref": "forged:abc"})
    assert Lead.objects.get(email="ravi@example.com").status != "converted"


def test_bots_filling_the_honeypot_create_nothing(client):
    response = client.post("/start/", {"name": "Bot", "email": "bot@example.com", "website": "http://spam"})
    assert response.status_code == 302 and response["Location"] == "/start/thanks/"  # as for a person
    assert not CTASubmission.objects.exists()


def test_the_cta_form_explains_bad_input(client):
    response = client.post("/start/", {"name": "", "email": "nope", "whatsapp_opt_in": "on"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in page
    assert "Add your phone number to get WhatsApp messages." in page
    assert not CTASubmission.objects.exists()


def bounce(delivery, *, at):
    """The provider's webhook reports a hard bounce."""
    apply_provider_event(
        event=ProviderEvent(
            channel="email", status="bounced", delivery_id=delivery.pk, occurred_at=at, detail="550 5.1.1"
        )
    )


def one_click_unsubscribe(client, email):
    message = next(m for m in mail.outbox if m.to == [email])
    url = message.extra_headers["List-Unsubscribe"].strip("<>").removeprefix("https://school.example")
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200


@pytest.fixture
def campaign_history(imported, client):
    """Day 0 and Day 3 sent; Meera's Day 3 bounces, Asha unsubscribes, Ravi converts, is approved and pays."""
    for day in (0, 3):
        plan_lead_follow_ups(now=T0 + day * DAY)
        dispatch_due_deliveries(now=T0 + day * DAY)
    bounce(Delivery.objects.get(to_address="meera@example.com", event__kind="lead_day3"), at=T0 + 3 * DAY)
    one_click_unsubscribe(client, "asha@example.com")
    ravi = Lead.objects.get(email="ravi@example.com")
    submission = submit_cta(
        name="Ravi Kumar",
        email=ravi.email,
        phone="+919812345678",
        whatsapp_opt_in=True,
        lead_ref=make_lead_ref(ravi.pk),
        now=T0 + 4 * DAY,
    )
    admin = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    result = approve_cta_submission(submission=submission, approved_by=admin, now=T0 + 5 * DAY)
    dispatch_due_deliveries(now=T0 + 5 * DAY)  # the welcome, by email and WhatsApp (a utility message)
    mark_payment_paid(payment=PaymentFactory(student=result.user, amount=Decimal("12000")), now=T0 + 6 * DAY)
    PaymentFactory(student=result.user, amount=Decimal("4999"))  # pending: not revenue
    LeadCampaign.objects.filter(pk=imported.pk).update(cost=Decimal("8000"))  # as staff enter it
    return {"campaign": LeadCampaign.objects.get(pk=imported.pk), "admin": admin}


def page_rows(html: str) -> list[list[str]]:
    """The cells of every table row in the admin's statistics block."""
    block = html[html.index('data-testid="campaign-stats"') :]
    block = block[: block.index('aria-label="Funnel"')]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", block, re.S)
    ]


def command_rows(output: str) -> list[list[str]]:
    """The cells of every row of the command's two tables (headers and rules left out)."""
    lines = [line for line in output.splitlines()[1:] if line.strip() and not set(line) <= {"-", " "}]
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def test_campaign_page_command_and_hand_counts_agree(campaign_history, client, capsys):
    campaign, admin = campaign_history["campaign"], campaign_history["admin"]
    # By hand: 3 leads, each sent Day 0; Day 3 went to 3 but Meera's bounced, so 2 were sent.
    # Ravi's last email before converting was Day 3: 1 conversion there. One conversion rate for
    # the campaign (1 converted of 3 leads), not one per step nor one per lead emailed.
    steps = [
        ["Day 0", "3", "0", "0", "0", "0"],
        ["Day 3", "2", "1", "0", "0", "1"],
        ["Day 7", "0", "0", "0", "0", "0"],
    ]
    summary = [
        ["Imported", "3"],
        ["Leads in the campaign", "3"],
        ["Emailed (at least one email sent)", "3"],
        ["Converted", "1"],
        ["Conversion rate", "33.3% (leads converted ÷ leads in the campaign)"],
        ["Approved", "1"],
        ["Unsubscribed", "1"],
        ["Bounced", "1"],
        ["Paid (converted leads who paid)", "1"],
        ["Revenue (paid)", "₹12,000"],
        ["Cost", "₹8,000"],
        ["WhatsApp messages", "1"],  # Ravi's welcome
        ["WhatsApp cost (estimated)", "₹0.12"],  # one utility message at ₹0.115
        ["ROI", "+50%"],  # (12,000 - 8,000.115) / 8,000.115
    ]

    client.force_login(admin)
    page = client.get(f"/admin/leads/leadcampaign/{campaign.pk}/change/")
    assert page.status_code == 200
    rows = page_rows(page.content.decode())
    assert rows[0] == ["Step", "Sent", "Bounced", "Failed", "Waiting", "Conversions (last email before converting)"]
    assert rows[1:4] == steps
    assert rows[4:] == summary

    call_command("lead_campaign", "stats", "--campaign-id", str(campaign.pk))
    assert command_rows(capsys.readouterr().out) == [rows[0], *steps, *summary]

    stats = campaign_stats(campaign=campaign)
    assert stats.funnel == [
        ("Imported", 3),
        ("In campaign", 3),
        ("Emailed", 3),
        ("Converted", 1),
        ("Approved", 1),
        ("Paid", 1),
    ]
    # The campaign's counters (the changelist's columns) say the same.
    assert (campaign.total_leads, campaign.conversions) == (stats.leads, stats.conversions)


def test_the_lead_list_shows_who_unsubscribed_or_bounced_with_the_crm_entry(campaign_history, client):
    statuses = dict(Lead.objects.values_list("email", "status"))
    assert statuses == {
        "asha@example.com": "unsubscribed",
        "meera@example.com": "bounced",
        "ravi@example.com": "converted",
    }
    crm = dict(CrmActivity.objects.filter(kind__in=["unsubscribed", "bounced"]).values_list("lead__email", "kind"))
    assert crm == {"asha@example.com": "unsubscribed", "meera@example.com": "bounced"}

    client.force_login(campaign_history["admin"])
    page = client.get("/admin/leads/lead/").content.decode()
    assert "unsubscribed or bounced" in page.lower()
    row = next(row for row in re.findall(r"<tr.*?</tr>", page, re.S) if "meera@example.com" in row)
    assert "Bounced" in row and "550 5.1.1" in row
    row = next(row for row in re.findall(r"<tr.*?</tr>", page, re.S) if "asha@example.com" in row)
    assert "Unsubscribed" in row and "one-click" in row
    filtered = client.get("/admin/leads/lead/?status__exact=unsubscribed").content.decode()
    assert "asha@example.com" in filtered and "meera@example.com" not in filtered


def test_a_lead_imported_after_unsubscribing_is_marked_not_emailed(client):
    Suppression.objects.create(channel="email", address="old@example.com", category="marketing", reason="unsubscribed")
    import_leads(data=b"email\nold@example.com\nnew@example.com\n", filename="again.csv", now=T0)
    assert dict(Lead.objects.values_list("email", "status")) == {
        "old@example.com": "unsubscribed",
        "new@example.com": "contacted",
    }
    assert sent_kinds("old@example.com") == []


def test_lead_campaign_command_start_and_followup(capsys):
    result = import_leads(data=b"email\nx@example.com\n", filename="x.csv", start_campaign=False, now=T0)
    call_command("lead_campaign", "start", "--batch-id", str(result.batch.pk))
    campaign = LeadCampaign.objects.get(import_batch=result.batch)
    Lead.objects.update(first_contacted_at=timezone.now() - 4 * DAY)
    call_command("lead_campaign", "followup", "--campaign-id", str(campaign.pk), "--day", "3")
    output = capsys.readouterr().out
    assert "1 Day 0 emails planned" in output
    assert "Day 3 follow-up" in output and "1 emails planned" in output
    assert sent_kinds("x@example.com") == ["lead_day0", "lead_day3"]


def test_lead_campaign_followup_says_who_was_skipped_and_why(campaign_history, capsys):
    campaign = campaign_history["campaign"]
    # The command runs on today's clock: every lead of the campaign has reached Day 7.
    call_command("lead_campaign", "followup", "--campaign-id", str(campaign.pk), "--day", "7")
    output = capsys.readouterr().out
    assert "0 emails planned" in output
    assert "skipped: lead_bounced 1, lead_converted 1, lead_unsubscribed 1." in output


def test_campaign_stats_stay_the_same_after_the_retention_job_removes_old_emails(campaign_history):
    from notifications.models import DeliveryDailyCount
    from notifications.services.retention import purge_old_deliveries

    campaign = campaign_history["campaign"]
    before = campaign_stats(campaign=campaign)

    # 91 days on, Day 0 (planned on day 0) is past the 90 days, Day 3 not yet; then everything is.
    for now in (T0 + 91 * DAY, T0 + 200 * DAY):
        purge_old_deliveries(now=now)
        assert campaign_stats(campaign=campaign) == before
    assert not Delivery.objects.filter(event__subject_type="leads.lead").exists()
    assert DeliveryDailyCount.objects.filter(subject_type="leads.lead").count() == 6


def test_the_cta_form_redirects_after_a_post_so_a_refresh_sends_nothing_twice(client):
    """leadsops: a refresh or a double click on the thank-you page made a second submission."""
    response = client.post("/start/", {"name": "Meera Iyer", "email": "meera@example.com"})
    assert response.status_code == 302 and response["Location"] == "/start/thanks/"
    for _refresh in range(2):
        page = client.get("/start/thanks/").content.decode()
        assert "Thank you, Meera Iyer!" in page
    assert CTASubmission.objects.count() == 1
    assert client.post("/start/thanks/").status_code == 405


def test_campaign_page_charts_its_days_and_steps_and_shows_one_conversion_rate_defined(campaign_history, client):
    campaign, admin = campaign_history["campaign"], campaign_history["admin"]
    client.force_login(admin)
    page = client.get(f"/admin/leads/leadcampaign/{campaign.pk}/change/").content.decode()

    assert page.count('class="pygal-chart"') == 2  # per day, and per step
    assert "<script" not in page[page.index('data-testid="campaign-charts"') :].split("</figure></div>")[0]
    assert "Conversion rate = leads converted ÷ leads in the campaign." in page
    # One rate wherever the page shows one (the campaign's fields and its statistics).
    assert set(re.findall(r"\d+\.\d%", page)) == {"33.3%"}
    # The charts' figures per step are the statistics table's (the ledger's, and retention's counts).
    rows = daily_delivery_figures(
        since=T0.date(),
        until=T0.date() + 10 * DAY,
        subject_type="leads.lead",
        subject_ids=Lead.objects.filter(campaign=campaign).values("pk"),
    )
    sent = {
        kind: sum(row.counts["sent"] for row in rows if row.kind == kind and row.channel == "email")
        for kind in ("lead_day0", "lead_day3")
    }
    assert sent == {"lead_day0": 3, "lead_day3": 2}


def test_follow_ups_of_both_days_take_the_same_few_statements_however_many_leads(django_assert_max_num_queries):
    # Two leads due Day 7 and one due Day 3: the opt-outs, both days' skip counts (by status and
    # suppressed address at once) and both days' flags are one statement each; the consent look-up;
    # each day's events and rows, its skip counts by requirement in the rows' statement (issue 31).
    import_leads(
        data=b"name,email\nAsha Verma,asha@example.com\nRavi Kumar,ravi@example.com\n", filename="a.csv", now=T0
    )
    import_leads(data=b"name,email\nMeera Shah,meera@example.com\n", filename="b.csv", now=T0 + 4 * DAY)
    # 8 statements and the savepoint around them in a test (SQLite: a statement a day more, the skip counts).
    with django_assert_max_num_queries(10 if connection.vendor == "postgresql" else 12):
        result = plan_lead_follow_ups(now=T0 + 7 * DAY + dt.timedelta(hours=1))
    assert result.planned["email"] == 3
    assert sorted(k for k in sent_kinds("asha@example.com") if k != "lead_day0") == ["lead_day7"]
    assert sorted(k for k in sent_kinds("meera@example.com") if k != "lead_day0") == ["lead_day3"]
