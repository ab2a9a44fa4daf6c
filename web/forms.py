"""Forms of the pages: they shape and validate input, the services decide."""

import re
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, UsernameField
from django.core.validators import RegexValidator
from django.utils.translation import ngettext

from accounts.invites import INVITE_CODE_MAX_LENGTH
from accounts.models import ApiKeyScope
from accounts.services import login_attempt_start, login_attempt_succeeded
from accounts.twofactor import two_factor_code_valid, two_factor_enabled, two_factor_required
from core.listing import DEFAULT_PER_PAGE
from core.metrics import LOGIN_FAILURES
from tracker.catalogue.selectors import member_id_by_username
from tracker.models import Forum, Freeleech, TorrentStatus


class PlainLabels:
    """Labels without Django's trailing colon: the stylesheet sets them apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


LOCKOUT_MESSAGES = {
    "locked_out": "Too many failed logins. Try again in %(seconds)s.",
    "banned": "This account is banned.",  # the API's ACCOUNT_BANNED message (api.errors)
}


class LoginLockout:
    """For Django's login forms: the API's failed-login lock-out and its refusal of banned users.

    The counts are the API's (accounts.services), so five failures here lock
    the API login out too, and the other way round. Each attempt is counted
    before the password is checked, so parallel guesses are held to the
    limit as well; a successful login is given back.
    """

    request: Any
    cleaned_data: dict[str, Any]
    error_messages: dict[str, Any]
    errors: Any

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        attempt = None
        if username and self.cleaned_data.get("password") and self.request is not None:
            attempt = login_attempt_start(request=self.request, username=username)
            if attempt.retry_after is not None:
                seconds = ngettext("%(n)d second", "%(n)d seconds", attempt.retry_after) % {"n": attempt.retry_after}
                raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out", params={"seconds": seconds})
        data = super().clean()  # type: ignore[misc]  # a wrong password (or a refused account) raises: the attempt stays counted
        if attempt is not None:
            login_attempt_succeeded(attempt)
        return data

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)  # type: ignore[misc]
        if not user.can_log_in:
            raise forms.ValidationError(self.error_messages["banned"], code="banned")

    @property
    def is_locked_out(self) -> bool:
        """Did validation fail because of the lock-out (the page answers 429 then)?"""
        return any(error.code == "locked_out" for error in self.errors.as_data().get("__all__", []))


class LoginForm(PlainLabels, LoginLockout, AuthenticationForm):
    """The login page's form."""

    error_messages = {**AuthenticationForm.error_messages, **LOCKOUT_MESSAGES}


TWO_FACTOR_CODE_HELP = "The 6 digits your authenticator app shows, or one of your recovery codes."


