"""
`python -m bench.reach [--students 1000] [--whatsapp-share 0.8] [--late-enrolment] [--seed 29]`: the reach
ladder on a simulated cohort, against fake providers over HTTP.

One live session, `--students` enrolled (a share opted into WhatsApp, everyone with an email), in a
database of its own (coursehub_reach_bench, created, migrated and dropped). A fake Meta Graph API and
a fake Postmark on 127.0.0.1 accept every message; what then becomes of each is drawn per message:
WhatsApp 20 % never delivered (half of those with Meta's "failed" status, half silent), 10 % delivered
late (15 to 40 minutes), the rest delivered within 30 s and half of them read; email 5 % bounce, the
rest delivered within 30 s. Each receipt is posted, signed, to the real webhook views (Meta's
X-Hub-Signature-256, Postmark's basic auth) at its simulated moment. The real jobs run on simulated
time (time_machine): the 24-hour reminder every 10 minutes, starting soon every 5, the reach ladder
and the dispatcher every minute, up to 3 minutes after the start. With --late-enrolment the students
enrol 40 minutes before the start (no 24-hour reminder: the ladder does the work).

Prints, beside each target: reachable students reached >= REACH_MINUTES before the start (and without
the ladder's steps), the longest time from a trigger (a failure receipt, a wait running out, the
ladder opening) to its decision, steps sent after a read, session messages sent after the start,
duplicates (provider requests per row), the cost per reached student. Not a test: run it by hand.
"""

import argparse
import base64
import datetime as dt
import heapq
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/coursehub_reach_bench"
START = dt.datetime(2026, 11, 25, 4, 30, tzinfo=dt.UTC)  # 10:00 in Kolkata
WEBHOOK_SECRET = "hooks:bench"
TEMPLATES = "session_24h=session_24h_v1,session_15min=session_15min_v1,session_live=session_live_v1"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reach", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--whatsapp-share", type=float, default=0.8, help="students opted into WhatsApp (0.8)")
    parser.add_argument("--late-enrolment", action="store_true", help="enrol 40 min before the start")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--database-url", default=os.environ.get("REACH_BENCH_DATABASE_URL", DATABASE_URL))
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench import database
    from tests.fake_graph import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, FakeGraph
    from tests.fakes import FakeProvider, postmark_ok

    url = database.bench_database_url(args.database_url)
    database.create_database(url)
    graph, postmark = FakeGraph(), FakeProvider(default=postmark_ok)
    with graph, postmark:
        overrides = {
            "DJANGO_ENV": "test",
            "CACHE_URL": "locmemcache://",
            "SITE_URL": "https://school.example",
            "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
            "POSTMARK_SERVER_TOKEN": "bench-token",
            "POSTMARK_API_URL": postmark.url + "/",
            "ANYMAIL_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "WHATSAPP_BACKEND": "notifications.channels.whatsapp.meta.WhatsAppBackend",
            "META_GRAPH_API_URL": graph.api_url,
            "META_WHATSAPP_ACCESS_TOKEN": "EAAG-bench",
            "META_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "META_WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID,
            "META_WHATSAPP_APP_SECRET": APP_SECRET,
            "META_WHATSAPP_TEMPLATES": TEMPLATES,
            "NOTIFICATIONS_QUIET_HOURS": "21:00-08:00",
        }
        os.environ.update(database.app_env(url, **overrides))
        try:
            database.migrate(url)
            import django

            django.setup()
            figures = Simulation(args, graph, postmark).run()
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep_database:
                database.drop_database(url)
    print_figures(figures, args)


