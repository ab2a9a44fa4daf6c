"""The router resources register their viewsets on."""

from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """A DRF router whose routes answer both with and without the trailing slash.

    Usage in a resource's urls: `router = OptionalSlashRouter();
    router.register("torrents", TorrentViewSet, basename="torrent")`, then
    `re_path("", include(router.urls))` in api/urls.py.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
