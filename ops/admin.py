"""The scheduler's runs in the admin: read only, the latest first, failures easy to find."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ops.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job", "slot", "ok", "duration_ms", "counts", "node", "error"]
    list_filter = ["job", "ok"]
    date_hierarchy = "slot"
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)
