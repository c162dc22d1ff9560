"""
The settings the test suite runs with (pytest.ini): config.settings in the test environment.

pytest-django reads the settings before any conftest.py runs, so the environment the suite needs
is set here, before config.settings reads it; a variable the shell already sets wins.
"""

import os

os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("MOCK_MODE", "true")
# One process's own cache, whatever .env says: clearing it between tests touches no one else's.
os.environ.setdefault("CACHE_URL", "locmemcache://coursehub-tests")
# The suite speaks Postmark's wire format (tests/fakes.py): its tracking webhook is the mounted one.
os.environ.setdefault("EMAIL_TRACKING_ESP", "postmark")

from config.settings import *  # noqa: F403