class Simulation:
    def __init__(self, args, graph, postmark):
        self.args, self.graph, self.postmark = args, graph, postmark
        self.random = random.Random(args.seed)
        self.events: list = []  # (moment, order, action, delivery id, extra)
        self.scheduled: set[int] = set()
        self.order = 0
        self.webhook_seconds: list[float] = []

    # --- the cohort -------------------------------------------------------------------------------

    def make_cohort(self, enrolled_at: dt.datetime):
        import time_machine

        from lms.models import Course, Enrollment, LiveSession, User

        with time_machine.travel(enrolled_at, tick=False):
            course = Course.objects.create(title="Data Science Bootcamp", slug="ds-bootcamp")
            self.session = LiveSession.objects.create(
                course=course, title="Intro to Pandas", scheduled_at=START, meeting_url="https://meet.example.com/p"
            )
            users = User.objects.bulk_create(
                User(
                    email=f"student{n}@example.com",
                    name=f"Student {n}",
                    phone=f"+9198{n:08d}",
                    whatsapp_opt_in=self.random.random() < self.args.whatsapp_share,
                    timezone="Asia/Kolkata",
                    locale="en_IN",
                )
                for n in range(self.args.students)
            )
            Enrollment.objects.bulk_create(Enrollment(student=user, course=course) for user in users)

    # --- what becomes of each message --------------------------------------------------------------

    def push(self, moment, action, delivery_id, extra=None):
        self.order += 1
        heapq.heappush(self.events, (moment, self.order, action, delivery_id, extra))

    def draw_fates(self):
        """Each message sent since the last look: its receipts, drawn now, posted at their moments."""
        from notifications.models import Delivery

        rows = Delivery.objects.filter(sent_at__isnull=False).exclude(pk__in=self.scheduled)
        for row in rows.only("pk", "channel", "sent_at", "provider_message_id", "to_address"):
            self.scheduled.add(row.pk)
            draw, sent = self.random.random(), row.sent_at
            seconds = dt.timedelta(seconds=self.random.uniform(2, 30))
            if row.channel == "whatsapp":
                if draw < 0.10:
                    self.push(sent + seconds * 4, "wa_failed", row.pk)
                elif draw < 0.20:
                    pass  # never a word
                elif draw < 0.30:
                    self.push(sent + dt.timedelta(minutes=self.random.uniform(15, 40)), "wa_delivered", row.pk)
                else:
                    self.push(sent + seconds, "wa_delivered", row.pk)
                    if self.random.random() < 0.5:
                        self.push(sent + seconds + dt.timedelta(minutes=self.random.uniform(1, 20)), "wa_read", row.pk)
            elif draw < 0.05:
                self.push(sent + seconds * 2, "email_bounced", row.pk)
            else:
                self.push(sent + seconds, "email_delivered", row.pk)

    def post(self, moment, action, delivery_id):
        """One receipt, signed, through the real webhook view, with the clock at its moment."""
        import time_machine
        from django.test import Client

        from notifications.models import Delivery
        from tests.fake_graph import APP_SECRET, signed, status_update, webhook

        row = Delivery.objects.get(pk=delivery_id)
        client = Client(REMOTE_ADDR="127.0.0.1")
        with time_machine.travel(moment, tick=False):
            began = time.perf_counter()
            if action.startswith("wa_"):
                status = {"wa_failed": "failed", "wa_delivered": "delivered", "wa_read": "read"}[action]
                errors = [{"code": 131049, "title": "Not delivered to keep engagement healthy"}]
                update = status_update(
                    row.provider_message_id,
                    status,
                    recipient=row.to_address,
                    delivery_id=row.pk,
                    errors=errors if status == "failed" else None,
                )
                update["timestamp"] = str(int(moment.timestamp()))
                body, signature = signed(webhook({"statuses": [update]}), APP_SECRET)
                response = client.post(
                    "/webhooks/meta/whatsapp/",
                    body,
                    content_type="application/json",
                    HTTP_X_HUB_SIGNATURE_256=signature,
                )
            else:
                at = moment.isoformat().replace("+00:00", "Z")
                payload = (
                    {"RecordType": "Delivery", "DeliveredAt": at, "Details": "250 OK", "Recipient": row.to_address}
                    if action == "email_delivered"
                    else {
                        "RecordType": "Bounce",
                        "ID": row.pk,
                        "Type": "HardBounce",
                        "BouncedAt": at,
                        "Email": row.to_address,
                        "Description": "Unknown user",
                        "Details": "550 5.1.1 user unknown",
                    }
                )
                payload |= {"MessageID": row.provider_message_id, "Metadata": {"delivery_id": str(row.pk)}}
                auth = "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode()
                response = client.post(
                    "/anymail/postmark/tracking/",
                    json.dumps(payload),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=auth,
                )
            self.webhook_seconds.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise SystemExit(f"The {action} webhook answered {response.status_code}: {response.content[:200]!r}")

    # --- simulated time -----------------------------------------------------------------------------

    def ticks(self) -> list[dt.datetime]:
        minute = dt.timedelta(minutes=1)
        if self.args.late_enrolment:
            first = START - dt.timedelta(minutes=40)
            return [first + n * minute for n in range(44)]
        moments = [START - dt.timedelta(hours=24, minutes=5) + n * minute for n in range(66)]
        moment = moments[-1]
        while moment < START - dt.timedelta(minutes=45):
            moment += dt.timedelta(minutes=10)
            moments.append(moment)
        while moment < START + dt.timedelta(minutes=3):
            moment += minute
            moments.append(moment)
        return moments

    def run(self) -> dict:
        import time_machine

        from lms import reminders
        from lms.reach import run_reach_ladder
        from notifications.api import dispatch_due_deliveries

        ticks = self.ticks()
        self.make_cohort(ticks[0] - dt.timedelta(minutes=1))
        began = time.monotonic()
        for moment in ticks:
            while self.events and self.events[0][0] <= moment:
                at, _, action, delivery_id, _ = heapq.heappop(self.events)
                self.post(at, action, delivery_id)
            with time_machine.travel(moment, tick=False):
                if moment.minute % 10 == 0:
                    reminders.plan_session_reminders_24h(now=moment)
                if moment.minute % 5 == 0:
                    reminders.plan_session_reminders_15min(now=moment)
                run_reach_ladder(now=moment)
                dispatch_due_deliveries(now=moment)
            self.draw_fates()
        while self.events:  # the receipts still on their way after the run (late ones): applied too
            at, _, action, delivery_id, _ = heapq.heappop(self.events)
            self.post(at, action, delivery_id)
        return self.figures(time.monotonic() - began)

    # --- the figures ---------------------------------------------------------------------------------

    def figures(self, seconds: float) -> dict:
        from django.db.models import Min

        from lms.reach import REMINDERS, STEP_KIND, deadline, ladder, opens_at, wait_for
        from lms.session_figures import session_figures
        from lms.wanted import session_event_key
        from notifications.models import Delivery, DeliveryEvent

        session = self.session
        key = session_event_key(session)
        figures = session_figures(session)
        rows = Delivery.objects.filter(event__subject_id=session.pk, event__subject_type="lms.livesession")
        steps = rows.filter(event__key__startswith=f"{STEP_KIND}:{key}:step")
        regular = rows.filter(event__key__in=[f"{kind}:{key}" for kind in REMINDERS])
        before = deadline(session)
        by_receipt = set(regular.filter(delivered_at__lte=before).values_list("recipient_id", flat=True)) | set(
            regular.filter(opened_at__lte=before).values_list("recipient_id", flat=True)
        )

        # From each step's trigger to its decision (the row's creation, on the simulated clock).
        latencies, counted = [], Counter()
        per_student: dict[int, dict[int, Delivery]] = {}
        for row in steps.select_related("event"):
            per_student.setdefault(row.recipient_id, {})[int(row.event.key.rsplit(":step", 1)[1])] = row
        failures = dict(
            DeliveryEvent.objects.filter(delivery__in=steps, status__in=["failed", "bounced"])
            .values_list("delivery_id")
            .annotate(at=Min("at"))
        )
        opening = opens_at(session)
        for student_steps in per_student.values():
            numbers = sorted(student_steps)
            for index, number in enumerate(numbers):
                row = student_steps[number]
                if index == 0:
                    trigger, why = opening, "ladder opening"
                else:
                    earlier = student_steps[numbers[index - 1]]
                    if earlier.pk in failures:
                        trigger, why = failures[earlier.pk], "failure receipt"
                    else:
                        sent = earlier.sent_at or earlier.created_at
                        steps_after = len(ladder()) - numbers[index - 1]
                        trigger, why = sent + wait_for(sent, steps_after=steps_after, session=session), "wait"
                latencies.append(((row.created_at - trigger).total_seconds(), why))
                counted[why] += 1

        first_read = dict(
            rows.filter(opened_at__isnull=False).values_list("recipient_id").annotate(at=Min("opened_at"))
        )
        after_read = steps.filter(sent_at__isnull=False).exclude(recipient_id__isnull=True)
        after_read = sum(
            1 for row in after_read if row.recipient_id in first_read and row.sent_at > first_read[row.recipient_id]
        )
        after_start = rows.exclude(event__kind="session_live").filter(sent_at__gte=session.scheduled_at).count()
        requests = Counter()
        for body in self.graph.sent():
            requests[("whatsapp", body.get("biz_opaque_callback_data", ""))] += 1
        for request in self.postmark.requests:
            body = request.json()
            for message in body if isinstance(body, list) else [body]:
                requests[("email", json.dumps(message.get("Metadata", {}), sort_keys=True))] += 1
        duplicates = sum(count - 1 for count in requests.values() if count > 1)
        return {
            "figures": figures,
            "reached_without_steps": len(by_receipt),
            "steps": steps.count(),
            "steps_by_channel": Counter(steps.values_list("channel", flat=True)),
            "latencies": latencies,
            "latency_counts": counted,
            "after_read": after_read,
            "after_start": after_start,
            "duplicates": duplicates,
            "requests": sum(requests.values()),
            "webhook_ms": sorted(1000 * s for s in self.webhook_seconds),
            "seconds": seconds,
        }


