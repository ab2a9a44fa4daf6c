"""Log in, password change and the profile: the member's own pages."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from accounts.services import user_passkey_reset
from web import selectors
from web.access import member_required
from web.forms import ChangePasswordForm, LoginForm, PasskeyResetForm, RegisterForm


class LoginView(auth_views.LoginView):
    """GET/POST /login/: session login with the API's failed-login lock-out."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 429 if form.is_locked_out else 422
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """GET/POST /password/: change one's password (Django's validators apply)."""

    form_class = ChangePasswordForm
    success_url = reverse_lazy("web:password-change-done")

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


def announce_url(passkey: str) -> str:
    """The personal announce URL written into the member's .torrent files."""
    return f"{settings.TRACKER_ANNOUNCE_URL}/announce/{passkey}"


@member_required
def profile(request: HttpRequest) -> HttpResponse:
    """GET /profile/: passkey, transfer totals, history, bookmarks, API access."""
    user = request.user
    context = {
        "announce_url": announce_url(user.passkey),  # type: ignore[union-attr]
        "api_login_url": request.build_absolute_uri("/api/login"),
        "bookmarks": selectors.bookmark_list(user=user),
        "nav": "profile",
    }
    return render(request, "web/profile.html", context)


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


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponseBase:
    """GET/POST /register/: open a new account and log it in; 404 while registration is closed."""
    if not settings.REGISTRATION_OPEN:
        raise Http404("Registration is closed.")
    if request.user.is_authenticated:
        return redirect("web:profile")
    form = RegisterForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}! Your account is ready.")
            return redirect("web:profile")
        return render(request, "registration/register.html", {"form": form, "nav": "register"}, status=422)
    return render(request, "registration/register.html", {"form": form, "nav": "register"})
