"""RSS 2.0 and Atom feeds of torrent lists and of a member's bookmarks, for a personal API key with the `feed` scope.

Django's syndication framework writes the feeds; each item carries the
torrent's size, seeders, leechers and info hash (in the ezRSS `torrent:`
namespace) and an enclosure: a download link of the .torrent, carrying the
member's own passkey, that works with the same key. The torrent lists take
the filters, search and sort of GET /api/torrents (selectors.TORRENT_LIST);
what the key's owner may not see is in no feed.
"""

from typing import Any
from urllib.parse import urlencode

from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.feedgenerator import Atom1Feed, Enclosure, Rss201rev2Feed, SyndicationFeed
from django.views.decorators.http import require_GET

from accounts.models import ApiKey, ApiKeyScope
from accounts.selectors import api_key_find
from accounts.services import api_key_used
from accounts.twofactor import two_factor_required
from core.errors import Forbidden, Invalid, NotFound
from core.http import attachment_response
from core.listing import list_query_parse
from core.net import client_ip
from core.ratelimit import apply_headers, count_request
from tracker.catalogue import selectors, services
from tracker.models import Torrent

EZRSS_NS = "http://xmlns.ezrss.it/0.1/"
KEY_PARAM = "key"


class _TorrentElements:
    """The `torrent:` elements of an item (ezRSS), written by both feed types."""

    def add_torrent_elements(self, handler: Any, item: dict[str, Any]) -> None:
        handler.addQuickElement("torrent:contentLength", str(item["size"]))
        handler.addQuickElement("torrent:infoHash", item["info_hash"])
        handler.addQuickElement("torrent:seeds", str(item["seeders"]))
        handler.addQuickElement("torrent:peers", str(item["seeders"] + item["leechers"]))
        handler.addQuickElement("torrent:leechers", str(item["leechers"]))
        handler.addQuickElement("torrent:fileName", f"{item['title']}.torrent")


class TorrentRssFeed(_TorrentElements, Rss201rev2Feed):
    def rss_attributes(self) -> dict[str, str]:
        return {**super().rss_attributes(), "xmlns:torrent": EZRSS_NS}

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        self.add_torrent_elements(handler, item)


class TorrentAtomFeed(_TorrentElements, Atom1Feed):
    def root_attributes(self) -> dict[str, str]:
        return {**super().root_attributes(), "xmlns:torrent": EZRSS_NS}

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        self.add_torrent_elements(handler, item)


def _refusal(status: int, message: str) -> HttpResponse:
    response = HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
    add_never_cache_headers(response)
    return response


def feed_key(request: HttpRequest) -> ApiKey | HttpResponse:
    """The live `feed`-scoped key of `?key=`, its owner now the request's user; else the refusal to answer with.

    A missing, unknown or revoked key, or one whose owner is banned or
    deactivated, is 401; a key without the `feed` scope 403 (and so is a staff
    member's who must turn on two-factor login and has not). Each request
    counts against the owner's budget (core.ratelimit): 429 past it.
    """
    key = api_key_find(raw=request.GET.get(KEY_PARAM) or "")
    if key is None or not key.user.can_log_in:
        return _refusal(401, "The key is missing, invalid or revoked.")
    request.user = key.user
    usage = count_request(request)
    if usage["should_limit"]:
        response = _refusal(429, "Too many requests. Please slow down.")
        apply_headers(response, usage)
        return response
    api_key_used(key=key, ip=client_ip(request))
    if not key.has_scope(ApiKeyScope.FEED):
        return _refusal(403, f"This API key lacks the '{ApiKeyScope.FEED}' scope.")
    if two_factor_required(key.user):  # as the API refuses the keys of staff who must turn it on (accounts.authentication)
        return _refusal(403, "Staff accounts must turn on two-factor login before their keys work.")
    return key


