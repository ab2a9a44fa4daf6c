"""Two-factor login on the pages: the login's second step, and setting it up, turning it off and renewing recovery codes.

After the right password a member with two-factor login is not logged in:
the session holds only the login's challenge (accounts.twofactor), and
django.contrib.auth.login happens once the code is right, so no session is
ever half logged in.

Setting it up asks for the current password before any secret is shown, and
a set-up's secret is shown again (after a wrong first code) only to the
session that gave the password for it: a stolen session alone can neither
put its own phone on the account nor read a set-up the owner left unfinished.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.twofactor import (
    ENABLED_ALREADY_MESSAGE,
    WRONG_CODE_MESSAGE,
    login_challenge_issue,
    login_challenge_user,
    two_factor_disable,
    two_factor_enabled,
    two_factor_enrol_confirm,
    two_factor_enrol_start,
    two_factor_enrolment_pending,
    two_factor_login_check,
    two_factor_recovery_codes_regenerate,
    two_factor_status,
)
from core.errors import Conflict, DomainError, Throttled
from web.access import member_required
from web.errors import form_add_domain_error
from web.forms import TwoFactorCodeForm, TwoFactorPasswordCodeForm, TwoFactorPasswordForm, TwoFactorSetupForm

# The session's note of a login waiting for its code: the challenge, and where to go once it is done.
PENDING_LOGIN = "two_factor_login"
# The session's note of the set-up it started with the password: a keyed hash of its secret, never the secret.
PENDING_SETUP = "two_factor_setup"
_SETUP_SALT = "web.views.twofactor.setup"
_BACKEND = "django.contrib.auth.backends.ModelBackend"


def login_pending_start(request: HttpRequest, user: User, redirect_to: str) -> HttpResponse:
    """The password was right and `user` has two-factor login: note the login in the session (not a login) and ask for the code."""
    request.session[PENDING_LOGIN] = {"challenge": login_challenge_issue(user=user), "next": redirect_to}
    return redirect("web:login-2fa")


def _locked_out(request: HttpRequest, template: str, context: dict[str, Any], form: Form, exc: Throttled) -> HttpResponse:
    """The form again, saying when guessing may resume: 429 with Retry-After, as the login page answers."""
    seconds = ngettext("%(n)d second", "%(n)d seconds", exc.retry_after) % {"n": exc.retry_after}
    form.add_error(None, f"Too many failed logins. Try again in {seconds}.")
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def login_two_factor(request: HttpRequest) -> HttpResponseBase:
    """GET/POST /login/2fa/: the login's second step; a right code (or recovery code) logs the member in.

    Without a pending login, or once its challenge has expired (or was voided
    by a password change, a ban or another login), it is back to the login page.
    Codes count as login attempts (the lock-out of the password step).
    """
    pending = request.session.get(PENDING_LOGIN) or {}
    user = login_challenge_user(challenge=str(pending.get("challenge", "")))
    if user is None:
        if pending:
            del request.session[PENDING_LOGIN]
            messages.error(request, "Your login has expired; log in again.")
        return redirect("web:login")
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "username": user.get_username(), "nav": "login"}
    if request.method == "GET":
        return render(request, "registration/login_2fa.html", context)
    if form.is_valid():
        try:
            right = two_factor_login_check(request=request, user=user, code=form.cleaned_data["code"])
        except Throttled as exc:
            return _locked_out(request, "registration/login_2fa.html", context, form, exc)
        if right:
            del request.session[PENDING_LOGIN]
            login(request, user, backend=_BACKEND)  # a new session key: nothing of the anonymous one carries over
            return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)
        form.add_error("code", WRONG_CODE_MESSAGE)
    return render(request, "registration/login_2fa.html", context, status=422)


def _page_context(request: HttpRequest, **forms: Form) -> dict[str, Any]:
    return {
        "status": two_factor_status(user=request.user),  # type: ignore[arg-type]
        "setup_form": forms.get("setup") or TwoFactorPasswordForm(prefix="setup"),
        "disable_form": forms.get("disable") or TwoFactorPasswordCodeForm(prefix="disable"),
        "renew_form": forms.get("renew") or TwoFactorPasswordCodeForm(prefix="renew"),
        "nav": "profile",
    }


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, first: bool) -> HttpResponse:
    return render(request, "web/recovery_codes.html", {"codes": codes, "first": first, "nav": "profile"})


@member_required
@never_cache
def two_factor(request: HttpRequest) -> HttpResponse:
    """GET /profile/2fa/: two-factor login, on or off, with the forms to set it up, turn it off or renew the recovery codes."""
    return render(request, "web/two_factor.html", _page_context(request))


def _setup_mark(secret: str) -> str:
    return salted_hmac(_SETUP_SALT, secret, algorithm="sha256").hexdigest()


@member_required
@never_cache  # the answer shows the new secret
@require_POST
def two_factor_setup(request: HttpRequest) -> HttpResponseBase:
    """POST /profile/2fa/setup/: with the current password, a new secret, as a QR code and as text, and the field for the app's first code.

    A missing or wrong password is /profile/2fa/ again with the error (422),
    and counts as a failed login (429 past the lock-out); no secret is made.
    """
    if two_factor_enabled(request.user):  # as the service answers, before any password is asked for
        messages.error(request, ENABLED_ALREADY_MESSAGE)
        return redirect("web:two-factor")
    form = TwoFactorPasswordForm(request.POST, prefix="setup")
    if form.is_valid():
        try:
            enrolment = two_factor_enrol_start(request=request, user=request.user, password=form.cleaned_data["password"])  # type: ignore[arg-type]
        except Throttled as exc:
            return _locked_out(request, "web/two_factor.html", _page_context(request, setup=form), form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("web:two-factor")
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            request.session[PENDING_SETUP] = _setup_mark(enrolment.secret)
            context = {"enrolment": enrolment, "form": TwoFactorSetupForm(), "nav": "profile"}
            return render(request, "web/two_factor_setup.html", context)
    return render(request, "web/two_factor.html", _page_context(request, setup=form), status=422)


@member_required
@never_cache  # the answer shows the recovery codes, or the secret again
@require_POST
def two_factor_confirm(request: HttpRequest) -> HttpResponseBase:
    """POST /profile/2fa/confirm/: the app's first code turns two-factor login on; the recovery codes, shown this once."""
    form = TwoFactorSetupForm(request.POST)
    if form.is_valid():
        try:
            codes = two_factor_enrol_confirm(user=request.user, code=form.cleaned_data["code"], request=request)  # type: ignore[arg-type]
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("web:two-factor")
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            request.session.pop(PENDING_SETUP, None)
            return _recovery_codes_page(request, codes, first=True)
    enrolment = two_factor_enrolment_pending(user=request.user)  # type: ignore[arg-type]
    if enrolment is None:
        return redirect("web:two-factor")
    if not constant_time_compare(str(request.session.get(PENDING_SETUP, "")), _setup_mark(enrolment.secret)):
        # Not the set-up this session gave the password for (another browser's, or the API's): its secret stays unshown.
        messages.error(request, "Start the set-up again: give your password to see a new secret.")
        return redirect("web:two-factor")
    return render(request, "web/two_factor_setup.html", {"enrolment": enrolment, "form": form, "nav": "profile"}, status=422)


