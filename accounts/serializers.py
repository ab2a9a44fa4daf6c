"""Shapes of users and of the auth endpoints' input and output."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.invites import INVITE_CODE_MAX_LENGTH, INVITE_STATES, INVITES_GRANT_MAX, invite_state, invites_unlimited
from accounts.models import ApiKey, ApiKeyScope, Invite, Role, User
from accounts.selectors import member_standing_summary, user_stats_visible
from accounts.twofactor import two_factor_enabled
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


_HIDDEN = "null when the member hides their figures (stats_public false): only they and moderators see them"


class PublicUserSerializer(serializers.ModelSerializer):
    """What anyone logged in may see of a user; the transfer figures only where user_stats_visible allows.

    The viewer is the context's `request.user` (no request: figures hidden).
    """

    uploaded = serializers.IntegerField(read_only=True, allow_null=True, help_text=f"Bytes; {_HIDDEN}.")
    downloaded = serializers.IntegerField(read_only=True, allow_null=True, help_text=f"Bytes; {_HIDDEN}.")
    ratio = serializers.FloatField(read_only=True, allow_null=True, help_text=f"Up / down (null before any download); {_HIDDEN}.")
    joined = serializers.DateTimeField(source="date_joined", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "role", "joined", "uploaded", "downloaded", "ratio"]
        read_only_fields = fields

    figures_always = False  # the member's own account (GET /api/me)

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if not self.figures_always and not user_stats_visible(instance, getattr(request, "user", None)):
            data.update(uploaded=None, downloaded=None, ratio=None)
        return data


class MeSerializer(PublicUserSerializer):
    """What a user sees of themselves: their passkey and announce URL too."""

    figures_always = True

    announce_url = serializers.SerializerMethodField()
    two_factor_enabled = serializers.SerializerMethodField()
    invites_unlimited = serializers.SerializerMethodField(help_text="Whether you send invites without spending any (staff).")
    invited_by = serializers.SerializerMethodField(help_text="The username of the member who invited you (null: none).")
    email_confirmed = serializers.SerializerMethodField(help_text="Whether you confirmed your email address (the link in the mail).")

    class Meta(PublicUserSerializer.Meta):
        fields = [*PublicUserSerializer.Meta.fields, "email", "passkey", "announce_url", "is_banned", "hide_in_peers", "stats_public"]
        fields += ["two_factor_enabled"]
        fields += ["invites", "invites_unlimited", "invited_by"]
        fields += ["email_confirmed"]
        read_only_fields = fields

    def get_email_confirmed(self, obj: User) -> bool:
        return obj.email_confirmed_at is not None

    def get_announce_url(self, obj: User) -> str:
        return obj.announce_url

    def get_invites_unlimited(self, obj: User) -> bool:
        return invites_unlimited(obj)

    def get_invited_by(self, obj: User) -> str | None:
        """Read only for a member who was invited: no query for the others."""
        return obj.invited_by.username if obj.invited_by_id is not None and obj.invited_by is not None else None

    def get_two_factor_enabled(self, obj: User) -> bool:
        """Whether logging in takes a code besides the password (accounts.twofactor)."""
        return two_factor_enabled(obj)


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
    """What an admin sees after changing a member: the profile plus the ban flag and the invites left."""

    class Meta(UserProfileSerializer.Meta):
        fields = [*UserProfileSerializer.Meta.fields, "is_banned", "invites"]
        read_only_fields = fields


class StrictBooleanField(serializers.BooleanField):
    """true or false (in a form body: the words "true" and "false"); not DRF's 1, "yes", "on" or "0"."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if data in ("true", "false"):
            return data == "true"
        self.fail("invalid", input=data)
        raise AssertionError  # fail() raises


class PrivacySerializer(serializers.Serializer):
    """PATCH /api/me: what other members see of you; an absent field stays as it is."""

    hide_in_peers = StrictBooleanField(required=False, help_text="Hide your name in torrent peer lists.")
    stats_public = StrictBooleanField(required=False, help_text="Show your uploaded, downloaded and ratio to other members.")


class UserAdminUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_banned = serializers.BooleanField(required=False)
    invites = serializers.IntegerField(required=False, min_value=0, max_value=INVITES_GRANT_MAX, help_text="Invites the member may send.")


class RegisterSerializer(serializers.Serializer):
    username = NewUsernameField(r"^[\w.@+-]+\Z", max_length=150, min_length=3)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"}, write_only=True)
    invite = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=INVITE_CODE_MAX_LENGTH,
        write_only=True,
        help_text="An invite code (tpi_...): required while REGISTRATION_MODE is invite; when given, it records who invited you.",
    )


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


class TwoFactorLoginSerializer(serializers.Serializer):
    challenge = serializers.CharField(max_length=1000, help_text="`details.challenge` of POST /api/login's TWO_FACTOR_REQUIRED answer.")
    code = serializers.CharField(max_length=64, help_text="The 6 digits your authenticator app shows, or one of your recovery codes.")


class TwoFactorStatusSerializer(serializers.Serializer):
    """The member's two-factor login (never its secret)."""

    enabled = serializers.BooleanField(help_text="Logging in takes a code besides the password.")
    enabled_at = serializers.DateTimeField(allow_null=True)
    recovery_codes_left = serializers.IntegerField(min_value=0)
    # Not `required`: a serializer's own attribute.
    enrolment_required = serializers.BooleanField(
        source="required", help_text="The site requires it of staff (TWO_FACTOR_REQUIRED_FOR_STAFF) and it is not on yet."
    )


