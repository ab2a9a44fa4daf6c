"""Invites on the pages: the profile's section (invites left, the list, a form), sending and revoking, and the moderators' tree.

The same services and selectors as GET/POST /api/me/invites,
DELETE /api/me/invites/{id} and GET /api/users/{id}/invitees
(accounts.invites, accounts.invite_tree). A new invite's code is shown once,
on the page answering its creation.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.invite_tree import invite_tree
from accounts.invites import CLOSED, invite_create, invite_list, invite_revoke, invite_state, invites_unlimited, registration_mode
from core.errors import Conflict, DomainError, Forbidden, NotFound
from web.access import member_required
from web.errors import form_add_domain_error
from web.forms import PlainLabels

# The profile lists this many of the member's latest invites.
INVITE_ROWS = 50


class InviteForm(PlainLabels, forms.Form):
    """Where to send an invite (accounts.invites.invite_create decides the rest)."""

    email = forms.EmailField(
        label="Their email address",
        max_length=254,
        help_text="The invite link is mailed there.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


class InviteTreeForm(PlainLabels, forms.Form):
    """Whose tree to show: a member's id or username."""

    root = forms.CharField(label="Member", max_length=150, help_text="A username or a member's id.")


def invites_section(user: Any, *, form: InviteForm | None = None) -> dict[str, Any]:
    """What the profile's Invites section shows: invites left, whether invites can be sent now, the latest ones and the form."""
    now = timezone.now()
    latest = list(invite_list(user=user)[: INVITE_ROWS + 1])
    return {
        "left": user.invites,
        "unlimited": invites_unlimited(user),
        "closed": registration_mode() == CLOSED,
        "expiry_days": settings.INVITE_EXPIRY_DAYS,
        "rows": [(invite, invite_state(invite, now)) for invite in latest[:INVITE_ROWS]],
        "more": len(latest) > INVITE_ROWS,
        "form": form or InviteForm(),
    }


def _status_of(error: DomainError) -> int:
    if isinstance(error, Forbidden):
        return 403
    return 409 if isinstance(error, Conflict) else 422


@member_required
@never_cache  # the answer shows the new code
@require_http_methods(["GET", "POST"])
def invite_new(request: HttpRequest) -> HttpResponse:
    """GET /profile/invites/: the form; POST: send an invite, whose code and link this answer shows once (a refusal: the form again)."""
    user = request.user
    form = InviteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                new = invite_create(inviter=user, email=form.cleaned_data["email"])  # type: ignore[arg-type]
            except DomainError as exc:
                form_add_domain_error(form, exc, default_field="email")
                status = _status_of(exc)
            else:
                context = {"invite": new.invite, "code": new.code, "link": new.link, "emailed": new.emailed, "nav": "profile"}
                return render(request, "web/invite_created.html", context, status=201)
    return render(request, "web/invite_new.html", {"invites": invites_section(user, form=form), "nav": "profile"}, status=status)


@member_required
@require_http_methods(["POST"])
def invite_delete(request: HttpRequest, invite_id: int) -> HttpResponseBase:
    """POST /profile/invites/<id>/revoke/: revoke one of the member's unused invites (its code stops working) and get it back."""
    try:
        invite = invite_revoke(inviter=request.user, pk=invite_id)  # type: ignore[arg-type]
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invite to {invite.email} is revoked; you have it back.")
    return redirect("web:profile")


@member_required
@require_GET
def invite_tree_page(request: HttpRequest) -> HttpResponse:
    """GET /invites/tree/?root=<username or id>: the invite tree below a member, with each branch's ratio standing (moderators only)."""
    if not request.user.is_moderator:  # type: ignore[union-attr]
        raise PermissionDenied("Only moderators may see the invite tree.")
    form = InviteTreeForm(request.GET if "root" in request.GET else None)
    context: dict[str, Any] = {"form": form, "tree": None, "nav": "invites"}
    status = 200
    if form.is_valid():
        try:
            context["tree"] = invite_tree(viewer=request.user, ref=form.cleaned_data["root"])
        except NotFound as exc:
            form.add_error("root", exc.message)
            status = 404
    elif form.is_bound:
        status = 422
    return render(request, "web/invite_tree.html", context, status=status)
