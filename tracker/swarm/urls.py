"""API routes of the swarm: a torrent's peers and users' snatch history."""

from django.urls import re_path

from tracker.swarm import views

urlpatterns = [
    re_path(r"^torrents/(?P<pk>\d+)/peers/?$", views.TorrentPeersView.as_view(), name="torrent-peers"),
    re_path(r"^me/history/?$", views.HistoryView.as_view(), name="me-history"),
    re_path(r"^users/(?P<pk>\d+)/history/?$", views.HistoryView.as_view(), name="user-history"),
]