class TwoFactorEnrolmentSerializer(serializers.Serializer):
    """A set-up begun: what the authenticator app needs. Shown in this answer; confirm it with a code."""

    secret = serializers.CharField(help_text="The secret (base32), to type into the app by hand.")
    otpauth_uri = serializers.CharField(help_text="The otpauth:// URI the QR code holds.")
    qr_code = serializers.CharField(help_text="The QR code of otpauth_uri: an SVG as a data: URI, for an <img src>.")


class TwoFactorCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="The 6 digits the app shows now.")


class TwoFactorPasswordCodeSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    code = serializers.CharField(max_length=64, help_text="The 6 digits the app shows, or one of your recovery codes (it is spent).")


class RecoveryCodesSerializer(serializers.Serializer):
    """Single-use recovery codes, each standing in for a code of the app once; shown in this answer only."""

    recovery_codes = serializers.ListField(child=serializers.CharField())


class InviteSerializer(serializers.ModelSerializer):
    """One of the member's invites as their list shows it: never its code (only its hash is kept)."""

    state = serializers.SerializerMethodField(help_text="pending, used, revoked or expired.")
    used_by = serializers.SerializerMethodField(help_text="The username of the member who registered with it (null until used).")

    class Meta:
        model = Invite
        fields = ["id", "email", "state", "created_at", "expires_at", "used_at", "used_by", "revoked_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=INVITE_STATES))
    def get_state(self, obj: Invite) -> str:
        return invite_state(obj, self.context.get("now"))

    def get_used_by(self, obj: Invite) -> str | None:
        return obj.used_by.username if obj.used_by_id is not None and obj.used_by is not None else None


class InviteCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="Where the invite is mailed.")


class InviteCreatedSerializer(InviteSerializer):
    """A new invite: its code and link this once (they are never shown again), and whether the mail went."""

    code = serializers.SerializerMethodField(help_text="The invite code (tpi_...): shown in this answer only.")
    link = serializers.SerializerMethodField(help_text="The registration page with the code filled in (mailed to the address).")
    emailed = serializers.SerializerMethodField(help_text="False if the mail could not be sent: pass the link on yourself.")
    invites_left = serializers.SerializerMethodField(help_text="Invites you may still send.")

    class Meta(InviteSerializer.Meta):
        fields = [*InviteSerializer.Meta.fields, "code", "link", "emailed", "invites_left"]
        read_only_fields = fields

    def get_code(self, obj: Invite) -> str:
        return str(self.context["new"].code)

    def get_link(self, obj: Invite) -> str:
        return str(self.context["new"].link)

    def get_emailed(self, obj: Invite) -> bool:
        return bool(self.context["new"].emailed)

    def get_invites_left(self, obj: Invite) -> int:
        return int(obj.inviter.invites)


class InviteBranchSerializer(serializers.Serializer):
    """A branch's totals: the member and everyone below them (those shown)."""

    members = serializers.IntegerField(min_value=1)
    uploaded = serializers.IntegerField(min_value=0)
    downloaded = serializers.IntegerField(min_value=0)
    ratio = serializers.FloatField(allow_null=True, help_text="uploaded / downloaded of the branch (null: nothing downloaded).")
    on_ratio_watch = serializers.IntegerField(min_value=0, help_text="Members of the branch on ratio watch.")
    banned = serializers.IntegerField(min_value=0, help_text="Banned members of the branch.")


class InviteNodeSerializer(serializers.Serializer):
    """A member in the invite tree: their figures, their branch's totals and the members they invited."""

    id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField(source="user.role")
    joined = serializers.DateTimeField(source="user.date_joined")
    depth = serializers.IntegerField(min_value=0, help_text="Levels below the root.")
    uploaded = serializers.IntegerField(source="user.uploaded")
    downloaded = serializers.IntegerField(source="user.downloaded")
    ratio = serializers.FloatField(source="user.ratio", allow_null=True)
    on_ratio_watch = serializers.BooleanField()
    ratio_watch_since = serializers.DateTimeField(source="user.ratio_watch_since", allow_null=True)
    is_banned = serializers.BooleanField(source="user.is_banned")
    branch = InviteBranchSerializer()
    invitees = serializers.SerializerMethodField()

    @extend_schema_field({"type": "array", "items": {"type": "object", "description": "An InviteNode: the same shape, one level down."}})
    def get_invitees(self, obj: Any) -> list[Any]:
        return list(InviteNodeSerializer(obj.invitees, many=True).data)


class InviteTreeSerializer(serializers.Serializer):
    """The invite tree below a member (moderators)."""

    root = InviteNodeSerializer()
    invited_by = serializers.CharField(source="invited_by.username", allow_null=True, default=None, help_text="Who invited the root.")
    nodes = serializers.IntegerField(min_value=1, help_text="Members in the tree shown.")
    truncated = serializers.BooleanField(help_text="Members below the ones shown were left out (max_depth or max_nodes reached).")
    max_depth = serializers.IntegerField()
    max_nodes = serializers.IntegerField()


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(
        max_length=254, help_text="The address of the account; the answer is the same whether one has it or not."
    )


class EmailLinkSerializer(serializers.Serializer):
    """The two parts of a mailed link: /.../<uid>/<token>/."""

    uid = serializers.CharField(max_length=32, help_text="The link's first part: the member's id, base64.")
    token = serializers.CharField(max_length=64, help_text="The link's second part.")


class PasswordResetConfirmSerializer(EmailLinkSerializer):
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"}, write_only=True)


class DetailSerializer(serializers.Serializer):
    """A sentence for the person asking."""

    detail = serializers.CharField()


class EmailConfirmedSerializer(serializers.Serializer):
    email_confirmed = serializers.BooleanField()
    email_confirmed_at = serializers.DateTimeField()


class EmailConfirmationSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    email = serializers.EmailField(help_text="Where the mail went: the account's address.")