@member_required
@never_cache
@require_POST
def two_factor_turn_off(request: HttpRequest) -> HttpResponseBase:
    """POST /profile/2fa/disable/: turn two-factor login off with the password and a code; guesses count as failed logins."""
    form = TwoFactorPasswordCodeForm(request.POST, prefix="disable")
    if form.is_valid():
        try:
            two_factor_disable(request=request, user=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        except Throttled as exc:
            return _locked_out(request, "web/two_factor.html", _page_context(request, disable=form), form, exc)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Two-factor login is off. Your password alone logs you in now.")
            return redirect("web:two-factor")
    return render(request, "web/two_factor.html", _page_context(request, disable=form), status=422)


@member_required
@never_cache  # the answer shows the new recovery codes
@require_POST
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponseBase:
    """POST /profile/2fa/recovery-codes/: new recovery codes (the old ones stop working), with the password and a code."""
    form = TwoFactorPasswordCodeForm(request.POST, prefix="renew")
    if form.is_valid():
        try:
            codes = two_factor_recovery_codes_regenerate(request=request, user=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        except Throttled as exc:
            return _locked_out(request, "web/two_factor.html", _page_context(request, renew=form), form, exc)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            return _recovery_codes_page(request, codes, first=False)
    return render(request, "web/two_factor.html", _page_context(request, renew=form), status=422)
