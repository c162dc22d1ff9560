"""One run of a job at a time: a PostgreSQL advisory lock, or a file lock on SQLite."""

import contextlib
import fcntl
import zlib
from pathlib import Path

from django.conf import settings
from django.db import connection


def _lock_id(name: str) -> int:
    # A stable 63-bit key per job name, namespaced so other advisory locks do not collide.
    return (zlib.crc32(f"coursehub.job.{name}".encode()) << 16) | 0x5EED


@contextlib.contextmanager
def job_lock(name: str, *, exclusive: bool = True):
    """Yield True when this process holds the job's lock, False when another run holds it."""
    if not exclusive:
        yield True
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_id(name)])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_id(name)])
        return
    directory = Path(settings.BASE_DIR) / "var" / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