def print_figures(result: dict, args) -> None:
    figures = result["figures"]
    reachable = figures.reachable or 1
    worst = max(result["latencies"], default=(0.0, "none"))
    webhooks = result["webhook_ms"]
    print(
        f"reach ladder: {args.students} students, {args.whatsapp_share:.0%} on WhatsApp"
        f"{', enrolled 40 min before the start' if args.late_enrolment else ''}; seed {args.seed};"
        f" {result['seconds']:.0f} s of real time"
    )
    print(f"  reachable students                     {figures.reachable} of {figures.enrolled}")
    print(
        f"  reached >= 10 min before the start      {figures.reached / reachable:7.1%}   target >= 98 %"
        f"   (without the ladder's steps: {result['reached_without_steps'] / reachable:.1%})"
    )
    print(f"  by channel                             {figures.by_channel}")
    print(
        f"  longest trigger -> decision            {worst[0]:7.0f} s   target <= 60 s   ({worst[1]};"
        f" decisions: {dict(result['latency_counts'])})"
    )
    if webhooks:
        print(
            f"  a receipt's webhook, with its decision  median {webhooks[len(webhooks) // 2]:.0f} ms,"
            f" max {webhooks[-1]:.0f} ms (real time, {len(webhooks)} receipts)"
        )
    print(f"  steps sent after a read                {result['after_read']:7d}   target 0")
    print(f"  session messages sent after the start  {result['after_start']:7d}   target 0")
    print(
        f"  duplicates (provider requests per row) {result['duplicates']:7d}   target 0"
        f"  ({result['requests']} requests)"
    )
    print(f"  ladder steps                           {result['steps']:7d}   {dict(result['steps_by_channel'])}")
    print(f"  cost per reached student               {figures.cost_per_reached:>7}")


if __name__ == "__main__":
    main()
