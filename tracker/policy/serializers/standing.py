"""Shapes of a member's standing under the site's rules."""

from rest_framework import serializers


class StandingSerializer(serializers.Serializer):
    """GET /api/me/standing: where the member stands, and what the rules will do about it."""

    uploaded = serializers.IntegerField()
    downloaded = serializers.IntegerField()
    ratio = serializers.CharField(help_text='Two decimals, rounded down; "∞" before anything was downloaded.')
    required_ratio = serializers.CharField(help_text="What the member's band of downloaded bytes requires.")
    below_requirement = serializers.BooleanField()
    watch_since = serializers.DateTimeField(allow_null=True, help_text="When the ratio watch began (null: not on watch).")
    watch_ends = serializers.DateTimeField(allow_null=True, help_text="When download rights go, unless the ratio recovers first.")
    can_download = serializers.BooleanField(help_text="May start new downloads and fetch .torrent files (seeding is always allowed).")
    refusal = serializers.CharField(help_text="Why not, in the tracker's own words; empty when the member can.")
    leeching = serializers.IntegerField(help_text="Torrents leeching now.")
    leech_slots = serializers.IntegerField(allow_null=True, help_text="Torrents the member may leech at once (null: no limit).")
    peers_per_torrent = serializers.IntegerField(help_text="Clients allowed per torrent (0: no limit).")
    hnr_pending = serializers.IntegerField(help_text="Completed downloads still to be seeded as required.")
    hnr_failed = serializers.IntegerField()
    warnings = serializers.IntegerField(help_text="Active hit-and-run warnings.")
    warnings_allowed = serializers.IntegerField(help_text="Active warnings that suspend download rights (0: never).")
    bonus_points = serializers.DecimalField(max_digits=14, decimal_places=2)
    freeleech_tokens = serializers.IntegerField()
    freeleech_until = serializers.DateTimeField(allow_null=True, help_text="Personal freeleech until (null: none).")
    tokens_running = serializers.IntegerField(help_text="Torrents with a freeleech token running.")


class WatchMemberSerializer(serializers.Serializer):
    """A member on ratio watch, as moderators see them."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    uploaded = serializers.IntegerField()
    downloaded = serializers.IntegerField()
    ratio = serializers.CharField()
    required_ratio = serializers.CharField()
    watch_since = serializers.DateTimeField()
    watch_ends = serializers.DateTimeField()
    can_download = serializers.BooleanField()
