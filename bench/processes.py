"""
Run a process of the app and measure it: wall time, CPU time and peak RSS of that child alone.

Peak RSS is the child's VmHWM, read from /proc while it runs: the rusage of a forked child (wait4's
ru_maxrss) starts from the high-water mark of the process that forked it, here the benchmark itself.
"""

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from .database import BASE_DIR

SAMPLE_SECONDS = 0.1
_running: set[subprocess.Popen] = set()
SETTLED = 10.0  # seconds: shorter runs are mostly start-up, too short to tell growth from imports


@dataclass
class ProcessResult:
    args: list
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system time of the child (wait4)
    peak_rss_mb: float  # the child's high-water mark since it started (VmHWM)
    timed_out: bool
    rss_samples: list = field(default_factory=list)  # (seconds since start, RSS MB)
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def still_growing(self) -> bool | None:
        """Whether RSS in the second half of the run rose over 10% above its peak in the second quarter.

        None for runs too short to tell (start-up, not the work, fills their first seconds).
        """
        if self.seconds < SETTLED or len(self.rss_samples) < 8:
            return None
        quarter, half = self.seconds / 4, self.seconds / 2
        before = max((rss for at, rss in self.rss_samples if quarter < at <= half), default=0.0)
        after = max((rss for at, rss in self.rss_samples if at > half), default=0.0)
        return after > before * 1.1


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """Return (RSS now, peak RSS so far) of a running process, in MB."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    values[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        return None
    return (values["VmRSS"], values["VmHWM"]) if len(values) == 2 else None


def start(args: list, *, env: dict, talk: bool = False) -> subprocess.Popen:
    """Start a process of the app in the project directory.

    Its output goes to files, read when it ends; with `talk`, stdin and stdout are pipes instead
    (for a short handshake: the caller must not let the child fill the pipe).
    """
    # The files outlive this call: finish() reads and closes them when the process has ended.
    stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    stdout = subprocess.PIPE if talk else tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    stdin = subprocess.PIPE if talk else subprocess.DEVNULL
    process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdin=stdin, stdout=stdout, stderr=stderr, text=True)
    _running.add(process)
    process.bench_stdout = None if talk else stdout
    process.bench_stderr = stderr
    process.bench_started = time.monotonic()
    return process


def finish(process: subprocess.Popen, *, timeout: float | None = None) -> ProcessResult:
    """Wait for `process` (stopping it after `timeout` seconds); return what it used.

    The child is reaped with os.wait4 so its own rusage is read: RUSAGE_CHILDREN would give the
    largest of every child this process ever waited for.
    """
    samples, peak, timed_out = [], 0.0, False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        elapsed = time.monotonic() - process.bench_started
        if memory := _memory_mb(process.pid):
            samples.append((elapsed, memory[0]))
            peak = max(peak, memory[1])
        if timeout is not None and elapsed > timeout and not timed_out:
            timed_out = True
            process.send_signal(signal.SIGTERM)
        time.sleep(SAMPLE_SECONDS)
    seconds = time.monotonic() - process.bench_started
    _running.discard(process)
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = _read(process.bench_stdout) if process.bench_stdout else process.stdout.read()
    stderr = _read(process.bench_stderr)
    return ProcessResult(
        args=process.args,
        returncode=process.returncode,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak,
        timed_out=timed_out,
        rss_samples=samples,
        stdout=stdout,
        stderr=stderr,
    )


def _read(file) -> str:
    file.seek(0)
    text = file.read()
    file.close()
    return text


def run(args: list, *, env: dict, timeout: float | None = None) -> ProcessResult:
    return finish(start(args, env=env), timeout=timeout)


def stop_all() -> None:
    """Stop the processes this benchmark started and has not waited for (it is being interrupted)."""
    for process in list(_running):
        process.kill()
        process.wait()
        _running.discard(process)
