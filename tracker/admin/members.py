"""Members: the accounts' user admin, with the tracker's rules.

Bans, freeleech tokens and bonus points are given here with a reason, and each
is written to the audit trail (tracker.policy.audit) with who and when.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.forms import UserChangeForm
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.admin import UserAdmin
from accounts.models import User
from accounts.services import user_set_banned
from core.errors import DomainError
from tracker.admin.policy import PointsForm, ReasonForm, TokensForm, action_form, refusal
from tracker.policy.audit import audit_record, field_changes
from tracker.policy.bonus import points_adjust
from tracker.swarm.lookups import lookups_invalidate, passkey_cache_key

# Changes of these on a member (in the form) are written to the audit trail; invites are an operator's grant.
MEMBER_RULE_FIELDS = ("ratio_watch_since", "freeleech_until", "freeleech_tokens", "bonus_points", "invites")
# The member's standing: changing either in the form needs a reason, kept in the trail.
STANDING_FIELDS = ("is_banned", "role")


class MemberChangeForm(UserChangeForm):
    standing_reason = forms.CharField(
        max_length=200, required=False, label="Reason for a ban or class change", help_text="Kept in the audit trail."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if set(STANDING_FIELDS) & set(self.changed_data) and not data.get("standing_reason", "").strip():
            self.add_error("standing_reason", "Say why the member's standing changes.")
        return data


def _ban_set(*, member: User, banned: bool, actor: Any, reason: str) -> None:
    """Ban or unban `member` (the service's effects included), with the trail's row."""
    with transaction.atomic():
        user_set_banned(user=member, banned=banned)
        changes = {"is_banned": [not banned, banned]}
        audit_record(actor=actor, action="ban" if banned else "unban", target=f"member {member.username}", changes=changes, reason=reason)


def _tokens_grant(*, member: User, count: int, actor: Any, reason: str) -> None:
    """Give `member` `count` freeleech tokens, with the trail's row."""
    with transaction.atomic():
        before = User.objects.select_for_update().values_list("freeleech_tokens", flat=True).get(pk=member.pk)
        User.objects.filter(pk=member.pk).update(freeleech_tokens=F("freeleech_tokens") + count)
        changes = {"freeleech_tokens": [before, before + count]}
        audit_record(actor=actor, action="tokens_grant", target=f"member {member.username}", changes=changes, reason=reason)


admin.site.unregister(User)


@admin.register(User)
class MemberAdmin(UserAdmin):
    """accounts' UserAdmin (its privilege rules included) plus the tracker's: the audited rule fields, bans with a reason, two actions.

    It lives here, not in accounts/admin.py, because accounts never imports the tracker.
    """

    actions = [*UserAdmin.actions, "grant_tokens", "adjust_points"]
    form = MemberChangeForm

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        """The change form asks the standing's reason right under the ban and the class."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets  # the add form (Django's, for a username and password)
        (name, options), *rest = fieldsets
        return ((name, {**options, "fields": (*options["fields"], "standing_reason")}), *rest)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """The form's save; a change of the member's rules or standing is audited (with its reason) and reaches the announce."""
        before = User.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            return
        audited = (*MEMBER_RULE_FIELDS, *STANDING_FIELDS)
        changes = {k: v for k, v in field_changes(before, User.objects.get(pk=obj.pk)).items() if k in audited}
        if changes:
            reason = form.cleaned_data.get("standing_reason", "") if set(STANDING_FIELDS) & set(changes) else ""
            audit_record(actor=request.user, action="change", target=f"member {obj.username}", changes=changes, reason=reason)
            lookups_invalidate(passkey_cache_key(obj.passkey))

    def _grantable(self, request: HttpRequest, queryset: QuerySet[User]) -> list[User]:
        """The members this operator may give to: the changeable ones, never themselves unless a superuser."""
        members = list(self._changeable(request, queryset))
        if not request.user.is_superuser and any(m.pk == request.user.pk for m in members):
            self.message_user(request, "Your own account left unchanged: only a superuser may give to themselves.", messages.WARNING)
            members = [m for m in members if m.pk != request.user.pk]
        return members

    def _ban_action(self, request: HttpRequest, queryset: QuerySet[User], banned: bool, title: str) -> TemplateResponse | None:
        form = action_form(self, request, queryset, ReasonForm, title)
        if isinstance(form, TemplateResponse):
            return form
        members = [m for m in self._changeable(request, queryset) if m.is_banned != banned]
        for member in members:
            _ban_set(member=member, banned=banned, actor=request.user, reason=form.cleaned_data["reason"])
        done = "banned" if banned else "unbanned"
        self.message_user(request, f"{len(members)} member(s) {done}: {form.cleaned_data['reason']}", messages.SUCCESS)
        return None

    @admin.action(description="Ban selected users", permissions=["change"])
    def ban_users(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        return self._ban_action(request, queryset, True, "Ban the selected members")

    @admin.action(description="Unban selected users", permissions=["change"])
    def unban_users(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        return self._ban_action(request, queryset, False, "Unban the selected members")

    @admin.action(description="Grant freeleech tokens", permissions=["change"])
    def grant_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        form = action_form(self, request, queryset, TokensForm, "Grant freeleech tokens")
        if isinstance(form, TemplateResponse):
            return form
        members = self._grantable(request, queryset)
        for member in members:
            _tokens_grant(member=member, count=form.cleaned_data["count"], actor=request.user, reason=form.cleaned_data["reason"])
        self.message_user(request, f"{form.cleaned_data['count']} token(s) granted to {len(members)} member(s).", messages.SUCCESS)
        return None

    @admin.action(description="Adjust bonus points", permissions=["change"])
    def adjust_points(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        form = action_form(self, request, queryset, PointsForm, "Adjust bonus points")
        if isinstance(form, TemplateResponse):
            return form
        amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
        done = 0
        for member in self._grantable(request, queryset):
            try:
                points_adjust(user=member, amount=amount, reason=reason, actor=request.user)
            except DomainError as e:
                self.message_user(request, f"{member.username}: {refusal(e)}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"Bonus points adjusted by {amount} for {done} member(s).", messages.SUCCESS)
        return None
