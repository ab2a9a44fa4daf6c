"""Template context every page needs."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    """Whether registration is open (the header links to it only then)."""
    return {"registration_open": settings.REGISTRATION_OPEN}
