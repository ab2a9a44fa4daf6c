"""Shapes of users and of the auth endpoints' input and output."""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ApiKey, ApiKeyScope, Role, User
from accounts.selectors import member_standing_summary
from accounts.usernames import username_normalize


class NormalizedUsernameMixin:
    """Usernames are compared in NFKC, as stored (accounts.usernames); the page forms normalise them too."""

    def to_internal_value(self, data: Any) -> str:
        return username_normalize(super().to_internal_value(data))  # type: ignore[misc]


class UsernameField(NormalizedUsernameMixin, serializers.CharField):
    pass


class NewUsernameField(NormalizedUsernameMixin, serializers.RegexField):
    """Checked after NFKC: fullwidth "john.doe" is "john.doe"; accounts.services.user_register checks the rest."""


class LoginSerializer(serializers.Serializer):
    username = UsernameField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField()


class LogoutSerializer(serializers.Serializer):
    # Empty is the same as absent (as a form field left empty always was): nothing to revoke.
    refresh_token = serializers.CharField(required=False, allow_blank=True)


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


class MeWithStandingSerializer(MeSerializer):
    """GET /api/me: the member, and their standing under the tracker's rules (as GET /api/me/standing gives it)."""

    standing = serializers.SerializerMethodField()

    class Meta(MeSerializer.Meta):
        fields = [*MeSerializer.Meta.fields, "standing"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_standing(self, obj: User) -> dict[str, Any] | None:
        return member_standing_summary(obj)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    user = MeSerializer(required=False)

    def to_representation(self, instance: Any) -> Any:
        return instance


class UserProfileSerializer(PublicUserSerializer):
    """A member's public profile: no email, passkey or addresses."""

    torrents_uploaded = serializers.IntegerField(read_only=True, default=0)

    class Meta(PublicUserSerializer.Meta):
        fields = [*PublicUserSerializer.Meta.fields, "torrents_uploaded"]
        read_only_fields = fields


class UserAdminSerializer(UserProfileSerializer):
    """What an admin sees after changing a member: the profile plus the ban flag."""

    class Meta(UserProfileSerializer.Meta):
        fields = [*UserProfileSerializer.Meta.fields, "is_banned"]
        read_only_fields = fields


class UserAdminUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_banned = serializers.BooleanField(required=False)


class RegisterSerializer(serializers.Serializer):
    username = NewUsernameField(r"^[\w.@+-]+\Z", max_length=150, min_length=3)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"}, write_only=True)


class PasskeySerializer(serializers.Serializer):
    passkey = serializers.CharField()
    announce_url = serializers.CharField()


class ApiKeySerializer(serializers.ModelSerializer):
    """A personal API key as its owner sees it in lists: never the key itself, nor its hash."""

    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices))
    prefix = serializers.CharField(source="label", read_only=True, help_text="How the key begins (tpk_ and its id), to tell keys apart.")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "last_used_ip", "revoked_at"]
        read_only_fields = fields


class ScopesField(serializers.ListField):
    """A list of scopes; a form field sent once (`scopes=read`) is a list of one, as it is when repeated."""

    def to_internal_value(self, data: Any) -> list[Any]:
        return super().to_internal_value([data] if isinstance(data, str) else data)


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = ScopesField(child=serializers.ChoiceField(choices=ApiKeyScope.choices), min_length=1, max_length=len(ApiKeyScope))


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """The answer to creating a key: the key itself, this once."""

    key = serializers.SerializerMethodField()

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields

    def get_key(self, obj: ApiKey) -> str:
        """The whole key: shown only in this answer, never stored."""
        return str(self.context["key"])
