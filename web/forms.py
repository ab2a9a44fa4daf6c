"""Forms of the pages: they shape and validate input, the services decide."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, UserCreationForm
from django.utils.translation import ngettext

from accounts.models import User
from accounts.services import login_failure_record, login_failures_exceeded
from tracker.models import Forum


class PlainLabels:
    """Labels without Django's trailing colon: the stylesheet sets them apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LoginForm(PlainLabels, AuthenticationForm):
    """Django's login form with the API's lock-out and its refusal of banned users.

    The failure counts are the API's (accounts.services), so five failures on
    the page lock the API login out too, and the other way round.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": "Too many failed logins. Try again in %(seconds)s.",
        "banned": "This account is banned.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.request is not None:
            retry_after = login_failures_exceeded(request=self.request, username=username)
            if retry_after is not None:
                seconds = ngettext("%(n)d second", "%(n)d seconds", retry_after) % {"n": retry_after}
                raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out", params={"seconds": seconds})
        try:
            return super().clean()
        except forms.ValidationError:
            if username and self.request is not None:
                login_failure_record(request=self.request, username=username)
            raise

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user.can_log_in:
            raise forms.ValidationError(self.error_messages["banned"], code="banned")

    @property
    def is_locked_out(self) -> bool:
        """Did validation fail because of the lock-out (the page answers 429 then)?"""
        return any(error.code == "locked_out" for error in self.errors.as_data().get("__all__", []))


class PasskeyResetForm(PlainLabels, forms.Form):
    """The confirmation of a passkey reset: a box the user must tick."""

    confirm = forms.BooleanField(
        label="I understand that my current passkey stops working at once and I must re-download my .torrent files.",
        required=True,
    )


SORT_CHOICES = [
    ("created_at", "Age"),
    ("name", "Name"),
    ("size", "Size"),
    ("seeders", "Seeders"),
    ("leechers", "Leechers"),
    ("completed", "Completed"),
]
ORDER_CHOICES = [("desc", "Descending"), ("asc", "Ascending")]


def _forum_choices(forums: list[Forum]) -> list[tuple[Any, Any]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for forum in forums:
        groups.setdefault(forum.category.name, []).append((forum.pk, forum.name))
    return [("", "All forums"), *groups.items()]


def _category_choices(forums: list[Forum]) -> list[tuple[Any, str]]:
    seen: dict[int, str] = {}
    for forum in forums:
        seen.setdefault(forum.category_id, forum.category.name)
    return [("", "All categories"), *seen.items()]


class BrowseForm(PlainLabels, forms.Form):
    """The browse page's query: the API's `search`, `forum`, `category`, `sort`, `order` and `page`."""

    search = forms.CharField(label="Search", required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"}))
    category = forms.TypedChoiceField(label="Category", required=False, coerce=int, empty_value=None)
    forum = forms.TypedChoiceField(label="Forum", required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)
    order = forms.ChoiceField(label="Order", required=False, choices=ORDER_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, forums: list[Forum], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["forum"].choices = _forum_choices(forums)
        self.fields["category"].choices = _category_choices(forums)

    def clean_search(self) -> str:
        return self.cleaned_data["search"].strip()

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or "created_at"

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or "desc"

    def clean_page(self) -> int:
        return self.cleaned_data["page"] or 1


class RegisterForm(PlainLabels, UserCreationForm):
    """A new member: username, email and a password Django's validators accept."""

    email = forms.EmailField(label="Email", required=True, help_text="Only for password resets by an admin; never shown to others.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class ChangePasswordForm(PlainLabels, PasswordChangeForm):
    """Django's password change form, labelled like the other forms."""
