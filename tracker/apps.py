from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"

    def ready(self) -> None:
        from tracker import admin_swarm  # noqa: F401  (registers Peer and Snatch with the admin site)
