"""Operators' pages for users."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.emails import email_mark_confirmed
from accounts.invites import INVITE_STATES, invite_revoke_any, invite_state, invite_state_q
from accounts.models import ApiKey, Invite, User
from accounts.services import api_key_revoke_any, user_passkey_reset, user_set_banned, user_set_role
from accounts.twofactor import two_factor_remove
from core.errors import DomainError
from core.units import bytes_text

# Fields that grant privileges: only a superuser may change them, on anyone.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "user_class",
        "ratio_text",
        "uploaded_text",
        "downloaded_text",
        "is_banned",
        "email",
        "email_confirmed",
        "date_joined",
    ]
    list_filter = ["role", "is_banned", "is_active", "is_staff", ("email_confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["username", "email"]
    readonly_fields = [
        "passkey",
        "announce_url",
        "uploaded",
        "downloaded",
        "last_login",
        "date_joined",
        "ratio_watch_since",
        "freeleech_tokens",
        "bonus_points",
        "invited_by",
    ]
    # The tracker's fields first; Django's groups and permissions last, folded away (roles do the tracker's work).
    fieldsets = (
        (None, {"fields": ("username", "password", "email", "role", "is_banned")}),
        ("Tracker", {"fields": ("passkey", "announce_url", "uploaded", "downloaded", "hide_in_peers")}),
        # The tracker's rules: personal freeleech is set here; tokens and points change through the actions.
        ("Tracker rules", {"fields": ("ratio_watch_since", "freeleech_until", "freeleech_tokens", "bonus_points")}),
        # Invites the member may still send (the operators' grant), and who invited them.
        ("Invites", {"fields": ("invites", "invited_by")}),
        # When the member confirmed `email` (empty: not yet); the action below sets it to now.
        ("Email confirmation", {"fields": ("email_confirmed_at",)}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
        ("Site access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Groups and permissions", {"classes": ("collapse",), "fields": ("groups", "user_permissions")}),
    )
    actions = ["ban_users", "unban_users", "reset_passkeys", "confirm_emails", "turn_off_two_factor"]

    # A staff member who is not a superuser may hold the permission to change users
    # (an operator handling bans and passkeys), but not raise anyone's privileges, their
    # own included, nor change or delete a superuser: the API's PATCH /api/users/{id}
    # keeps the same rule (accounts.services).

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [field for field in PRIVILEGE_FIELDS if field not in readonly]
            if obj is not None and obj.pk == request.user.pk:
                readonly += ["role", "is_banned", "freeleech_until", "invites"]
        return readonly

    @admin.display(description="class", ordering="role")
    def user_class(self, obj: User) -> str:
        return "superuser" if obj.is_superuser else obj.get_role_display()

    @admin.display(description="ratio")
    def ratio_text(self, obj: User) -> str:
        return "∞" if obj.ratio is None else f"{obj.ratio:.2f}"

    @admin.display(description="uploaded", ordering="uploaded")
    def uploaded_text(self, obj: User) -> str:
        return bytes_text(obj.uploaded)

    @admin.display(description="downloaded", ordering="downloaded")
    def downloaded_text(self, obj: User) -> str:
        return bytes_text(obj.downloaded)

    @admin.display(description="email confirmed", boolean=True, ordering="email_confirmed_at")
    def email_confirmed(self, obj: User) -> bool:
        return obj.email_confirmed_at is not None

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """The bulk delete action refuses, as a protected object, a superuser chosen by a non-superuser."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not request.user.is_superuser:
            protected = [*protected, *(f"{user} (a superuser)" for user in objs if user.is_superuser)]
        return deleted, model_count, perms_needed, protected

    def _changeable(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        """The selected users this operator may change; says which were left out."""
        if request.user.is_superuser:
            return queryset
        skipped = queryset.filter(is_superuser=True).count()
        if skipped:
            self.message_user(request, f"{skipped} superuser(s) left unchanged: only a superuser may change one.", messages.WARNING)
        return queryset.exclude(is_superuser=True)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Save the form; a ban or a role change made in it has the services' effects too.

        A ban revokes the member's tokens and sessions, and both tell the
        tracker, as the API's PATCH /api/users/{id} and the actions do.
        """
        super().save_model(request, obj, form, change)
        if change and "is_banned" in form.changed_data:
            user_set_banned(user=obj, banned=obj.is_banned)
        if change and "role" in form.changed_data:
            user_set_role(user=obj, role=obj.role)

    # Bans: tracker.admin.members replaces these two with actions asking a reason for the audit trail.

    @admin.action(description="Ban selected users")
    def ban_users(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        users = list(self._changeable(request, queryset))
        for user in users:
            user_set_banned(user=user, banned=True)
        self.message_user(request, f"{len(users)} user(s) banned.", messages.SUCCESS)
        return None

    @admin.action(description="Unban selected users")
    def unban_users(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        users = list(self._changeable(request, queryset))
        for user in users:
            user_set_banned(user=user, banned=False)
        self.message_user(request, f"{len(users)} user(s) unbanned.", messages.SUCCESS)
        return None

    @admin.action(description="Reset passkeys of selected users")
    def reset_passkeys(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(self._changeable(request, queryset))
        for user in users:
            user_passkey_reset(user=user)
        self.message_user(request, f"{len(users)} passkey(s) reset; the old ones stop working now.", messages.SUCCESS)

    @admin.action(description="Mark email addresses of selected users confirmed")
    def confirm_emails(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """For a member who showed the operator they read mail there (or whose mail never arrives)."""
        users = list(self._changeable(request, queryset))
        for user in users:
            email_mark_confirmed(user=user)
        self.message_user(request, f"{len(users)} user(s)' email addresses are confirmed.", messages.SUCCESS)

    @admin.action(description="Turn off two-factor login of selected users")
    def turn_off_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """For a member who lost both their app and their recovery codes (and proved to the operator who they are)."""
        users = list(self._changeable(request, queryset))
        for user in users:
            two_factor_remove(user=user)
        self.message_user(
            request, f"Two-factor login is off for {len(users)} user(s); their password alone logs them in.", messages.SUCCESS
        )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Members' API keys: who holds which, what they may do, when last used; operators revoke, never see a key or its hash."""

    list_display = ["label", "name", "user", "scope_list", "created_at", "last_used_at", "last_used_ip", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["=prefix", "name", "user__username"]
    fields = ["label", "name", "user", "scopes", "created_at", "last_used_at", "last_used_ip", "revoked_at"]
    readonly_fields = ["label", "name", "user", "scopes", "created_at", "last_used_at", "last_used_ip", "revoked_at"]
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a key is made by its owner, who alone sees it (the profile, POST /api/me/keys)

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # nothing on a key is edited; the action revokes

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoked, not deleted: the list keeps saying when a key was last used

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking needs the permission to change keys (accounts.change_apikey)."""
        return request.user.has_perm("accounts.change_apikey")

    @admin.display(description="key")
    def label(self, obj: ApiKey) -> str:
        return f"{obj.label}…"

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or [])

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke_any(key=key)
        self.message_user(request, f"{len(keys)} key(s) revoked.", messages.SUCCESS)


class InviteStateFilter(admin.SimpleListFilter):
    """Pending, used, revoked or expired, as the members' lists say it."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(state, state.capitalize()) for state in INVITE_STATES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invite]) -> QuerySet[Invite]:
        state = self.value()
        return queryset.filter(invite_state_q(state, timezone.now())) if state in INVITE_STATES else queryset


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    """Members' invites: who invited which address, what became of each; operators revoke, nobody sees a code (only its hash is kept)."""

    list_display = ["email", "inviter", "state", "created_at", "expires_at", "used_by", "used_at", "revoked_at"]
    list_filter = [InviteStateFilter, "created_at", "expires_at"]
    list_select_related = ["inviter", "used_by"]
    search_fields = ["email", "inviter__username", "used_by__username"]
    fields = ["email", "inviter", "created_at", "expires_at", "used_by", "used_at", "revoked_at"]
    readonly_fields = ["email", "inviter", "created_at", "expires_at", "used_by", "used_at", "revoked_at"]
    actions = ["revoke_invites"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a code is made by its sender, who alone sees it (the profile, POST /api/me/invites)

    def has_change_permission(self, request: HttpRequest, obj: Invite | None = None) -> bool:
        return False  # nothing on an invite is edited; the action revokes

    def has_delete_permission(self, request: HttpRequest, obj: Invite | None = None) -> bool:
        return False  # kept: a used invite is an edge of the invite tree

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking needs the permission to change invites (accounts.change_invite)."""
        return request.user.has_perm("accounts.change_invite")

    @admin.display(description="state")
    def state(self, obj: Invite) -> str:
        return invite_state(obj)

    @admin.action(description="Revoke selected invites (their senders get them back)", permissions=["revoke"])
    def revoke_invites(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        done = 0
        for invite in queryset.filter(used_at__isnull=True, revoked_at__isnull=True):
            try:
                invite_revoke_any(invite=invite)
            except DomainError as exc:  # used in the meantime
                self.message_user(request, f"{invite.email}: {exc.message}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, f"{done} invite(s) revoked.", messages.SUCCESS)
