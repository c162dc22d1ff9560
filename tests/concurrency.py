"""Run things at the same moment from several database connections, for the tests of races."""

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(*calls: Callable[[], object], timeout: float = 30) -> list:
    """Call each of `calls` in a thread of its own, released together; return what each returned or
    the exception it raised, in order. Each thread has its own connection, closed when it is done."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout)
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes
