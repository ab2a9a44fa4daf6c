"""The pages, mounted at the site root."""

from django.contrib.auth import views as auth_views
from django.urls import path

from web.views import account, torrents

app_name = "web"

urlpatterns = [
    path("", torrents.browse, name="browse"),
    path("torrents/<int:torrent_id>/", torrents.torrent_detail, name="torrent"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", account.register, name="register"),
    path("password/", account.PasswordChangeView.as_view(), name="password-change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password-change-done"),
    path("profile/", account.profile, name="profile"),
    path("profile/passkey/", account.passkey_reset, name="passkey-reset"),
]
