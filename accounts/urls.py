"""Auth routes, mounted under /api/ and /api/v1/."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from accounts import views

router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the slash, like every other API path
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    re_path(r"^login/?$", views.LoginView.as_view(), name="login"),
    re_path(r"^login/2fa/?$", views.LoginTwoFactorView.as_view(), name="login-2fa"),
    re_path(r"^token/refresh/?$", views.RefreshView.as_view(), name="token-refresh"),
    re_path(r"^logout/?$", views.LogoutView.as_view(), name="logout"),
    re_path(r"^me/?$", views.MeView.as_view(), name="me"),
    re_path(r"^me/passkey/?$", views.PasskeyView.as_view(), name="me-passkey"),
    re_path(r"^me/keys/?$", views.ApiKeyListView.as_view(), name="me-keys"),
    re_path(r"^me/keys/(?P<pk>\d+)/?$", views.ApiKeyDetailView.as_view(), name="me-key"),
    re_path(r"^me/2fa/?$", views.TwoFactorView.as_view(), name="me-2fa"),
    re_path(r"^me/2fa/confirm/?$", views.TwoFactorConfirmView.as_view(), name="me-2fa-confirm"),
    re_path(r"^me/2fa/disable/?$", views.TwoFactorDisableView.as_view(), name="me-2fa-disable"),
    re_path(r"^me/2fa/recovery-codes/?$", views.TwoFactorRecoveryCodesView.as_view(), name="me-2fa-recovery-codes"),
    re_path(r"^register/?$", views.RegisterView.as_view(), name="register"),
    re_path(r"^password/reset/?$", views.PasswordResetView.as_view(), name="password-reset"),
    re_path(r"^password/reset/confirm/?$", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    re_path(r"^email/confirm/?$", views.EmailConfirmView.as_view(), name="email-confirm"),
    re_path(r"^me/email/confirmation/?$", views.EmailConfirmationView.as_view(), name="me-email-confirmation"),
    re_path(r"^me/invites/?$", views.InviteListView.as_view(), name="me-invites"),
    re_path(r"^me/invites/(?P<pk>\d+)/?$", views.InviteDetailView.as_view(), name="me-invite"),
    re_path(r"^users/(?P<pk>\d+)/invitees/?$", views.InviteesView.as_view(), name="user-invitees"),
    *router.urls,
]
