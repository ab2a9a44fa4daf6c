"""Browse, the torrent page and what can be done there, and the upload.

Reads go through tracker.catalogue.selectors / tracker.swarm.selectors and writes
through tracker.catalogue.services, the same functions the API calls; these views
only turn forms into calls and errors into pages.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.emails import email_confirmed_check
from core.errors import Conflict, DomainError, Invalid
from core.http import attachment_response
from core.listing import list_query_parse
from tracker.catalogue import selectors, services
from tracker.catalogue.access import can_download_from_forum, can_upload_to_forum, user_level
from tracker.models import Comment, Torrent
from tracker.policy.bonus import token_spend
from tracker.swarm.selectors import PeerView, peer_view, peers_visible_to, torrent_peers
from web.access import member_required
from web.errors import domain_errors_as_pages, form_add_domain_error
from web.forms import BrowseForm, CommentForm, ModerateForm, TorrentEditForm, UploadForm
from web.templatetags.web import browse_row
from web.views.standing import torrent_standing

FILE_ROWS = 500
PEER_ROWS = 50
# The fields that narrow the list (a page of it says how many matched).
BROWSE_FILTERS = (
    "search",
    "forum",
    "category",
    "freeleech",
    "seeded",
    "min_size",
    "max_size",
    "uploader",
    "created_after",
    "created_before",
)
# The sortable columns (TORRENT_LIST.sorts), in table order: (sort, heading, order of a first click).
BROWSE_COLUMNS = (
    ("name", "Name", "asc"),
    ("size", "Size", "desc"),
    ("seeders", "Seeders", "desc"),
    ("leechers", "Leechers", "desc"),
    ("completed", "Done", "desc"),
    ("created_at", "Added", "desc"),
)
ARIA_SORT = {"asc": "ascending", "desc": "descending"}
ARROWS = {"asc": "▲", "desc": "▼"}


@dataclass(frozen=True)
class SortHeader:
    """A column heading of the browse table: the link that sorts by it, and its direction when it is the sort."""

    sort: str
    label: str
    href: str
    aria_sort: str | None
    arrow: str


@dataclass(frozen=True)
class BrowseRow:
    """A torrent of the browse table and what the visitor may do with it from there (as its own page decides)."""

    torrent: Torrent
    may_download: bool = False
    magnet: str | None = None
    bookmarked: bool = False


def _sort_headers(request: HttpRequest, *, sort: str, order: str) -> list[SortHeader]:
    """Links keep the query but its page; the active column's link reverses its order."""
    headers = []
    for key, label, first_order in BROWSE_COLUMNS:
        active = key == sort
        params = request.GET.copy()
        params.pop("page", None)
        params["sort"] = key
        params["order"] = ("desc" if order == "asc" else "asc") if active else first_order
        aria_sort = ARIA_SORT[order] if active else None
        headers.append(SortHeader(key, label, f"?{params.urlencode()}", aria_sort, ARROWS[order] if active else ""))
    return headers


def _browse_rows(user: Any, torrents: list[Torrent]) -> list[BrowseRow]:
    """The page's torrents with the member's actions; a guest gets none. One query (the bookmarks) whatever the rows."""
    if not user.is_authenticated:
        return [BrowseRow(torrent) for torrent in torrents]
    bookmarked = set(selectors.bookmark_list(user=user).filter(torrent__in=torrents).values_list("torrent_id", flat=True))
    return [
        BrowseRow(
            torrent,
            may_download=can_download_from_forum(user, torrent.forum),
            magnet=services.torrent_magnet(user=user, torrent=torrent),
            bookmarked=torrent.pk in bookmarked,
        )
        for torrent in torrents
    ]


def _guest_rows(torrents: list[Torrent]) -> list[str]:
    return [browse_row(BrowseRow(torrent), member=False, csrf="") for torrent in torrents]


def _filters_html(request: HttpRequest, form: BrowseForm) -> str:
    """The browse page's valid filter form, as HTML shared by the visitors of one access level who typed the same.

    Thirteen fields through Django's form templates cost about what the rows
    do; they hold nothing but what was typed and the forums the level sees.
    """
    typed = sorted((field.name, request.GET.getlist(field.name)) for field in form.visible_fields() if field.name in request.GET)
    return mark_safe(  # noqa: S308 - Django's form templates escaped it
        selectors.list_shared(
            "browse-filters",
            level=user_level(request.user),
            what=typed,
            compute=lambda: render_to_string("web/_browse_filters.html", {"form": form}),
        )
    )


