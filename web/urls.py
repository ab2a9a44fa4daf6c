"""The pages, mounted at the site root."""

from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from web import feeds
from web.views import account, email, invites, members, password, standing, store, torrents, twofactor

app_name = "web"

urlpatterns = [
    path("", torrents.browse, name="browse"),
    path("upload/", torrents.upload, name="upload"),
    path("torrents/<int:torrent_id>/", torrents.torrent_detail, name="torrent"),
    path("torrents/<int:torrent_id>/edit/", torrents.torrent_edit, name="torrent-edit"),
    path("torrents/<int:torrent_id>/download/", torrents.torrent_download, name="torrent-download"),
    path("torrents/<int:torrent_id>/bookmark/", torrents.torrent_bookmark, name="torrent-bookmark"),
    path("torrents/<int:torrent_id>/moderate/", torrents.torrent_moderate, name="torrent-moderate"),
    path("torrents/<int:torrent_id>/comments/", torrents.comment_add, name="comment-add"),
    path("torrents/<int:torrent_id>/freeleech-token/", torrents.torrent_freeleech_token, name="torrent-freeleech-token"),
    path("comments/<int:comment_id>/edit/", torrents.comment_edit, name="comment-edit"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("login/2fa/", twofactor.login_two_factor, name="login-2fa"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", account.register, name="register"),
    path("password/", account.PasswordChangeView.as_view(), name="password-change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password-change-done"),
    path("password/reset/", password.password_reset, name="password-reset"),
    path("password/reset/sent/", password.password_reset_sent, name="password-reset-sent"),
    path("password/reset/done/", password.password_reset_done, name="password-reset-done"),
    path("password/reset/<str:uidb64>/<str:token>/", password.password_reset_set, name="password-reset-confirm"),
    path("email/confirm/<str:uidb64>/<str:token>/", email.email_confirm_page, name="email-confirm"),
    path("profile/email/confirmation/", email.email_confirmation_again, name="email-confirmation-again"),
    path("profile/", account.profile, name="profile"),
    path("profile/passkey/", account.passkey_reset, name="passkey-reset"),
    path("profile/privacy/", account.privacy, name="privacy"),
    path("users/<str:username>/", members.member, name="user"),
    path("profile/keys/", account.api_key_new, name="api-key-new"),
    path("profile/keys/<int:key_id>/revoke/", account.api_key_delete, name="api-key-revoke"),
    path("profile/invites/", invites.invite_new, name="invite-new"),
    path("profile/invites/<int:invite_id>/revoke/", invites.invite_delete, name="invite-revoke"),
    path("invites/tree/", invites.invite_tree_page, name="invite-tree"),
    path("profile/2fa/", twofactor.two_factor, name="two-factor"),
    path("profile/2fa/setup/", twofactor.two_factor_setup, name="two-factor-setup"),
    path("profile/2fa/confirm/", twofactor.two_factor_confirm, name="two-factor-confirm"),
    path("profile/2fa/disable/", twofactor.two_factor_turn_off, name="two-factor-disable"),
    path("profile/2fa/recovery-codes/", twofactor.two_factor_recovery_codes, name="two-factor-recovery-codes"),
    path("feeds/torrents.rss", feeds.TorrentsRss(), name="feed-torrents-rss"),
    path("feeds/torrents.atom", feeds.TorrentsAtom(), name="feed-torrents-atom"),
    path("feeds/bookmarks.rss", feeds.BookmarksRss(), name="feed-bookmarks-rss"),
    path("feeds/bookmarks.atom", feeds.BookmarksAtom(), name="feed-bookmarks-atom"),
    path("feeds/torrents/<int:torrent_id>/download", feeds.feed_download, name="feed-download"),
    path("standing/", standing.standing, name="standing"),
    path("store/", store.store, name="store"),
    # Browsers ask for it on pages that name no icon (the admin's, the API docs').
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
]
