"""API routes of the site's rules: the member's standing, hit-and-runs, bonus points and the store."""

from django.urls import re_path

from tracker.policy.views import bonus as bonus_views
from tracker.policy.views import hnr as hnr_views
from tracker.policy.views import standing as standing_views

urlpatterns: list = [
    # Each feature adds its routes here.
    re_path(r"^me/standing/?$", standing_views.StandingView.as_view(), name="me-standing"),
    re_path(r"^members/watch/?$", standing_views.WatchListView.as_view(), name="members-watch"),
    re_path(r"^me/ledger/?$", bonus_views.LedgerView.as_view(), name="me-ledger"),
    re_path(r"^store/?$", bonus_views.StoreView.as_view(), name="store"),
    re_path(r"^store/purchase/?$", bonus_views.StorePurchaseView.as_view(), name="store-purchase"),
    re_path(r"^torrents/(?P<pk>\d+)/freeleech-token/?$", bonus_views.FreeleechTokenView.as_view(), name="torrent-freeleech-token"),
    re_path(r"^me/hnr/?$", hnr_views.HnrListView.as_view(), name="me-hnr"),
    re_path(r"^users/(?P<pk>\d+)/hnr/?$", hnr_views.HnrListView.as_view(), name="user-hnr"),
    re_path(r"^me/warnings/?$", hnr_views.WarningListView.as_view(), name="me-warnings"),
    re_path(r"^users/(?P<pk>\d+)/warnings/?$", hnr_views.WarningListView.as_view(), name="user-warnings"),
    re_path(r"^hnr/members/?$", hnr_views.HnrMembersView.as_view(), name="hnr-members"),
    re_path(r"^snatches/(?P<pk>\d+)/pardon/?$", hnr_views.SnatchPardonView.as_view(), name="snatch-pardon"),
    re_path(r"^warnings/(?P<pk>\d+)/clear/?$", hnr_views.WarningClearView.as_view(), name="warning-clear"),
]