@require_GET
def browse(request: HttpRequest) -> HttpResponse:
    """GET /: the torrents the visitor may see, searched, filtered, sorted and paginated by GET /api/torrents's own code.

    The form reads what a person types (sizes with units, a username,
    dates); list_query_parse and the API's TorrentFilter then validate and
    apply it, so a value the API refuses with 422 is a 422 page here.
    """
    forums = list(selectors.forum_list_visible(user=request.user))
    form = BrowseForm(request.GET, forums=forums)
    context: dict[str, Any] = {"form": form, "nav": "browse", "page": None, "stats": selectors.stats_get()}
    if not form.is_valid():
        return render(request, "web/browse.html", context, status=422)
    try:
        query = list_query_parse(form.api_params(), selectors.TORRENT_LIST)
    except Invalid as exc:
        form_add_domain_error(form, exc)
        return render(request, "web/browse.html", context, status=422)
    if request.user.is_authenticated:
        page = selectors.torrent_page(user=request.user, query=query, cache_as="browse")
        context["rows"] = _browse_rows(request.user, page.items)
    else:
        # A guest's rows hold nothing of the visitor's: they are written once and shared with the page.
        page = selectors.torrent_page(user=request.user, query=query, shape=_guest_rows, cache_as="browse-guest")
        context["rows"] = page.items
    context["page"] = page
    context["filters"] = _filters_html(request, form)
    context["headers"] = _sort_headers(request, sort=form.cleaned_data["sort"], order=form.cleaned_data["order"])
    context["filtered"] = any(form.cleaned_data[name] not in (None, "") for name in BROWSE_FILTERS)
    response = render(request, "web/browse.html", context)
    if request.user.is_authenticated:
        add_never_cache_headers(response)  # the magnet links' announce URL carries the member's passkey
    return response


def _may_edit_torrent(user: Any, torrent: Torrent) -> bool:
    # Mirrors tracker.catalogue.services.torrent_update, which enforces it; here it only decides whether to offer the page.
    return user.is_authenticated and (torrent.uploader_id == user.pk or user.is_moderator)


def _may_change_comment(user: Any, comment: Comment) -> bool:
    # Mirrors tracker.catalogue.services, which enforces it; here it only decides whether to offer the link.
    return user.is_authenticated and (comment.author_id == user.pk or user.is_moderator)


def _previewing(request: HttpRequest) -> bool:
    """A form's Preview button: show the text as it will look (tracker.catalogue.markup), save nothing."""
    return request.method == "POST" and "preview" in request.POST


def _posted(request: HttpRequest, *names: str) -> dict[str, str]:
    """The form's other fields as posted, to re-show them beside a preview."""
    return {name: request.POST[name] for name in names if name in request.POST}


def _peers(user: Any, torrent: Torrent) -> list[PeerView] | None:
    """The first peers as GET /api/torrents/<id>/peers shows them to `user` (hidden names, IPs for moderators).

    None for a guest, whom the API refuses the list too.
    """
    if not peers_visible_to(user):
        return None
    return [peer_view(peer, viewer=user, size=torrent.size) for peer in torrent_peers(torrent=torrent)[:PEER_ROWS]]


def _render_torrent(
    request: HttpRequest,
    torrent: Torrent,
    *,
    comment_form: CommentForm | None = None,
    moderate_form: ModerateForm | None = None,
    preview: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    comments = list(selectors.comment_list(torrent=torrent))
    for comment in comments:
        comment.may_change = _may_change_comment(user, comment)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "torrent": torrent,
        "files": list(selectors.torrent_files(torrent=torrent)[:FILE_ROWS]),
        "comments": comments,
        "peers": _peers(user, torrent),
        "magnet": services.torrent_magnet(user=user, torrent=torrent),
        "may_download": can_download_from_forum(user, torrent.forum),
        "may_edit": _may_edit_torrent(user, torrent),
        "preview": preview,
    }
    if user.is_authenticated:
        context["bookmarked"] = selectors.bookmark_list(user=user).filter(torrent=torrent).exists()
        context["comment_form"] = comment_form or CommentForm()
        context["own"] = torrent_standing(user, torrent)
        if user.is_moderator:  # type: ignore[union-attr]
            context["moderate_form"] = moderate_form or ModerateForm(initial={"status": torrent.status, "freeleech": torrent.freeleech})
    response = render(request, "web/torrent_detail.html", context, status=status)
    add_never_cache_headers(response)  # the magnet link's announce URL carries the member's passkey
    return response


