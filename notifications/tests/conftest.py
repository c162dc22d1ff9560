import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def student(db):
    return get_user_model().objects.create_user(
        email="asha@example.com",
        password=None,
        name="Asha Verma",
        phone="+919876543210",
        whatsapp_opt_in=True,
    )
