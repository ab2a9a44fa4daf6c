"""Version 1 of the API: every resource's routes, mounted at /api/ and /api/v1/."""

from django.urls import include, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api.views import HelloView

urlpatterns = [
    re_path(r"^hello/?$", HelloView.as_view(), name="hello"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"", include("tracker.swarm_urls")),
    re_path(r"", include("accounts.urls")),
]
