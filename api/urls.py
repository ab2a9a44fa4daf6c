"""Version 1 of the API: every resource's routes, mounted at /api/ and /api/v1/."""

from django.urls import include, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.views import HelloView

urlpatterns = [
    re_path(r"^hello/?$", HelloView.as_view(), name="hello"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # One schema for both mounts (the v1 alias documents the same operations). No ReDoc page:
    # its template loads fonts from Google, and the docs must work offline.
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url="/api/schema?format=json"), name="docs"),
    re_path(r"", include("tracker.swarm_urls")),
    re_path(r"", include("accounts.urls")),
    re_path(r"", include("tracker.urls")),
]
