"""A forgotten password: ask for a link by mail, then choose a new password on the page it opens.

The same services as POST /api/password/reset and /api/password/reset/confirm
(accounts.emails), so the answers, the rules and the budgets are the API's.
The link's token stays in the page's URL: the page loads nothing from
elsewhere and Django's Referrer-Policy (same-origin) keeps it from leaving.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.emails import (
    LINK_INVALID,
    PASSWORD_RESET_ANSWER,
    PASSWORD_RESET_DONE,
    password_reset_confirm,
    password_reset_request,
    password_reset_user,
)
from core.errors import Invalid, Throttled
from web.errors import form_add_domain_error
from web.forms import PasswordResetRequestForm, PasswordResetSetForm


def throttled_page(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """429 with Retry-After and the refusal's words, as the API answers past the same budget."""
    minutes = max(1, -(-exc.retry_after // 60))
    context = {"message": exc.message, "minutes": minutes}
    response = TemplateResponse(request, "registration/throttled.html", context, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response.render()


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponseBase:
    """GET/POST /password/reset/: the address to mail a link to; the same answer whether or not an account has it."""
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return render(request, "registration/password_reset_form.html", {"form": form})
    if not form.is_valid():
        return render(request, "registration/password_reset_form.html", {"form": form}, status=422)
    try:
        password_reset_request(email=form.cleaned_data["email"], request=request)
    except Throttled as exc:
        return throttled_page(request, exc)
    return redirect("web:password-reset-sent")


@require_GET
def password_reset_sent(request: HttpRequest) -> HttpResponse:
    """GET /password/reset/sent/: what every request is told."""
    return render(request, "registration/password_reset_sent.html", {"answer": PASSWORD_RESET_ANSWER})


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/password_reset_confirm.html", {"invalid": LINK_INVALID}, status=422)


@never_cache  # the URL holds the link's token
@require_http_methods(["GET", "POST"])
def password_reset_set(request: HttpRequest, uidb64: str, token: str) -> HttpResponseBase:
    """GET/POST /password/reset/<uid>/<token>/: the new password for the link's member; the link dies with it.

    A bad, expired or used link shows why (422); the password rules'
    messages land next to the field (422). Every session and API token the
    member had ends, this browser's included, so they log in afresh.
    """
    form = PasswordResetSetForm(request.POST if request.method == "POST" else None)
    try:
        if request.method == "GET":
            password_reset_user(uid=uidb64, token=token, request=request)
            return render(request, "registration/password_reset_confirm.html", {"form": form})
        if not form.is_valid():
            password_reset_user(uid=uidb64, token=token, request=request)  # a dead link says so before a typo does
            return render(request, "registration/password_reset_confirm.html", {"form": form}, status=422)
        password_reset_confirm(uid=uidb64, token=token, new_password=form.cleaned_data["new_password"], request=request)
    except Throttled as exc:
        return throttled_page(request, exc)
    except Invalid as exc:
        if "token" in exc.details:
            return _invalid_link(request)
        form_add_domain_error(form, exc, default_field="new_password")
        return render(request, "registration/password_reset_confirm.html", {"form": form}, status=422)
    return redirect("web:password-reset-done")


@require_GET
def password_reset_done(request: HttpRequest) -> HttpResponse:
    """GET /password/reset/done/: the password is changed; log in with it."""
    return render(request, "registration/password_reset_complete.html", {"done": PASSWORD_RESET_DONE})
