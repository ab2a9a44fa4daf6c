"""Auth routes, mounted under /api/ and /api/v1/."""

from django.urls import re_path

from accounts import views

urlpatterns = [
    re_path(r"^login/?$", views.LoginView.as_view(), name="login"),
    re_path(r"^token/refresh/?$", views.RefreshView.as_view(), name="token-refresh"),
    re_path(r"^logout/?$", views.LogoutView.as_view(), name="logout"),
    re_path(r"^me/?$", views.MeView.as_view(), name="me"),
]