class AdminLoginForm(LoginLockout, AdminAuthenticationForm):
    """The admin site's login form, under the same lock-out (else it would be a way around it).

    It honours two-factor login: an account with it on needs a right code too
    (a wrong one stays counted as a failed login), and a staff account that
    must turn it on (TWO_FACTOR_REQUIRED_FOR_STAFF) and has not is refused.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        **LOCKOUT_MESSAGES,
        "two_factor_code": "Enter a right two-factor code: this account logs in with one.",
        "two_factor_required": "Staff accounts must turn on two-factor login first: log in on the site and set it up on your profile.",
    }

    code = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=64,
        help_text=f"{TWO_FACTOR_CODE_HELP} Leave empty if your account has no two-factor login.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}),
    )

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if two_factor_enabled(user):
            if not two_factor_code_valid(user=user, code=self.cleaned_data.get("code") or ""):
                LOGIN_FAILURES.labels("code").inc()  # the password was right: authenticate counted nothing
                raise forms.ValidationError(self.error_messages["two_factor_code"], code="two_factor_code")
        elif two_factor_required(user):
            raise forms.ValidationError(self.error_messages["two_factor_required"], code="two_factor_required")


class ApiKeyForm(PlainLabels, forms.Form):
    """A new personal API key: a name to recognise it by and what it may do (accounts.services.api_key_create decides)."""

    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “Prowlarr” or “RSS reader”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )


class PrivacyForm(PlainLabels, forms.Form):
    """What other members see of you (accounts.services.user_privacy_set)."""

    stats_public = forms.BooleanField(required=False, label="Show my uploaded, downloaded and ratio on my member page")
    hide_in_peers = forms.BooleanField(required=False, label="Hide my name in torrent peer lists")


class PasskeyResetForm(PlainLabels, forms.Form):
    """The confirmation of a passkey reset: a box the user must tick."""

    confirm = forms.BooleanField(
        label="I understand that my current passkey stops working at once and I must re-download my .torrent files.",
        required=True,
        error_messages={"required": "Tick the box to confirm."},
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


FREELEECH_CHOICES = [("", "Any"), *((value, label) for value, label in Freeleech.choices if value != Freeleech.NONE)]
SEEDED_CHOICES = [("", "Any"), ("true", "Seeded"), ("false", "Unseeded")]
PER_PAGE_CHOICES = [(25, "25"), (50, "50"), (100, "100")]
# Binary multiples under both names: the list shows sizes with filesizeformat, which
# divides by 1024 and says "MB", so a size typed as it is read off the list means the same.
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,10})?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


class SizeField(forms.Field):
    """A size in bytes, typed as bytes ("734003200") or with a unit ("700 MiB", "4.5 GB", "2g")."""

    default_error_messages = {"invalid": "Enter a size such as 734003200, 700 MiB or 4.5 GiB."}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        match = _SIZE.match(str(value))
        if match is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(Decimal(match[1]) * SIZE_UNITS[match[2].lower()])


class BrowseForm(PlainLabels, forms.Form):
    """The browse page's query, turned into GET /api/torrents parameters (`api_params`) for the API's own parsing.

    What the API takes in a machine's form is typed here as a person would:
    sizes with units, the uploader's name, dates; the API's TorrentFilter
    then validates and applies them as it does for the API.
    """

    search = forms.CharField(label="Search", required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"}))
    category = forms.TypedChoiceField(label="Category", required=False, coerce=int, empty_value=None)
    forum = forms.TypedChoiceField(label="Forum", required=False, coerce=int, empty_value=None)
    freeleech = forms.ChoiceField(label="Freeleech", required=False, choices=FREELEECH_CHOICES)
    seeded = forms.ChoiceField(label="Seeders", required=False, choices=SEEDED_CHOICES)
    min_size = SizeField(label="Min size", required=False)
    max_size = SizeField(label="Max size", required=False)
    uploader = UsernameField(label="Uploader", required=False, max_length=150)
    created_after = forms.DateField(label="Added from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_before = forms.DateField(label="Added before", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)
    order = forms.ChoiceField(label="Order", required=False, choices=ORDER_CHOICES)
    per_page = forms.TypedChoiceField(label="Per page", required=False, choices=PER_PAGE_CHOICES, coerce=int, empty_value=None)
    # Bounded so that the offset stays a 64-bit number in SQL (a larger one was a 500).
    page = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, forums: list[Forum], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["forum"]).choices = _forum_choices(forums)
        cast(forms.ChoiceField, self.fields["category"]).choices = _category_choices(forums)

    def clean_search(self) -> str:
        return self.cleaned_data["search"].strip()

    def clean_uploader(self) -> int | None:
        username = self.cleaned_data["uploader"]
        if not username:
            return None
        uploader_id = member_id_by_username(username=username)
        if uploader_id is None:
            raise forms.ValidationError(f"No member is called “{username}”.", code="unknown_uploader")
        return uploader_id

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or "created_at"

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or "desc"

    def clean_per_page(self) -> int:
        return self.cleaned_data["per_page"] or DEFAULT_PER_PAGE

    def clean_page(self) -> int:
        return self.cleaned_data["page"] or 1

    def api_params(self) -> dict[str, Any]:
        """The valid form as GET /api/torrents would be asked for it: empty fields left out, dates as UTC midnights."""
        params = {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
        for name in ("created_after", "created_before"):
            if name in params:
                params[name] = f"{params[name].isoformat()}T00:00:00Z"
        return params


class RegisterForm(PlainLabels, forms.Form):
    """A new member: the API's fields (username, email, password, invite) plus the password typed twice.

    The password rules and the taken-username check are the service's
    (accounts.services.user_register); their messages land next to these fields.
    """

    username = UsernameField(  # NFKC-normalised, then checked: fullwidth "john.doe" is "john.doe"
        label="Username",
        validators=[RegexValidator(r"^[\w.@+-]+\Z", message="Use only letters, digits and @ . + - _.")],
        min_length=3,
        max_length=150,
        help_text="3 to 150 characters: letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label="Email", max_length=254, help_text="Never shown to other members.", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_again = forms.CharField(
        label="Password again", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    # Whether it is required is REGISTRATION_MODE's, which the service applies (accounts.invites.registration_check).
    invite = forms.CharField(
        label="Invite code",
        required=False,
        max_length=INVITE_CODE_MAX_LENGTH,
        help_text="From the invite mail (tpi_…); the link in it fills this in.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", "The two passwords differ.")
        return data


class ChangePasswordForm(PlainLabels, PasswordChangeForm):
    """Django's password change form, labelled like the other forms."""


