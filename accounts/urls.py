"""Auth routes, mounted under /api/ and /api/v1/."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from accounts import views

router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the slash, like every other API path
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    re_path(r"^login/?$", views.LoginView.as_view(), name="login"),
    re_path(r"^token/refresh/?$", views.RefreshView.as_view(), name="token-refresh"),
    re_path(r"^logout/?$", views.LogoutView.as_view(), name="logout"),
    re_path(r"^me/?$", views.MeView.as_view(), name="me"),
    re_path(r"^me/passkey/?$", views.PasskeyView.as_view(), name="me-passkey"),
    re_path(r"^me/keys/?$", views.ApiKeyListView.as_view(), name="me-keys"),
    re_path(r"^me/keys/(?P<pk>\d+)/?$", views.ApiKeyDetailView.as_view(), name="me-key"),
    re_path(r"^register/?$", views.RegisterView.as_view(), name="register"),
    *router.urls,
]
