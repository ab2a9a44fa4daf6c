"""Top-level routes: the API (current version at /api/ and /api/v1/), the admin, the tracker, the pages."""

from django.contrib import admin
from django.urls import include, path, re_path

from api.views import ApiNotFoundView, VersionNotFoundView
from ops.metrics import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(("api.urls", "api"), namespace="v1")),
    re_path(r"^api/v(?P<version>\d+)(?:/.*)?$", VersionNotFoundView.as_view()),
    path("api/", include(("api.urls", "api"), namespace="api")),
    re_path(r"^api(?:/.*)?$", ApiNotFoundView.as_view()),
    path("metrics", metrics, name="metrics"),
    path("", include("tracker.announce.urls")),
    path("", include("web.urls")),
]

handler400 = "api.views.handler400"
handler403 = "api.views.handler403"
handler404 = "api.views.handler404"
handler500 = "api.views.handler500"
