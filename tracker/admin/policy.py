"""Operators' pages for the site's rules, hit-and-run warnings, the bonus ledger and the audit trail (members: tracker.admin.members).

Every add, change and delete made here, and every action, writes a row of the
audit trail (tracker.policy.audit) in the same transaction: who, what, from
what to what, and why when an action asks. The trail itself, the bonus ledger
and the trail's rows are read-only: they are appended to, never edited.

Who may change what is Django's model permissions: a staff member holding only
the view permission on the site policy sees its page read-only.
"""

import json
import re
from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.checks import InlineModelAdminChecks
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms.models import BaseModelFormSet, modelformset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.errors import DomainError
from tracker.policy.audit import audit_record, field_changes
from tracker.policy.clients import version_parse
from tracker.policy.hnr import active_q, warning_active, warning_clear
from tracker.policy.models import GIB, ClientRule, HnrWarning, LedgerEntry, LeechSlotBand, PolicyChange, RatioBand, SiteEvent, SitePolicy
from tracker.policy.selectors import site_policy
from tracker.policy.snapshot import ports_parse

ACTION_TEMPLATE = "admin/tracker/policy_action.html"


def refusal(e: DomainError) -> str:
    """A service's refusal as one line: its field messages, else its message."""
    lines = [str(m) for messages_ in e.details.values() for m in (messages_ if isinstance(messages_, list) else [messages_])]
    return "; ".join(lines) or e.message


def audit_target(obj: Model) -> str:
    """How the trail names a row: "site policy", "client rule #4 allow qBittorrent (-qB)"."""
    name = str(obj._meta.verbose_name)
    text = str(obj)
    return name if text.lower() == name else f"{name} #{obj.pk} {text}"


def _deleted(obj: Model) -> dict[str, list[Any]]:
    """{field: [value, None]}: what a deleted row held."""
    return {name: [old, None] for name, (_, old) in field_changes(None, obj).items()}


def _audit_saved(request: HttpRequest, before: Model | None, obj: Model) -> None:
    """The trail's row for a row just added (`before` None) or changed; nothing when nothing changed."""
    after = type(obj)._default_manager.get(pk=obj.pk)  # the stored values, not the form's spelling of them
    changes = field_changes(before, after)
    if before is None or changes:
        audit_record(actor=request.user, action="change" if before else "add", target=audit_target(after), changes=changes)


class AuditedAdmin(admin.ModelAdmin):
    """A model admin whose every save and delete (inline rows included) writes the audit trail."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        _audit_saved(request, before, obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            audit_record(actor=request.user, action="delete", target=audit_target(obj), changes=_deleted(obj))
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(actor=request.user, action="delete", target=audit_target(obj), changes=_deleted(obj))
            super().delete_queryset(request, queryset)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Save an inline's rows one by one, each with its trail row (the "before" read from the database)."""
        stored = [f.instance.pk for f in formset.initial_forms if f.instance.pk is not None]
        befores = formset.model._default_manager.in_bulk(stored)
        saved = formset.save(commit=False)
        for obj in formset.deleted_objects:  # first: a row added in place of a deleted one may take its unique value
            stored_obj = befores.get(obj.pk, obj)
            audit_record(actor=request.user, action="delete", target=audit_target(stored_obj), changes=_deleted(stored_obj))
            obj.delete()
        for obj in saved:
            obj.save()
            _audit_saved(request, befores.get(obj.pk), obj)
        formset.save_m2m()


# The site policy and its tables


class _TableInlineChecks(InlineModelAdminChecks):
    def _check_relation(self, obj: Any, parent_model: Any) -> list[Any]:
        return []  # the rows are the whole table, not a foreign key's children


class _TableFormSet(BaseModelFormSet):
    """A model formset over a whole table that takes an inline's arguments (`instance`, `save_as_new`) and ignores them."""

    def __init__(self, *args: Any, instance: Any = None, save_as_new: bool = False, **kwargs: Any) -> None:
        self.instance = instance
        super().__init__(*args, **kwargs)

    @classmethod
    def get_default_prefix(cls) -> str:
        return str(cls.model._meta.model_name)  # type: ignore[union-attr]  # set by modelformset_factory


class TableInline(admin.TabularInline):
    """A tabular inline for a table beside a singleton (the policy's bands): every row of the table, no foreign key.

    Django's inlines need a foreign key to the parent; the bands have none (there is
    one policy), so the formset is a plain model formset over the table, built with
    the same permission rules as Django's: rows the user may not change or add are
    never saved.
    """

    checks_class = _TableInlineChecks
    extra = 1

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        readonly = set(self.get_readonly_fields(request, obj))
        fields = [f for f in kwargs.pop("fields", None) or flatten_fieldsets(self.get_fieldsets(request, obj)) if f not in readonly]
        can_change = self.has_change_permission(request, obj)
        can_add = self.has_add_permission(request, obj)

        class PermittedForm(self.form):  # type: ignore[name-defined]  # a base known at run time
            def has_changed(self) -> bool:
                allowed = can_add if self.instance._state.adding else can_change
                return allowed and super().has_changed()

        return modelformset_factory(
            self.model,
            form=PermittedForm,
            formset=_TableFormSet,
            fields=fields,
            formfield_callback=partial(self.formfield_for_dbfield, request=request),
            extra=self.get_extra(request, obj),
            can_delete=self.can_delete and self.has_delete_permission(request, obj),
        )


