"""Confirming one's email address: the page a confirmation link opens, and asking for another mail.

The link's GET only shows a button; the POST it sends confirms. Mail
scanners and link previews open the links in mails by themselves: a GET that
confirmed would spend the link (its token dies once the address is
confirmed) before the member clicked it, and they would find it "used". The
same services as POST /api/email/confirm and /api/me/email/confirmation.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.emails import LINK_INVALID, email_confirm, email_confirmation_resend, email_confirmation_user
from core.errors import Conflict, Invalid, Throttled
from web.access import member_required
from web.views.password import throttled_page


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/email_confirm.html", {"invalid": LINK_INVALID}, status=422)


@never_cache  # the URL holds the link's token
@require_http_methods(["GET", "POST"])
def email_confirm_page(request: HttpRequest, uidb64: str, token: str) -> HttpResponseBase:
    """GET /email/confirm/<uid>/<token>/: a button that confirms; POST: confirm the link's address.

    No login needed: the link is the proof. A bad, expired or used link: 422.
    """
    try:
        if request.method == "GET":
            member = email_confirmation_user(uid=uidb64, token=token, request=request)
            return render(request, "registration/email_confirm.html", {"member": member})
        member = email_confirm(uid=uidb64, token=token, request=request)
    except Throttled as exc:
        return throttled_page(request, exc)
    except Invalid:
        return _invalid_link(request)
    if request.user.is_authenticated and request.user.pk == member.pk:
        messages.success(request, "Your email address is confirmed. You can download and upload torrents now.")
        return redirect("web:profile")
    messages.success(request, f"The email address of {member.username} is confirmed. Log in to download and upload torrents.")
    return redirect("web:login")


@member_required
@require_POST
def email_confirmation_again(request: HttpRequest) -> HttpResponseBase:
    """POST /profile/email/confirmation/: mail the member another confirmation link (429 past the hourly budget)."""
    try:
        sent = email_confirmation_resend(user=request.user, request=request)  # type: ignore[arg-type]
    except Throttled as exc:
        return throttled_page(request, exc)
    except Conflict as exc:
        messages.info(request, exc.message)
        return redirect("web:profile")
    if sent:
        messages.success(request, f"A confirmation mail is on its way to {request.user.email}. Open its link to confirm.")  # type: ignore[union-attr]
    else:
        messages.error(request, "The mail could not be sent just now. Try again in a few minutes.")
    return redirect("web:profile")
