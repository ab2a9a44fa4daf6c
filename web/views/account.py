"""Log in, password change and the profile: the member's own pages."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.invites import CLOSED, INVITE_CODE_MAX_LENGTH, registration_mode
from accounts.models import ApiKeyScope
from accounts.selectors import api_key_list
from accounts.services import api_key_create, api_key_revoke, user_passkey_reset, user_privacy_set, user_register
from accounts.twofactor import two_factor_enabled, two_factor_status
from core.errors import DomainError, Invalid, Throttled
from core.listing import MAX_PAGE, page_of, parse_positive_int
from tracker.catalogue.selectors import bookmark_list, torrent_uploads_page
from tracker.catalogue.services import announce_url_for
from tracker.swarm.selectors import snatch_history
from web.access import member_required
from web.errors import form_add_domain_error
from web.forms import ApiKeyForm, ChangePasswordForm, LoginForm, PasskeyResetForm, PrivacyForm, RegisterForm
from web.views.invites import invites_section
from web.views.twofactor import login_pending_start


class LoginView(auth_views.LoginView):
    """GET/POST /login/: session login with the API's failed-login lock-out.

    A member with two-factor login is not logged in by the password: the
    session notes the pending login and /login/2fa/ asks for the code.
    """

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if two_factor_enabled(user):
            return login_pending_start(self.request, user, self.get_success_url())
        return super().form_valid(form)

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 429 if form.is_locked_out else 422
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """GET/POST /password/: change one's password (Django's validators apply).

    Saving the new password revokes the member's API tokens and ends their
    other sessions (accounts.models.User.save); this session is kept.
    """

    form_class = ChangePasswordForm
    success_url = reverse_lazy("web:password-change-done")

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


HISTORY_TABS = [("all", "All"), ("seeding", "Seeding"), ("leeching", "Leeching"), ("completed", "Completed")]
PROFILE_ROWS = 25  # rows per page of each of the profile's lists


def page_number(request: HttpRequest, param: str) -> int:
    """Query parameter `param` as a page number (core.listing's rules); anything else is the first page (a profile never answers 422)."""
    try:
        return min(parse_positive_int(request.GET, param, 1), MAX_PAGE)
    except Invalid:
        return 1


def _profile_context(
    request: HttpRequest, *, key_form: ApiKeyForm | None = None, privacy_form: PrivacyForm | None = None
) -> dict[str, Any]:
    user = request.user
    history_filter = request.GET.get("history", "all")
    if history_filter not in dict(HISTORY_TABS):
        history_filter = "all"
    filters = {} if history_filter == "all" else {history_filter: True}
    context = {
        "announce_url": announce_url_for(user),
        "api_login_url": request.build_absolute_uri("/api/login"),
        "history": page_of(snatch_history(user=user, filters=filters), page=page_number(request, "history_page"), per_page=PROFILE_ROWS),  # type: ignore[arg-type]
        "history_filter": history_filter,
        "history_tabs": HISTORY_TABS,
        "uploads": torrent_uploads_page(user=user, uploader=user, page=page_number(request, "uploads_page"), per_page=PROFILE_ROWS),
        "bookmarks": page_of(bookmark_list(user=user), page=page_number(request, "bookmarks_page"), per_page=PROFILE_ROWS),
        "privacy_form": privacy_form or PrivacyForm(initial={"stats_public": user.stats_public, "hide_in_peers": user.hide_in_peers}),  # type: ignore[union-attr]
        "api_keys": list(api_key_list(user=user)),
        "invites": invites_section(user),
        "two_factor": two_factor_status(user=user),  # type: ignore[arg-type]
        "key_form": key_form or ApiKeyForm(),
        "feed_url": request.build_absolute_uri("/feeds/torrents.rss"),
        "torznab_url": request.build_absolute_uri("/api/torznab"),
        "nav": "profile",
    }
    return context


@member_required
@never_cache  # it shows the passkey
def profile(request: HttpRequest) -> HttpResponse:
    """GET /profile/: passkey, transfer totals, history (?history=seeding|leeching|completed), bookmarks, API access and keys."""
    return render(request, "web/profile.html", _profile_context(request))


@member_required
@require_http_methods(["POST"])
def privacy(request: HttpRequest) -> HttpResponse:
    """POST /profile/privacy/: what other members see of the member (their figures, their name in peer lists)."""
    form = PrivacyForm(request.POST)
    if not form.is_valid():  # two optional boxes: never, but a form says so if it happens
        return render(request, "web/profile.html", _profile_context(request, privacy_form=form), status=422)
    user_privacy_set(user=request.user, **form.cleaned_data)  # type: ignore[arg-type]
    messages.success(request, "Your privacy settings are saved.")
    return redirect(f"{reverse('web:profile')}#privacy-heading")  # type: ignore[return-value]


@member_required
@never_cache  # the answer shows the new key
@require_http_methods(["POST"])
def api_key_new(request: HttpRequest) -> HttpResponse:
    """POST /profile/keys/: a new API key, shown on this answer only (it is stored hashed); a bad form: the profile with its errors."""
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, raw = api_key_create(user=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"])  # type: ignore[arg-type]
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            feeds = key.has_scope(ApiKeyScope.FEED)
            context = {"key": key, "raw_key": raw, "feeds": feeds, "nav": "profile"}
            if feeds:
                context["feed_url"] = request.build_absolute_uri(f"/feeds/torrents.rss?key={raw}")
                context["torznab_url"] = request.build_absolute_uri("/api/torznab")
            return render(request, "web/api_key_created.html", context)
    return render(request, "web/profile.html", _profile_context(request, key_form=form), status=422)


@member_required
@require_http_methods(["POST"])
def api_key_delete(request: HttpRequest, key_id: int) -> HttpResponseBase:
    """POST /profile/keys/<id>/revoke/: revoke one of the member's keys; it stops working at once."""
    try:
        key = api_key_revoke(user=request.user, pk=key_id)  # type: ignore[arg-type]
    except DomainError as exc:
        raise Http404(exc.message) from None
    messages.success(request, f"The key “{key.name}” is revoked.")
    return redirect("web:profile")


@member_required
@require_http_methods(["GET", "POST"])
def passkey_reset(request: HttpRequest) -> HttpResponseBase:
    """GET /profile/passkey/: ask for confirmation; POST: give the member a new passkey."""
    form = PasskeyResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            user_passkey_reset(user=request.user)  # type: ignore[arg-type]
            messages.success(request, "Your passkey was reset. Download your .torrent files again to keep seeding.")
            return redirect("web:profile")
        return render(request, "web/passkey_reset.html", {"form": form}, status=422)
    return render(request, "web/passkey_reset.html", {"form": form})


@never_cache  # the page may carry an invite code (?invite=)
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponseBase:
    """GET/POST /register/: open a new account (accounts.services.user_register) and log it in.

    While registration is closed (REGISTRATION_MODE=closed) the page says so
    instead of showing the form (a post is 403). In invite mode the form
    needs an invite code, which the invite mail's link fills in (?invite=);
    past INVITE_FAILURE_LIMIT wrong codes a minute from one address: 429.
    """
    if request.user.is_authenticated:
        return redirect("web:profile")
    mode = registration_mode()
    if mode == CLOSED:
        status = 403 if request.method == "POST" else 200
        return render(request, "registration/register.html", {"mode": mode, "nav": "register"}, status=status)
    invite = request.GET.get("invite", "").strip()[:INVITE_CODE_MAX_LENGTH]
    form = RegisterForm(request.POST if request.method == "POST" else None, initial={"invite": invite})
    context = {"form": form, "mode": mode, "nav": "register"}
    if request.method == "GET":
        return render(request, "registration/register.html", context)
    retry_after = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            user = user_register(
                username=data["username"], email=data["email"], password=data["password"], invite=data["invite"], request=request
            )
        except Throttled as exc:
            form.add_error("invite", exc.message)
            retry_after = exc.retry_after
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}! Your account is ready.")
            return redirect("web:profile")
    response = render(request, "registration/register.html", context, status=422 if retry_after is None else 429)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
