"""What the benchmark ran on: CPU, cores, memory, PostgreSQL, Python, Django, and how busy it was."""

import os
import platform
from pathlib import Path

import django
import psycopg


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def load_average() -> float:
    return os.getloadavg()[0]


def describe(conn: psycopg.Connection) -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_memory_gib(), 1),
        "postgresql": conn.execute("SHOW server_version").fetchone()[0],
        "python": platform.python_version(),
        "django": django.get_version(),
        "load_at_start": round(load_average(), 2),
    }
