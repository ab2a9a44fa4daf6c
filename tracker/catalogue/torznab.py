"""Torznab (the Newznab API for torrents, as Prowlarr, Jackett, Sonarr and Radarr speak it): requests and XML documents.

Parses a request's parameters into a search (`torznab_search_parse`), and
writes the three documents a client reads: the capabilities (`t=caps`), a
page of results (an RSS 2.0 channel with `newznab:response` and
`torznab:attr` elements) and an error (`<error code description/>`).
The view (tracker.catalogue.views.TorznabView) authenticates and queries.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree as ET

from core.counting import Estimate
from core.listing import SEARCH_MAX_LENGTH
from tracker.models import NewznabCategory, Torrent

TORZNAB_NS = "http://torznab.com/schemas/2015/feed"
NEWZNAB_NS = "http://www.newznab.com/DTD/2010/feeds/attributes/"
ATOM_NS = "http://www.w3.org/2005/Atom"
ET.register_namespace("torznab", TORZNAB_NS)
ET.register_namespace("newznab", NEWZNAB_NS)
ET.register_namespace("atom", ATOM_NS)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# Words of `q` searched one by one (each is a substring test over three columns): more is a slow query, not a better one.
MAX_TERMS = 8
SEARCH_FUNCTIONS = ("search", "tvsearch", "movie")
# Functions of the Newznab API that exist but that we do not offer (203, not 202).
UNAVAILABLE_FUNCTIONS = ("music", "book", "details", "getnfo", "get", "register", "cart-add", "cart-del", "comments")
# A forum the operators mapped to no category is listed as "Other".
UNMAPPED = NewznabCategory.OTHER


class TorznabError(Exception):
    """A Newznab error: its code (100 credentials, 2xx parameters and functions, 500 limits, 900 other) and HTTP status."""

    def __init__(self, code: int, description: str, *, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        self.code, self.description, self.status = code, description, status
        self.headers = dict(headers or {})
        super().__init__(description)


@dataclass(frozen=True)
class TorznabSearch:
    """A validated search: words of the title (and season/episode), the categories asked for, the page."""

    terms: list[str] = field(default_factory=list)
    categories: list[int] | None = None
    offset: int = 0
    limit: int = DEFAULT_LIMIT


def _int_param(params: Mapping[str, Any], name: str, *, default: int | None, minimum: int, maximum: int) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TorznabError(201, f"Incorrect parameter: {name} must be an integer.") from None
    if not minimum <= value <= maximum:
        raise TorznabError(201, f"Incorrect parameter: {name} must be between {minimum} and {maximum}.")
    return value


def torznab_search_parse(params: Mapping[str, Any], function: str) -> TorznabSearch:
    """Read `q`, `season`/`ep` (tvsearch), `cat`, `offset` and `limit`; a bad value is error 201."""
    q = params.get("q") or ""
    if len(q) > SEARCH_MAX_LENGTH or "\x00" in q:
        raise TorznabError(201, f"Incorrect parameter: q must be at most {SEARCH_MAX_LENGTH} characters, without NUL.")
    terms = [word for word in q.replace(".", " ").split() if word][:MAX_TERMS]
    if function == "tvsearch":
        season = _int_param(params, "season", default=None, minimum=0, maximum=9999)
        episode = _int_param(params, "ep", default=None, minimum=0, maximum=9999)
        if season is not None:
            terms.append(f"S{season:02d}E{episode:02d}" if episode is not None else f"S{season:02d}")
    categories = None
    if (params.get("cat") or "").strip():
        try:
            categories = [int(c) for c in params["cat"].split(",") if c.strip()]
        except ValueError:
            raise TorznabError(201, "Incorrect parameter: cat must be comma-separated category ids.") from None
    offset = _int_param(params, "offset", default=0, minimum=0, maximum=10_000_000)
    limit = _int_param(params, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=10_000)
    return TorznabSearch(terms=terms, categories=categories, offset=offset or 0, limit=min(limit or DEFAULT_LIMIT, MAX_LIMIT))


def forum_category(forum: Any) -> int:
    """The Newznab category of a forum's torrents."""
    return int(forum.newznab_category or UNMAPPED)


def _parent(category: int) -> int:
    return category // 1000 * 1000


def forums_in_categories(forums: Iterable[Any], categories: list[int]) -> list[int]:
    """Ids of the forums whose category, or its parent (5040's is 5000), is one of `categories`."""
    wanted = set(categories)
    return [forum.pk for forum in forums if forum_category(forum) in wanted or _parent(forum_category(forum)) in wanted]


