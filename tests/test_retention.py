"""Retention: old finished deliveries become daily counts; nothing live is touched; dispatch never waits."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from notifications.models import Delivery, DeliveryDailyCount, DeliveryEvent, MessageEvent, MessageGroup
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.retention import _purge_window, purge_old_deliveries, purge_rows
from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db
Status = Delivery.Status
NOW = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=100)  # past the default 90 days


def old_delivery(status, *, created_at=OLD, **fields):
    delivery = DeliveryFactory(status=status, created_at=created_at, **fields)
    DeliveryEvent.objects.create(delivery=delivery, at=created_at, status=status, detail="as it happened")
    return delivery


def test_old_finished_deliveries_go_with_their_history_and_are_counted_by_day_kind_and_channel():
    sent_at = OLD + dt.timedelta(minutes=3)
    for status in (Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED, Status.BOUNCED, Status.FAILED):
        old_delivery(status, sent_at=sent_at if status != Status.FAILED else None)
    old_delivery(Status.SUPPRESSED, channel="whatsapp")
    recent = old_delivery(Status.SENT, created_at=NOW - dt.timedelta(days=10))

    result = purge_old_deliveries(now=NOW)

    assert result.outcomes["deliveries"] == 7 and result.outcomes["delivery_events"] == 7
    assert list(Delivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert list(DeliveryEvent.objects.values_list("delivery_id", flat=True)) == [recent.pk]
    email = DeliveryDailyCount.objects.get(channel="email")
    assert (email.day, email.kind, email.subject_id) == (OLD.date(), "session_24h", 0)
    counts = {name: getattr(email, name) for name in ("rows", "sent", "delivered", "opened", "clicked")}
    assert counts == {"rows": 6, "sent": 4, "delivered": 3, "opened": 2, "clicked": 1}
    assert (email.bounced, email.failed, email.first_sent_at) == (1, 1, sent_at)
    whatsapp = DeliveryDailyCount.objects.get(channel="whatsapp")
    assert (whatsapp.rows, whatsapp.suppressed, whatsapp.sent) == (1, 1, 0)


def test_old_events_go_with_their_shared_contexts_once_no_delivery_names_them():
    gone = old_delivery(Status.SENT, sent_at=OLD)
    kept = old_delivery(Status.PENDING)
    young = old_delivery(Status.SENT, created_at=NOW - dt.timedelta(days=10))
    MessageEvent.objects.filter(pk__in=[gone.event_id, kept.event_id]).update(created_at=OLD)
    MessageGroup.objects.create(event_id=gone.event_id, digest="a", context={"title": "Python Basics"})
    MessageGroup.objects.create(event_id=kept.event_id, digest="b", context={"title": "SQL"})

    result = purge_old_deliveries(now=NOW)

    assert result.outcomes["message_events"] == 1
    assert set(MessageEvent.objects.values_list("pk", flat=True)) == {kept.event_id, young.event_id}
    assert list(MessageGroup.objects.values_list("event_id", flat=True)) == [kept.event_id]


def test_purge_never_touches_a_pending_sending_or_unknown_row_however_old():
    kept = [old_delivery(status) for status in (Status.PENDING, Status.SENDING, Status.UNKNOWN)]

    result = purge_old_deliveries(now=NOW)

    assert result.outcomes["deliveries"] == 0
    assert sorted(Delivery.objects.values_list("pk", flat=True)) == sorted(d.pk for d in kept)
    assert DeliveryEvent.objects.count() == 3
    assert not DeliveryDailyCount.objects.exists()


def test_a_second_purge_adds_to_the_days_counts_instead_of_replacing_them():
    old_delivery(Status.SENT, sent_at=OLD)
    purge_old_deliveries(now=NOW)
    old_delivery(Status.SENT, sent_at=OLD - dt.timedelta(hours=1))

    purge_old_deliveries(now=NOW)

    count = DeliveryDailyCount.objects.get()
    assert (count.rows, count.sent, count.first_sent_at) == (2, 2, OLD - dt.timedelta(hours=1))


def test_many_small_batches_remove_every_old_row_and_keep_the_young_ones(settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "RETENTION_BATCH_SIZE": 3}
    for _ in range(10):
        old_delivery(Status.SENT, sent_at=OLD)
    young = [old_delivery(Status.SENT, created_at=NOW - dt.timedelta(days=1)) for _ in range(4)]

    purge_old_deliveries(now=NOW)

    assert sorted(Delivery.objects.values_list("pk", flat=True)) == [d.pk for d in young]
    assert DeliveryDailyCount.objects.get().rows == 10


def test_test_sends_are_removed_but_never_counted():
    old_delivery(Status.SENT, sent_at=OLD, is_test=True)

    purge_old_deliveries(now=NOW)

    assert not Delivery.objects.exists() and not DeliveryDailyCount.objects.exists()


def test_a_payment_reminder_stays_while_its_payment_is_pending_so_it_is_never_sent_twice():
    from lms.models import Payment
    from lms.tests.factories import PaymentFactory

    pending, paid = PaymentFactory(), PaymentFactory(status=Payment.Status.PAID)
    reminders = {
        payment.pk: old_delivery(
            Status.SENT, kind="payment_reminder", subject_type="lms.payment", subject_id=payment.pk, sent_at=OLD
        )
        for payment in (pending, paid)
    }

    result = purge_old_deliveries(now=NOW)

    assert list(Delivery.objects.values_list("pk", flat=True)) == [reminders[pending.pk].pk]
    assert (result.outcomes["deliveries"], result.outcomes["kept_still_wanted"]) == (1, 1)


def test_a_dry_run_counts_what_would_go_and_removes_nothing():
    old_delivery(Status.SENT, sent_at=OLD)

    result = purge_old_deliveries(now=NOW, dry_run=True)

    assert result.outcomes["deliveries"] == 1 and Delivery.objects.count() == 1


def test_old_job_logs_go_in_batches_and_recent_ones_stay():
    from automation.models import JobExecutionLog

    old = [JobExecutionLog.objects.create(job_name="deliver_messages", started_at=OLD) for _ in range(3)]
    recent = JobExecutionLog.objects.create(job_name="deliver_messages", started_at=NOW)

    deleted = purge_rows(model=JobExecutionLog, field_name="started_at", before=NOW - dt.timedelta(days=30))

    assert deleted == len(old)
    assert list(JobExecutionLog.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dispatch_worker_sends_while_a_purge_batch_holds_its_rows(settings):
    """A purge batch locks only the old finished rows it removes: a worker claiming, sending and
    recording pending rows at the same moment never waits for it."""
    old_delivery(Status.DELIVERED, sent_at=OLD)
    # Old, but still to send (a kind the gate asks nothing about): the purge leaves it.
    pending = DeliveryFactory(
        kind="recording_available", subject_type="lms.recording", created_at=OLD, next_attempt_at=OLD
    )
    in_batch, worker_done, outcome = threading.Event(), threading.Event(), {}

    def dispatch():
        in_batch.wait(10)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '3s'")  # waiting on the purge's locks would fail
            outcome["result"] = dispatch_due_deliveries(now=NOW)
        except Exception as exc:  # reported below
            outcome["error"] = exc
        finally:
            worker_done.set()
            connection.close()

    worker = threading.Thread(target=dispatch)
    worker.start()
    with transaction.atomic():
        removed = _purge_window(window=_everything(), cutoff=NOW - dt.timedelta(days=90))
        in_batch.set()
        assert worker_done.wait(20), "the dispatch worker waited for the purge batch"
    worker.join(5)

    assert "error" not in outcome, outcome.get("error")
    assert removed[0] == 1
    assert outcome["result"].sent == 1 and len(mail.outbox) == 1
    assert Delivery.objects.get().pk == pending.pk


def _everything():
    from django.db.models import Q

    return Q(id__gte=0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_old_event_planned_again_while_the_purge_runs_is_kept_with_its_new_rows():
    """Planning that finds an old unused event (its upsert locks it) and names it in new rows: the
    purge waits for it, sees the rows, and keeps the event; nothing it sends is left without one."""
    from notifications.services.planning import event_ids
    from notifications.services.retention import purge_unused_events

    event = MessageEvent.objects.create(kind="session_24h", key="session_24h:42@20260801T0430", created_at=OLD)
    purge_started, purged = threading.Event(), {}

    def purge():
        purge_started.set()
        try:
            purged["count"] = purge_unused_events(before=NOW - dt.timedelta(days=90))
        finally:
            connection.close()

    with transaction.atomic():
        found = event_ids({event.key: {"kind": "session_24h", "created_at": NOW}})[event.key]
        purger = threading.Thread(target=purge)
        purger.start()
        purge_started.wait(5)
        purger.join(0.5)  # the purge is now waiting for the event this transaction locked
        DeliveryFactory(event_id=found, to_address="asha@example.com", status=Status.PENDING)
    purger.join(10)

    assert found == event.pk and purged["count"] == 0
    assert MessageEvent.objects.filter(pk=event.pk).exists()
    assert Delivery.objects.get().event_id == event.pk
