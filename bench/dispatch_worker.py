"""
A dispatch worker for the benchmark: `python -m bench.dispatch_worker [MAX_SECONDS]`.

Sets Django up, says "ready", waits for "go" on stdin (so every worker starts sending at once, after
its start-up), sends every due delivery with dispatch_due_deliveries(), then prints one JSON line:
what it sent, when it started and finished (wall clock), and the CPU time it used while sending.
"""

import json
import os
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from notifications.services.dispatch import dispatch_due_deliveries

    startup_cpu = time.process_time()
    print("ready", flush=True)
    sys.stdin.readline()
    started, cpu = time.time(), time.process_time()
    # With a time limit it stops claiming then, and gives back what it claimed but has not sent.
    max_seconds = float(sys.argv[1]) if len(sys.argv) > 1 else None
    result = dispatch_due_deliveries(max_seconds=max_seconds)
    report = {
        "started": started,
        "finished": time.time(),
        "cpu_seconds": time.process_time() - cpu,
        "startup_cpu_seconds": startup_cpu,
        "sent": result.sent,
        "processed": result.processed,
        "outcomes": {str(status): count for status, count in result.outcomes.items()},
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
