"""Shapes of users and of the auth endpoints' input and output."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts.models import User


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField()


class LogoutSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(required=False)


class PublicUserSerializer(serializers.ModelSerializer):
    """What anyone logged in may see of a user."""

    ratio = serializers.FloatField(read_only=True, allow_null=True)
    joined = serializers.DateTimeField(source="date_joined", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "role", "joined", "uploaded", "downloaded", "ratio"]
        read_only_fields = fields


class MeSerializer(PublicUserSerializer):
    """What a user sees of themselves: their passkey and announce URL too."""

    announce_url = serializers.SerializerMethodField()

    class Meta(PublicUserSerializer.Meta):
        fields = [*PublicUserSerializer.Meta.fields, "email", "passkey", "announce_url", "is_banned", "hide_in_peers"]
        read_only_fields = fields

    def get_announce_url(self, obj: User) -> str:
        return f"{settings.TRACKER_ANNOUNCE_URL}/announce/{obj.passkey}"


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    user = MeSerializer(required=False)

    def to_representation(self, instance: Any) -> Any:
        return instance
