"""Version 1 of the API: every resource's routes, mounted at /api/ and /api/v1/."""

from typing import cast

from django.conf import settings
from django.urls import include, re_path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.views import HelloView

DOCS_CSP: dict[str, list[str] | str] = {
    **cast("dict[str, list[str]]", settings.SECURE_CSP),
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "worker-src": [CSP.SELF, "blob:"],
}

urlpatterns = [
    re_path(r"^hello/?$", HelloView.as_view(), name="hello"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # One schema for both mounts (the v1 alias documents the same operations). No ReDoc page:
    # its template loads fonts from Google, and the docs must work offline.
    # Swagger UI's init script is a separate file (the split view), so only
    # its inline <style> and data: images need the policy relaxed.
    re_path(r"^docs/?$", csp_override(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url="/api/schema?format=json")), name="docs"),
    re_path(r"", include("tracker.swarm.urls")),
    re_path(r"", include("tracker.policy.urls")),
    re_path(r"", include("accounts.urls")),
    re_path(r"", include("tracker.catalogue.urls")),
]