@require_GET
@domain_errors_as_pages
def torrent_detail(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """GET /torrents/<id>/: description, files, swarm, comments and what the visitor may do with it."""
    return _render_torrent(request, selectors.torrent_get_visible(user=request.user, pk=torrent_id))


@member_required
@require_GET
@domain_errors_as_pages
def torrent_download(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """GET /torrents/<id>/download/: the .torrent with the member's own announce URL (as GET /api/torrents/<id>/download)."""
    torrent = selectors.torrent_get_visible(user=request.user, pk=torrent_id, with_metainfo=True)
    body = services.torrent_download_metainfo(user=request.user, torrent=torrent)
    return attachment_response(body, filename=f"{torrent.name}.torrent", content_type=services.TORRENT_CONTENT_TYPE)


@member_required
@require_POST
@domain_errors_as_pages
def torrent_bookmark(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """POST /torrents/<id>/bookmark/: action=add bookmarks the torrent, action=remove forgets it."""
    torrent = selectors.torrent_get_visible(user=request.user, pk=torrent_id)
    if request.POST.get("action") == "remove":
        services.bookmark_remove(user=request.user, torrent=torrent)
        messages.success(request, "Bookmark removed.")
    else:
        services.bookmark_add(user=request.user, torrent=torrent)
        messages.success(request, "Bookmarked. Your bookmarks are on your profile.")
    return redirect("web:torrent", torrent_id=torrent.pk)


@member_required
@require_POST
@domain_errors_as_pages
def torrent_freeleech_token(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """POST /torrents/<id>/freeleech-token/: spend one of the member's freeleech tokens on it (tracker.policy.bonus.token_spend).

    A refusal (a token running on it already, a gold torrent, no tokens left)
    comes back as a message on the torrent page; nothing is spent then.
    """
    try:
        use = token_spend(user=request.user, torrent=torrent_id)  # type: ignore[arg-type]
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        until = dateformat.format(timezone.localtime(use.expires_at), "j M Y, H:i T")
        left = use.user.freeleech_tokens
        messages.success(request, f"Freeleech token used: your download of this torrent counts nothing until {until}. Tokens left: {left}.")
    return redirect("web:torrent", torrent_id=torrent_id)


@member_required
@require_POST
@domain_errors_as_pages
def torrent_moderate(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """POST /torrents/<id>/moderate/: a moderator sets status and freeleech (tracker.catalogue.services.torrent_update)."""
    torrent = selectors.torrent_get_visible(user=request.user, pk=torrent_id)
    if not request.user.is_moderator:  # type: ignore[union-attr]
        raise PermissionDenied("Only moderators may do this.")
    form = ModerateForm(request.POST)
    if not form.is_valid():
        return _render_torrent(request, torrent, moderate_form=form, status=422)
    services.torrent_update(actor=request.user, torrent=torrent, data=form.cleaned_data)
    messages.success(request, "Torrent updated.")
    return redirect("web:torrent", torrent_id=torrent.pk)


@member_required
@require_http_methods(["GET", "POST"])
@domain_errors_as_pages
def torrent_edit(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """GET/POST /torrents/<id>/edit/: the uploader (or a moderator) changes name, description and forum."""
    torrent = selectors.torrent_get_visible(user=request.user, pk=torrent_id)
    if not _may_edit_torrent(request.user, torrent):
        raise PermissionDenied("Only the uploader or a moderator may edit this torrent.")
    # The forums it may move to, and the one it is in (which may be closed to new uploads by now).
    forums = [
        f for f in selectors.forum_list_visible(user=request.user) if f.pk == torrent.forum_id or can_upload_to_forum(request.user, f)
    ]
    initial = {"name": torrent.name, "description": torrent.description, "forum": torrent.forum_id}
    if _previewing(request):
        text = request.POST.get("description", "")
        form = TorrentEditForm(initial={**initial, **_posted(request, "name", "forum"), "description": text}, forums=forums)
        return render(request, "web/torrent_edit.html", {"form": form, "torrent": torrent, "preview": text})
    form = TorrentEditForm(request.POST if request.method == "POST" else None, initial=initial, forums=forums)
    context = {"form": form, "torrent": torrent}
    if request.method == "GET":
        return render(request, "web/torrent_edit.html", context)
    if form.is_valid():
        try:
            services.torrent_update(actor=request.user, torrent=torrent, data=form.cleaned_data)
        except Invalid as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Torrent updated.")
            return redirect("web:torrent", torrent_id=torrent.pk)
    return render(request, "web/torrent_edit.html", context, status=422)


@member_required
@require_POST
@domain_errors_as_pages
def comment_add(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """POST /torrents/<id>/comments/: add the member's comment."""
    torrent = selectors.torrent_get_visible(user=request.user, pk=torrent_id)
    if _previewing(request):
        text = request.POST.get("text", "")
        return _render_torrent(request, torrent, comment_form=CommentForm(initial={"text": text}), preview=text)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _render_torrent(request, torrent, comment_form=form, status=422)
    comment = services.comment_create(author=request.user, torrent=torrent, text=form.cleaned_data["text"])
    return redirect(reverse("web:torrent", args=[torrent.pk]) + f"#comment-{comment.pk}")


@member_required
@require_http_methods(["GET", "POST"])
@domain_errors_as_pages
def comment_edit(request: HttpRequest, comment_id: int) -> HttpResponse:
    """GET/POST /comments/<id>/edit/: its author (or a moderator) changes a comment's text."""
    comment = selectors.comment_get_visible(user=request.user, pk=comment_id)
    if not _may_change_comment(request.user, comment):
        raise PermissionDenied("Only the author or a moderator may change this comment.")
    if _previewing(request):
        text = request.POST.get("text", "")
        context = {"form": CommentForm(initial={"text": text}), "comment": comment, "preview": text}
        return render(request, "web/comment_edit.html", context)
    form = CommentForm(request.POST if request.method == "POST" else None, initial={"text": comment.text})
    if request.method == "POST":
        if form.is_valid():
            services.comment_update(actor=request.user, comment=comment, text=form.cleaned_data["text"])
            return redirect(reverse("web:torrent", args=[comment.torrent_id]) + f"#comment-{comment.pk}")
        return render(request, "web/comment_edit.html", {"form": form, "comment": comment}, status=422)
    return render(request, "web/comment_edit.html", {"form": form, "comment": comment})


@member_required
@require_http_methods(["GET", "POST"])
@domain_errors_as_pages
def upload(request: HttpRequest) -> HttpResponse:
    """GET/POST /upload/: register a .torrent (tracker.catalogue.services.torrent_register) and open its page.

    The service's messages (bad bencode, a missing field, already registered,
    too large) are shown next to the field they are about. A member who must
    confirm their email address first gets the 403 page saying so, form or not.
    """
    email_confirmed_check(user=request.user)
    forums = [forum for forum in selectors.forum_list_visible(user=request.user) if can_upload_to_forum(request.user, forum)]
    context: dict[str, Any] = {"nav": "upload", "max_size": settings.TRACKER_MAX_TORRENT_SIZE}
    if _previewing(request):
        # A browser never sends a file back with a re-shown form: the page asks for the .torrent again.
        text = request.POST.get("description", "")
        form = UploadForm(initial={**_posted(request, "name", "forum"), "description": text}, forums=forums)
        return render(request, "web/upload.html", {**context, "form": form, "preview": text})
    form = UploadForm(request.POST if request.method == "POST" else None, request.FILES or None, forums=forums)
    context["form"] = form
    if request.method == "GET":
        return render(request, "web/upload.html", context)
    if form.is_valid():
        upload_file = form.cleaned_data["file"]
        try:
            if upload_file.size > settings.TRACKER_MAX_TORRENT_SIZE:
                # Refused before the upload is read into memory, as the API does.
                raise Invalid(details={"file": [f"The .torrent file is larger than {settings.TRACKER_MAX_TORRENT_SIZE} bytes."]})
            torrent = services.torrent_register(
                uploader=request.user,
                forum=form.cleaned_data["forum"],
                metainfo_bytes=upload_file.read(),
                name=form.cleaned_data["name"] or None,
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc, default_field="file")
        else:
            messages.success(request, f"“{torrent.name}” is registered. Download it from here to seed it with your passkey.")
            return redirect("web:torrent", torrent_id=torrent.pk)
    return render(request, "web/upload.html", context, status=422)
