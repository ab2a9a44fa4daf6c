from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"

    def ready(self) -> None:
        from accounts import selectors as account_selectors
        from tracker.catalogue.selectors import uploads_visible_q
        from tracker.swarm import lookups

        lookups.connect_signals()
        account_selectors.uploads_rule_set(uploads_visible_q)  # profiles count only the uploads their viewer may see
        account_selectors.standing_rule_set(_standing_summary)  # GET /api/me shows the member's standing


def _standing_summary(user: object) -> dict[str, object]:
    """A member's standing (tracker.policy.members) as JSON values, for GET /api/me."""
    from tracker.policy.members import member_standing
    from tracker.policy.serializers.standing import StandingSerializer

    return dict(StandingSerializer(member_standing(user)._asdict()).data)
