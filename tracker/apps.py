from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"

    def ready(self) -> None:
        from tracker.swarm import lookups

        lookups.connect_signals()