class RatioBandInline(TableInline):
    model = RatioBand
    fields = ["min_downloaded", "gib", "required_ratio"]
    readonly_fields = ["gib"]
    verbose_name_plural = "ratio bands: from this many bytes downloaded on, a member must keep this ratio"

    @admin.display(description="GiB")
    def gib(self, obj: RatioBand) -> str:
        return f"{obj.min_downloaded / GIB:g}" if obj.min_downloaded is not None else "-"


class LeechSlotBandInline(TableInline):
    model = LeechSlotBand
    fields = ["ratio_below", "slots"]
    verbose_name_plural = "leech slots: below this ratio, a member leeches at most this many torrents at once"


POLICY_FIELDSETS: Any = (
    (
        "Ratio standing",
        {"fields": ["ratio_watch_days"], "description": "The ratio required by bytes downloaded: the ratio bands below."},
    ),
    ("Leech slots and peers", {"fields": ["peers_per_torrent", "leech_slots_after", "leech_slots_max"]}),
    ("Client rules", {"fields": ["client_mode", "blocked_ports"], "description": "The clients themselves: the client rules' page."}),
    (
        "Hit-and-run",
        {
            "fields": [
                "hnr_seed_hours",
                "hnr_within_days",
                "hnr_ratio",
                "hnr_grace_hours",
                "hnr_warning_days",
                "hnr_max_warnings",
                "hnr_exempt_freeleech",
                "hnr_exempt_below",
                "hnr_exempt_uploader",
            ]
        },
    ),
    ("Freeleech tokens", {"fields": ["token_hours"]}),
    (
        "Bonus points and store prices",
        {
            "fields": [
                "bonus_base",
                "bonus_age_weight",
                "bonus_need_weight",
                "price_upload_gib",
                "price_token",
                "price_warning",
                "price_invite",
            ]
        },
    ),
)


class SitePolicyForm(forms.ModelForm):
    class Meta:
        model = SitePolicy
        fields = flatten_fieldsets(POLICY_FIELDSETS)

    def clean_blocked_ports(self) -> str:
        """The announce reads these ranges: a list it could not parse would block nothing."""
        text: str = self.cleaned_data["blocked_ports"]
        try:
            ports_parse(text)
        except ValueError as e:
            raise ValidationError(str(e)) from None
        return text


@admin.register(SitePolicy)
class SitePolicyAdmin(AuditedAdmin):
    """The one policy row: the list goes straight to its page; it is never added or deleted."""

    form = SitePolicyForm
    inlines = [RatioBandInline, LeechSlotBandInline]
    fieldsets = POLICY_FIELDSETS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:tracker_sitepolicy_change", args=[site_policy().pk]))


# Clients and events


class ClientRuleForm(forms.ModelForm):
    class Meta:
        model = ClientRule
        fields = ["name", "prefix", "min_version", "max_version", "user_agent", "allow", "enabled", "note"]

    def _version(self, name: str) -> str:
        text: str = self.cleaned_data[name].strip()
        if text:
            try:
                version_parse(text)
            except ValueError as e:
                raise ValidationError(str(e)) from None
        return text

    def clean_min_version(self) -> str:
        return self._version("min_version")

    def clean_max_version(self) -> str:
        return self._version("max_version")

    def clean_user_agent(self) -> str:
        pattern: str = self.cleaned_data["user_agent"]
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValidationError(f"Not a regular expression: {e}") from None
        return pattern

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("min_version"), data.get("max_version")
        if low and high:
            a, b = version_parse(low), version_parse(high)
            n = max(len(a), len(b))  # 4.3 is 4.3.0
            if a + (0,) * (n - len(a)) > b + (0,) * (n - len(b)):
                self.add_error("max_version", "The newest version covered is older than the oldest.")
        return data


@admin.register(ClientRule)
class ClientRuleAdmin(AuditedAdmin):
    form = ClientRuleForm
    list_display = ["name", "prefix", "versions", "user_agent", "allow", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["allow", "enabled"]
    search_fields = ["name", "prefix", "note"]

    @admin.display(description="versions")
    def versions(self, obj: ClientRule) -> str:
        if not (obj.min_version or obj.max_version):
            return "any"
        return f"{obj.min_version or 'any'} to {obj.max_version or 'any'}"


class EventWhenFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "when"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("now", "Active now"), ("upcoming", "Upcoming"), ("over", "Over")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SiteEvent]) -> QuerySet[SiteEvent]:
        now = timezone.now()
        match self.value():
            case "now":
                return queryset.filter(starts_at__lte=now, ends_at__gt=now)
            case "upcoming":
                return queryset.filter(starts_at__gt=now)
            case "over":
                return queryset.filter(ends_at__lte=now)
        return queryset


