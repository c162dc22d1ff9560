"""
`python -m bench.copy_sandbox`: what the template bombs of issue 23 cost, at save and at send.

Each case runs in a child process of its own (its peak RSS is its own): "save" is the check a version
passes before it is saved (notifications.editor.services.template_problems); "send" renders the version
as dispatch does for a real recipient (notifications.copy.sandbox.render, with a name that is not the
sample's). No database is needed. Prints one line per case and phase: seconds, peak RSS growth, outcome.
"""

import json
import os
import resource
import subprocess
import sys
import time

LETTERS = "x" * 40
CASES = {
    # A filter argument that asks for a 200 MB string.
    "center": '{{ first_name|center:"200000000" }}',
    # Four loops of 40 inside each other: 2.56 million iterations.
    "nested_loops": (
        f'{{% for a in "{LETTERS}"|make_list %}}{{% for b in "{LETTERS}"|make_list %}}'
        f'{{% for c in "{LETTERS}"|make_list %}}{{% for d in "{LETTERS}"|make_list %}}'
        "{{ first_name }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
    ),
    # The same loops, only for a name that is not the sample's: cheap when saved, costly when sent.
    "guarded": (
        '{% if first_name != "Asha" %}'
        f'{{% for a in "{LETTERS}"|make_list %}}{{% for b in "{LETTERS}"|make_list %}}'
        f'{{% for c in "{LETTERS}"|make_list %}}{{% for d in "{LETTERS}"|make_list %}}'
        "{{ first_name }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endif %}"
    ),
}
TIMEOUT = 120


def _child(case: str, phase: str) -> None:
    import django

    django.setup()
    import lms.messages  # noqa: F401  (declares the kinds)
    from notifications.copy import sandbox
    from notifications.editor import services
    from notifications.kinds import get_kind

    kind = get_kind("payment_reminder")
    source = CASES[case]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if phase == "save":
        problems = services.template_problems(kind=kind, channel="email", parts={"subject": "Pay", "text": source})
        outcome = "refused: " + str(problems)[:160] if problems else "saved"
    else:
        context = sandbox.sandbox_context(kind, {**kind.sample_context(), "name": "Ravi Kumar", "first_name": "Ravi"})
        try:
            output = sandbox.render(source, context, autoescape=False)
            outcome = f"rendered {len(output):,} characters"
        except Exception as error:  # what dispatch records as the message's failure
            outcome = f"failed: {str(error)[:160]}"
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"seconds": round(seconds, 3), "peak_rss_growth_mb": round(grown, 1), "outcome": outcome}))


def main() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings")}
    print(f"{'case':<14} {'phase':<5} {'seconds':>8} {'RSS MB':>7}  outcome")
    for case in CASES:
        for phase in ("save", "send"):
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "bench.copy_sandbox", "--child", case, phase],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=TIMEOUT,
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                result = {"seconds": TIMEOUT, "peak_rss_growth_mb": float("nan"), "outcome": "still running: killed"}
            except (IndexError, json.JSONDecodeError):
                result = {"seconds": float("nan"), "peak_rss_growth_mb": float("nan"), "outcome": done.stderr[-200:]}
            print(
                f"{case:<14} {phase:<5} {result['seconds']:>8.3f} {result['peak_rss_growth_mb']:>7.1f}"
                f"  {result['outcome']}"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        main()
