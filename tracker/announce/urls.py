"""The tracker's URLs: what .torrent files point at (outside /api/)."""

from django.urls import path, re_path

from tracker.announce import views

urlpatterns = [
    path("announce/<str:passkey>", views.announce, name="announce"),
    path("scrape/<str:passkey>", views.scrape, name="scrape"),
    re_path(r"^announce/?$", views.announce, name="announce-no-passkey"),
    re_path(r"^scrape/?$", views.scrape, name="scrape-no-passkey"),
    path("bt/announce.php", views.announce, name="announce-php"),
    path("bt/scrape.php", views.scrape, name="scrape-php"),
]