@admin.register(SiteEvent)
class SiteEventAdmin(AuditedAdmin):
    list_display = ["kind", "starts_at", "ends_at", "active_now", "note", "created_by"]
    list_filter = [EventWhenFilter, "kind"]
    list_select_related = ["created_by"]
    readonly_fields = ["created_by"]
    date_hierarchy = "starts_at"

    @admin.display(boolean=True, description="active now")
    def active_now(self, obj: SiteEvent) -> bool:
        return obj.starts_at <= timezone.now() < obj.ends_at

    def save_model(self, request: HttpRequest, obj: SiteEvent, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


# Actions asking a number and a reason


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Kept in the audit trail.")


class TokensForm(ReasonForm):
    count = forms.IntegerField(min_value=1, max_value=1000, help_text="Tokens given to each selected member.")
    field_order = ["count", "reason"]


class PointsForm(ReasonForm):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, help_text="Points added to each selected member (negative: taken).")
    field_order = ["amount", "reason"]

    def clean_amount(self) -> Any:
        if not self.cleaned_data["amount"]:
            raise ValidationError("Adjust by some points, not 0.")
        return self.cleaned_data["amount"]


def action_form(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], form_class: type[forms.Form], title: str
) -> forms.Form | TemplateResponse:
    """The action's filled form once its page was confirmed; until then, the page asking for it (an intermediate page)."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        return form
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action", ""),
        "opts": model_admin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, ACTION_TEMPLATE, context)


# Warnings and the ledger


class WarningStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("cleared", "Cleared")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[HnrWarning]) -> QuerySet[HnrWarning]:
        now = timezone.now()
        match self.value():
            case "active":
                return queryset.filter(active_q(now))
            case "expired":
                return queryset.filter(cleared_at__isnull=True, expires_at__lte=now)
            case "cleared":
                return queryset.filter(cleared_at__isnull=False)
        return queryset


@admin.register(HnrWarning)
class HnrWarningAdmin(admin.ModelAdmin):
    """Warnings come from the hit-and-run job; staff clear them (with a reason) and never edit them."""

    list_display = ["user", "torrent_name", "created_at", "expires_at", "state", "cleared_by", "cleared_reason"]
    list_filter = [WarningStateFilter]
    list_select_related = ["user", "cleared_by"]
    search_fields = ["user__username", "torrent_name"]
    actions = ["clear_warnings"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The change permission allows the clearing action; a warning's own page is read-only."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="state")
    def state(self, obj: HnrWarning) -> str:
        if obj.cleared_at is not None:
            return "cleared"
        return "active" if warning_active(obj, timezone.now()) else "expired"

    @admin.action(description="Clear the selected warnings", permissions=["change"])
    def clear_warnings(self, request: HttpRequest, queryset: QuerySet[HnrWarning]) -> TemplateResponse | None:
        form = action_form(self, request, queryset, ReasonForm, "Clear the selected warnings")
        if isinstance(form, TemplateResponse):
            return form
        done = 0
        for warning in queryset.filter(cleared_at__isnull=True).select_related("user"):
            try:
                warning_clear(warning=warning, actor=request.user, reason=form.cleaned_data["reason"])
            except DomainError as e:
                self.message_user(request, f"{warning.user.username}: {refusal(e)}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{done} warning(s) cleared.", messages.SUCCESS)
        return None


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """The bonus ledger is append-only: its rows are the members' balances."""

    list_display = ["created_at", "user", "amount", "kind", "period", "note", "created_by"]
    list_filter = ["kind"]
    list_select_related = ["user", "created_by"]
    search_fields = ["user__username"]
    show_full_result_count = False  # an hourly row per seeding member: counting them all costs too much

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PolicyChange)
class PolicyChangeAdmin(admin.ModelAdmin):
    """The audit trail, read-only."""

    list_display = ["at", "actor", "action", "target", "changes_summary", "reason"]
    list_filter = ["action", "at"]
    list_select_related = ["actor"]
    search_fields = ["actor__username", "target", "reason"]
    date_hierarchy = "at"
    fields = readonly_fields = ("at", "actor", "action", "target", "changes_pretty", "reason")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="changes")
    def changes_summary(self, obj: PolicyChange) -> str:
        pairs = ((name, json.dumps(old), json.dumps(new)) for name, (old, new) in obj.changes.items())
        return format_html_join(mark_safe("<br>"), "{}: {} → {}", pairs)

    @admin.display(description="changes")
    def changes_pretty(self, obj: PolicyChange) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.changes, indent=2, ensure_ascii=False))
