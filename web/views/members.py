"""A member's public page: who they are, their uploads, and their figures if they show them."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import user_get_public, user_stats_visible
from tracker.catalogue.selectors import torrent_uploads_page
from web.access import member_required
from web.errors import domain_errors_as_pages
from web.views.account import PROFILE_ROWS, page_number


@member_required  # as GET /api/users/{id}: members only
@domain_errors_as_pages
def member(request: HttpRequest, username: str) -> HttpResponse:
    """GET /users/<username>/: join date, class, uploads (paginated), and uploaded/downloaded/ratio where user_stats_visible allows."""
    shown = user_get_public(username=username, viewer=request.user)
    uploads = torrent_uploads_page(user=request.user, uploader=shown, page=page_number(request, "page"), per_page=PROFILE_ROWS)
    context = {
        "member": shown,
        "figures_visible": user_stats_visible(shown, request.user),
        "is_self": shown.pk == request.user.pk,
        "uploads": uploads,
        "nav": "profile" if shown.pk == request.user.pk else "",
    }
    return render(request, "web/member.html", context)
