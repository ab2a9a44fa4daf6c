"""Operators' pages for users."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from accounts.services import user_passkey_reset, user_set_banned, user_set_role


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "uploaded", "downloaded", "is_banned", "is_active", "date_joined"]
    list_filter = ["role", "is_banned", "is_active", "is_staff"]
    search_fields = ["username", "email"]
    readonly_fields = ["passkey", "uploaded", "downloaded", "last_login", "date_joined"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Tracker", {"fields": ("role", "passkey", "uploaded", "downloaded", "is_banned", "hide_in_peers")}),
    )
    actions = ["ban_users", "unban_users", "reset_passkeys"]

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

    @admin.action(description="Ban selected users")
    def ban_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_set_banned(user=user, banned=True)

    @admin.action(description="Unban selected users")
    def unban_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_set_banned(user=user, banned=False)

    @admin.action(description="Reset passkeys of selected users")
    def reset_passkeys(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_passkey_reset(user=user)
