"""Shapes of the hit-and-run API: a member's requirements, their warnings, a moderator's reason, the members with a record."""

from rest_framework import serializers

from tracker.policy.hnr import LIST_STATES, warning_active
from tracker.policy.models import HnrWarning


class HnrTorrentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class HnrWarningRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    active = serializers.BooleanField(help_text="Counts now: neither cleared nor expired.")


class HnrEntrySerializer(serializers.Serializer):
    """One download's hit-and-run requirement (tracker.policy.hnr.HnrEntry). Durations in seconds."""

    id = serializers.IntegerField(help_text="The snatch's id (POST /api/snatches/{id}/pardon).")
    torrent = HnrTorrentSerializer()
    state = serializers.ChoiceField(
        choices=list(LIST_STATES),
        help_text="pending: before the deadline; overdue: past it, seed before `grace_ends` to avoid a warning; "
        "met; failed (a warning was written); pardoned.",
    )
    completed_at = serializers.DateTimeField(allow_null=True)
    due = serializers.DateTimeField(allow_null=True, help_text="The deadline, frozen when the download completed.")
    grace_ends = serializers.DateTimeField(
        allow_null=True, help_text="When an unmet requirement becomes a warning (pending and overdue only)."
    )
    time_left = serializers.IntegerField(
        allow_null=True, help_text="Seconds to the deadline (pending) or to the grace end (overdue); null once settled."
    )
    seed_time = serializers.IntegerField()
    seed_required = serializers.IntegerField()
    seed_remaining = serializers.IntegerField(help_text="Seconds of seeding still needed (0 once met either way).")
    uploaded = serializers.IntegerField()
    ratio = serializers.FloatField(allow_null=True, help_text="Uploaded on this torrent / the torrent's size.")
    ratio_required = serializers.FloatField(allow_null=True, help_text="The ratio that also meets it (null: seed time only).")
    warning = HnrWarningRefSerializer(allow_null=True)


class WarningSerializer(serializers.ModelSerializer):
    """A hit-and-run warning: it counts (`active`) until `expires_at`, unless cleared before."""

    snatch = serializers.IntegerField(source="snatch_id", allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = HnrWarning
        fields = ["id", "torrent_name", "snatch", "created_at", "expires_at", "cleared_at", "cleared_reason", "active"]
        read_only_fields = fields

    def get_active(self, obj: HnrWarning) -> bool:
        return warning_active(obj, self.context["now"])


class ReasonSerializer(serializers.Serializer):
    """A moderator's reason, kept in the audit trail."""

    reason = serializers.CharField(max_length=200)


class HnrMemberSerializer(serializers.Serializer):
    """A member with a hit-and-run record."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    active_warnings = serializers.IntegerField(help_text="Warnings counting now.")
    warnings = serializers.IntegerField(help_text="Warnings ever.")
    failed = serializers.IntegerField(help_text="Snatches that failed their requirement (pardoned ones excluded).")
