"""Catalogue routes, mounted under /api/ and /api/v1/ (paths with or without a trailing slash)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from tracker.catalogue import views

router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the slash, like every other API path
router.register("categories", views.CategoryViewSet, basename="category")
router.register("forums", views.ForumViewSet, basename="forum")
router.register("torrents", views.TorrentViewSet, basename="torrent")
router.register("comments", views.CommentViewSet, basename="comment")

urlpatterns = [
    re_path(r"^bookmarks/?$", views.BookmarkListView.as_view(), name="bookmarks"),
    re_path(r"^markup/preview/?$", views.MarkupPreviewView.as_view(), name="markup-preview"),
    re_path(r"^stats/?$", views.StatsView.as_view(), name="stats"),
    re_path(r"^torznab/?$", views.TorznabView.as_view(), name="torznab"),
    *router.urls,
]