def _document(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def error_xml(code: int, description: str) -> bytes:
    """`<error code="..." description="..."/>`, what every Newznab client looks for first."""
    return _document(ET.Element("error", {"code": str(code), "description": description}))


def caps_xml(*, title: str, forums: Iterable[Any]) -> bytes:
    """The capabilities: limits, the search functions and their parameters, the categories of the forums given."""
    root = ET.Element("caps")
    ET.SubElement(root, "server", {"title": title})
    ET.SubElement(root, "limits", {"max": str(MAX_LIMIT), "default": str(DEFAULT_LIMIT)})
    searching = ET.SubElement(root, "searching")
    ET.SubElement(searching, "search", {"available": "yes", "supportedParams": "q"})
    ET.SubElement(searching, "tv-search", {"available": "yes", "supportedParams": "q,season,ep"})
    ET.SubElement(searching, "movie-search", {"available": "yes", "supportedParams": "q"})
    ET.SubElement(searching, "music-search", {"available": "no", "supportedParams": ""})
    ET.SubElement(searching, "audio-search", {"available": "no", "supportedParams": ""})
    ET.SubElement(searching, "book-search", {"available": "no", "supportedParams": ""})
    used = {forum_category(forum) for forum in forums}
    names = dict(NewznabCategory.choices)
    parents = sorted({_parent(c) for c in used})
    categories = ET.SubElement(root, "categories")
    for parent in parents:
        element = ET.SubElement(categories, "category", {"id": str(parent), "name": names.get(parent, str(parent))})
        for sub in sorted(c for c in used if _parent(c) == parent and c != parent):
            ET.SubElement(element, "subcat", {"id": str(sub), "name": names.get(sub, str(sub))})
    return _document(root)


@dataclass(frozen=True)
class ItemTerms:
    """What every item says of the site's rules: the volume factors and the hit-and-run requirement."""

    download_factor: Callable[[Torrent], float]
    upload_factor: float
    minimum_ratio: float | None
    minimum_seed_seconds: int | None


def _attr(item: ET.Element, name: str, value: object) -> None:
    ET.SubElement(item, f"{{{TORZNAB_NS}}}attr", {"name": name, "value": str(value)})


def _factor(value: float) -> str:
    return f"{value:g}"


def results_xml(
    *,
    title: str,
    self_url: str,
    site_url: str,
    torrents: list[Torrent],
    offset: int,
    total: int,
    page_url: Callable[[Torrent], str],
    download_url: Callable[[Torrent], str],
    terms: ItemTerms,
) -> bytes:
    """A page of results: an RSS 2.0 channel with `newznab:response offset total` and one item per torrent."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, f"{{{ATOM_NS}}}link", {"href": self_url, "rel": "self", "type": "application/rss+xml"})
    ET.SubElement(channel, "title").text = title
    ET.SubElement(channel, "description").text = f"{title}: torrents"
    ET.SubElement(channel, "link").text = site_url
    response = {"offset": str(offset), "total": str(total)}
    if isinstance(total, Estimate):  # as the API's meta says it (core.counting); clients that do not know it ignore it
        response["total_is_estimate"] = "true"
    ET.SubElement(channel, f"{{{NEWZNAB_NS}}}response", response)
    for torrent in torrents:
        category = forum_category(torrent.forum)
        url = download_url(torrent)
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = torrent.name
        ET.SubElement(item, "guid", {"isPermaLink": "true"}).text = page_url(torrent)
        ET.SubElement(item, "comments").text = page_url(torrent)
        ET.SubElement(item, "link").text = url
        ET.SubElement(item, "pubDate").text = format_datetime(torrent.created_at)
        ET.SubElement(item, "size").text = str(torrent.size)
        ET.SubElement(item, "category").text = str(category)
        ET.SubElement(item, "enclosure", {"url": url, "length": str(torrent.size), "type": "application/x-bittorrent"})
        for value in dict.fromkeys((category, _parent(category))):
            _attr(item, "category", value)
        _attr(item, "size", torrent.size)
        _attr(item, "files", torrent.file_count)
        _attr(item, "grabs", torrent.completed)
        _attr(item, "seeders", torrent.seeders)
        _attr(item, "leechers", torrent.leechers)
        _attr(item, "peers", torrent.seeders + torrent.leechers)
        _attr(item, "infohash", torrent.info_hash or torrent.info_hash_v2)
        _attr(item, "downloadvolumefactor", _factor(terms.download_factor(torrent)))
        _attr(item, "uploadvolumefactor", _factor(terms.upload_factor))
        if terms.minimum_ratio is not None:
            _attr(item, "minimumratio", _factor(terms.minimum_ratio))
        if terms.minimum_seed_seconds is not None:
            _attr(item, "minimumseedtime", terms.minimum_seed_seconds)
    return _document(rss)