class _KeyedFeed(Feed):
    """A feed behind a `feed`-scoped key (feed_key), never kept by a cache (its links carry the key)."""

    description = "Torrents on torrentpier."
    author_name = "torrentpier"

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = feed_key(request)
        if isinstance(key, HttpResponse):
            return key
        try:
            response = super().__call__(request, *args, **kwargs)
        except Invalid as exc:
            lines = [f"{field}: {message}" for field, messages in exc.details.items() for message in messages]
            return _refusal(422, "\n".join(lines) or exc.message)
        add_never_cache_headers(response)
        return response

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpRequest:
        return request

    def link(self, obj: HttpRequest) -> str:
        return reverse("web:browse")

    def feed_url(self, obj: HttpRequest) -> str:
        return obj.path  # without the key

    def items(self, obj: HttpRequest) -> list[Torrent]:
        raise NotImplementedError

    def item_title(self, item: Torrent) -> str:
        return item.name

    def item_description(self, item: Torrent) -> str:
        return f"{item.forum.name} · {item.size} bytes · {item.seeders} seeders, {item.leechers} leechers"

    def item_link(self, item: Torrent) -> str:
        return reverse("web:torrent", args=[item.pk])

    def item_guid(self, item: Torrent) -> str:
        return reverse("web:torrent", args=[item.pk])

    def item_pubdate(self, item: Torrent) -> Any:
        return item.created_at

    def item_author_name(self, item: Torrent) -> str:
        return item.uploader.username

    def item_categories(self, item: Torrent) -> list[str]:
        return [item.forum.name]

    def item_enclosures(self, item: Torrent) -> list[Enclosure]:
        return [Enclosure(item.feed_download_url, str(item.size), services.TORRENT_CONTENT_TYPE)]  # type: ignore[attr-defined]

    def item_extra_kwargs(self, item: Torrent) -> dict[str, Any]:
        return {
            "size": item.size,
            "info_hash": item.info_hash or item.info_hash_v2 or "",
            "seeders": item.seeders,
            "leechers": item.leechers,
        }

    def _with_links(self, request: HttpRequest, torrents: list[Torrent]) -> list[Torrent]:
        """`torrents`, each with its download link taking the request's key (the feed is one instance for all requests)."""
        for torrent in torrents:
            path = reverse("web:feed-download", args=[torrent.pk])
            torrent.feed_download_url = request.build_absolute_uri(f"{path}?{urlencode({KEY_PARAM: request.GET[KEY_PARAM]})}")  # type: ignore[attr-defined]
        return torrents


class TorrentsRss(_KeyedFeed):
    """GET /feeds/torrents.rss?key=...: the newest torrents, with GET /api/torrents's filters (forum, category, search, ...)."""

    feed_type: type[SyndicationFeed] = TorrentRssFeed
    title = "torrentpier: torrents"

    def items(self, obj: HttpRequest) -> list[Torrent]:
        query = list_query_parse(obj.GET, selectors.TORRENT_LIST)
        offset = (query.page - 1) * query.per_page
        return self._with_links(obj, list(selectors.torrent_list(user=obj.user, query=query)[offset : offset + query.per_page]))


class TorrentsAtom(TorrentsRss):
    """GET /feeds/torrents.atom?key=...: the same as Atom."""

    feed_type = TorrentAtomFeed
    subtitle = _KeyedFeed.description


class BookmarksRss(_KeyedFeed):
    """GET /feeds/bookmarks.rss?key=...: the key owner's bookmarks (of torrents they may still see), newest first."""

    feed_type: type[SyndicationFeed] = TorrentRssFeed
    title = "torrentpier: bookmarks"

    def items(self, obj: HttpRequest) -> list[Torrent]:
        query = list_query_parse(obj.GET, selectors.PAGED_LIST)
        offset = (query.page - 1) * query.per_page
        bookmarks = selectors.bookmark_list(user=obj.user)[offset : offset + query.per_page]
        return self._with_links(obj, [bookmark.torrent for bookmark in bookmarks])


class BookmarksAtom(BookmarksRss):
    """GET /feeds/bookmarks.atom?key=...: the same as Atom."""

    feed_type = TorrentAtomFeed
    subtitle = _KeyedFeed.description


@require_GET
def feed_download(request: HttpRequest, torrent_id: int) -> HttpResponseBase:
    """GET /feeds/torrents/<id>/download?key=...: the .torrent (with the owner's passkey) for the feeds' and Torznab's links."""
    key = feed_key(request)
    if isinstance(key, HttpResponse):
        return key
    try:
        torrent = selectors.torrent_get_visible(user=key.user, pk=torrent_id, with_metainfo=True)
        body = services.torrent_download_metainfo(user=key.user, torrent=torrent)
    except NotFound as exc:
        return _refusal(404, exc.message)
    except Forbidden as exc:
        return _refusal(403, exc.message)
    return attachment_response(body, filename=f"{torrent.name}.torrent", content_type=services.TORRENT_CONTENT_TYPE)