class PasswordResetRequestForm(PlainLabels, forms.Form):
    """The address to mail a password reset link to (accounts.emails.password_reset_request: the same answer for any)."""

    email = forms.EmailField(
        label="Email", max_length=254, help_text="The address of your account.", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class PasswordResetSetForm(PlainLabels, forms.Form):
    """A new password, typed twice; Django's password rules are the service's (accounts.emails.password_reset_confirm)."""

    new_password = forms.CharField(
        label="New password", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    new_password_again = forms.CharField(
        label="New password again", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password_again") and data["new_password"] != data["new_password_again"]:
            self.add_error("new_password_again", "The two passwords differ.")
        return data


class CommentForm(PlainLabels, forms.Form):
    """A comment's text (the API's limit: 10,000 characters)."""

    text = forms.CharField(label="Your comment", max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}))

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("Write something first.", code="blank")
        return text


class UploadForm(PlainLabels, forms.Form):
    """The upload: the API's fields (forum, file, name, description); the service validates the .torrent."""

    forum = forms.TypedChoiceField(label="Forum", coerce=int)
    file = forms.FileField(label=".torrent file", allow_empty_file=True, widget=forms.ClearableFileInput(attrs={"accept": ".torrent"}))
    name = forms.CharField(label="Name", max_length=255, required=False, help_text="Leave empty to use the name inside the .torrent.")
    description = forms.CharField(label="Description", max_length=100_000, required=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args: Any, forums: list[Forum], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["forum"]).choices = [("", "Choose a forum"), *_forum_choices(forums)[1:]]
        self.forums = {forum.pk: forum for forum in forums}

    def clean_forum(self) -> Forum:
        return self.forums[self.cleaned_data["forum"]]


class ModerateForm(PlainLabels, forms.Form):
    """A moderator's controls: the torrent's status and freeleech."""

    status = forms.ChoiceField(label="Status", choices=TorrentStatus.choices)
    freeleech = forms.ChoiceField(label="Freeleech", choices=Freeleech.choices)


class TorrentEditForm(PlainLabels, forms.Form):
    """What the uploader may change (tracker.catalogue.services.torrent_update): name, description, forum."""

    name = forms.CharField(label="Name", max_length=255)
    description = forms.CharField(label="Description", max_length=100_000, required=False, widget=forms.Textarea(attrs={"rows": 10}))
    forum = forms.TypedChoiceField(label="Forum", coerce=int)

    def __init__(self, *args: Any, forums: list[Forum], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["forum"]).choices = _forum_choices(forums)[1:]
        self.forums = {forum.pk: forum for forum in forums}

    def clean_forum(self) -> Forum:
        return self.forums[self.cleaned_data["forum"]]


def _code_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=64,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}),
    )


class TwoFactorCodeForm(PlainLabels, forms.Form):
    """The login's second step: a code from the app or a recovery code (accounts.twofactor decides)."""

    code = _code_field("Code", TWO_FACTOR_CODE_HELP)


class TwoFactorSetupForm(PlainLabels, forms.Form):
    """The end of setting up two-factor login: the first code the new app shows."""

    code = _code_field("Code from the app", "The 6 digits the app shows for this account now.")


def _current_password_field() -> forms.CharField:
    return forms.CharField(
        label="Password", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class TwoFactorPasswordForm(PlainLabels, forms.Form):
    """The start of setting up two-factor login: the current password, before any secret is shown."""

    password = _current_password_field()


class TwoFactorPasswordCodeForm(PlainLabels, forms.Form):
    """Both factors, to turn two-factor login off or get new recovery codes."""

    password = _current_password_field()
    code = _code_field("Code", TWO_FACTOR_CODE_HELP)
