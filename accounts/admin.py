"""Operators' pages for users."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from accounts.services import user_passkey_reset, user_set_banned


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
