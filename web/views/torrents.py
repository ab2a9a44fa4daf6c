"""Browse and the torrent page: reads through the catalogue's selectors."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from web import selectors
from web.forms import BrowseForm
from web.paging import Page, page_get


def browse(request: HttpRequest) -> HttpResponse:
    """GET /: the torrents the visitor may see, searched, filtered, sorted and paginated."""
    forums = selectors.forum_list_visible(user=request.user)
    form = BrowseForm(request.GET, forums=forums)
    context = {"form": form, "nav": "browse", "page": None}
    if not form.is_valid():
        return render(request, "web/browse.html", context, status=422)
    query = {name: form.cleaned_data[name] for name in ("search", "forum", "category", "sort", "order")}
    torrents = selectors.torrent_list(user=request.user, **query)
    level_key = f"{request.user.pk}:{sorted(query.items())}" if request.user.is_authenticated else f"guest:{sorted(query.items())}"
    page: Page = page_get(torrents, number=form.cleaned_data["page"], count_key=f"browse:{level_key}")
    context["page"] = page
    return render(request, "web/browse.html", context)


def torrent_detail(request: HttpRequest, torrent_id: int) -> HttpResponse:
    """GET /torrents/<id>/: description, files, swarm, comments and the actions the visitor may take."""
    torrent = selectors.torrent_get_visible(user=request.user, torrent_id=torrent_id)
    context = {
        "torrent": torrent,
        "files": selectors.torrent_files(torrent=torrent),
        "comments": selectors.comment_list(torrent=torrent),
    }
    return render(request, "web/torrent_detail.html", context)
