from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"

    def ready(self) -> None:
        from accounts import selectors as account_selectors
        from tracker.catalogue.selectors import uploads_visible_q
        from tracker.swarm import lookups

        lookups.connect_signals()
        account_selectors.uploads_rule_set(uploads_visible_q)  # profiles count only the uploads their viewer may see
