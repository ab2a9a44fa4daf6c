"""Who may see and do what (issue 11): every torrent-scoped route x role x torrent state, API and pages alike.

The rule: a torrent a member may not see is 404 for them (never 403, never
200) on every route, and missing from every list and count, in the API, the
pages and the tracker. Guests get 401 on the API where a login is needed and
the login page on the site; a banned member's tokens are refused (401) and
their session is gone, so on the pages they are a guest.

Each test builds one world (a torrent in each state, every role with a
bookmark, a snatch and a peer on each) and runs one row for one role over
every state. `test_every_torrent_route_has_a_row` walks Django's URL resolver:
a new torrent sub-resource (or a new method on one) without a row fails it.
"""

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from fastbencode import bdecode
from rest_framework.test import APIClient

from accounts.services import api_key_create, user_set_banned
from accounts.tokens import refresh_token_for
from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce_qs, peer_id
from tracker.models import AccessLevel, Bookmark, Comment, Peer, Snatch, TorrentStats, TorrentStatus

pytestmark = pytest.mark.django_db

ROLES = ["guest", "member", "other_member", "uploader", "moderator", "admin", "banned"]
STATES = ["approved", "not_approved", "members_forum", "staff_forum", "admin_forum"]
# The states each role may see (a banned member sees what a guest sees, and on the API nothing at all).
SEES = {
    "guest": {"approved"},
    "banned": {"approved"},
    "member": {"approved", "members_forum"},
    "other_member": {"approved", "members_forum"},
    "uploader": {"approved", "not_approved", "members_forum"},
    "moderator": {"approved", "not_approved", "members_forum", "staff_forum"},
    "admin": set(STATES),
}
# A torrent in each state: (forum view level, status). All are uploaded by `uploader`; every forum's
# download level is "user", so whoever may see a torrent may download it.
STATE_SETUP = {
    "approved": (AccessLevel.GUEST, TorrentStatus.APPROVED),
    "not_approved": (AccessLevel.GUEST, TorrentStatus.NOT_APPROVED),
    "members_forum": (AccessLevel.USER, TorrentStatus.APPROVED),
    "staff_forum": (AccessLevel.MODERATOR, TorrentStatus.APPROVED),
    "admin_forum": (AccessLevel.ADMIN, TorrentStatus.APPROVED),
}
LEVELS = {"guest": 0, "member": 1, "other_member": 1, "uploader": 1, "moderator": 2, "admin": 3}
LOGGED_IN = ["member", "other_member", "uploader", "moderator", "admin", "banned"]


@pytest.fixture
def world(db: Any) -> SimpleNamespace:
    users = {role: UserFactory(username=f"vis-{role}", **_role_fields(role)) for role in LOGGED_IN}
    category = CategoryFactory()
    forums: dict[str, Any] = {}
    torrents: dict[str, Any] = {}
    comments: dict[str, Any] = {}
    now = timezone.now()
    for n, (state, (view_level, status)) in enumerate(STATE_SETUP.items()):
        forum = ForumFactory(category=category, view_level=view_level, upload_level=AccessLevel.USER, download_level=AccessLevel.USER)
        torrent = TorrentFactory(forum=forum, uploader=users["uploader"], name=f"vistable-{state}", status=status)
        forums[state], torrents[state] = forum, torrent
        comments[state] = Comment.objects.create(torrent=torrent, author=users["member"], text=f"comment on {state}")
        for m, user in enumerate(users.values()):
            Bookmark.objects.create(user=user, torrent=torrent)
            Snatch.objects.create(user=user, torrent=torrent, uploaded=1, first_announce=now, last_announce=now, is_seeding=True)
            Peer.objects.create(
                torrent=torrent, user=user, peer_id=peer_id(100 * n + m), ip=f"10.0.{n}.{m + 1}", port=6881, left=0, is_seeder=True,
                last_announce=now,
            )  # fmt: skip
        TorrentStats.objects.filter(torrent=torrent).update(seeders=len(users))  # as the announces would have counted them
    # Real credentials, taken before the ban: the banned member's token and session must stop working.
    tokens = {role: str(refresh_token_for(user).access_token) for role, user in users.items()}
    sessions = {}
    for role, user in users.items():
        sessions[role] = Client()
        sessions[role].force_login(user)
    keys = {role: api_key_create(user=user, name="feeds", scopes=["feed"])[1] for role, user in users.items()}
    user_set_banned(user=users["banned"], banned=True)
    return SimpleNamespace(users=users, forums=forums, torrents=torrents, comments=comments, tokens=tokens, sessions=sessions, keys=keys)


def _role_fields(role: str) -> dict[str, Any]:
    if role == "moderator":
        return {"role": "moderator"}
    if role == "admin":
        return {"role": "admin"}
    return {}


def api_client(world: SimpleNamespace, role: str) -> APIClient:
    client = APIClient()
    if role != "guest":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[role]}")
    return client


def page_client(world: SimpleNamespace, role: str) -> Client:
    return Client() if role == "guest" else world.sessions[role]


# ---------------------------------------------------------------------------------------------
# Torrent-scoped routes: one request per state, its status compared with the rule.


@dataclass(frozen=True)
class Route:
    """One method of one torrent-scoped route. `allowed`: the status on a torrent the role may see."""

    front: str  # "api", "page" or "feed" (a feed's link, with the role's `feed`-scoped API key in ?key=)
    route: str  # the URL pattern's name, without namespace
    method: str
    path: str  # {torrent}, {comment} and {forum} are the state's objects
    login: bool  # needs a login: 401 on the API, the login page on the site
    allowed: dict[str, int]
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.front}:{self.method.upper()}:{self.route}"


def _each(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def _only(status: int, roles: set[str], otherwise: int = 403) -> dict[str, int]:
    return {role: status if role in roles else otherwise for role in ROLES}


OWNER = {"uploader", "moderator", "admin"}  # who may edit or delete the torrent
AUTHOR = {"member", "moderator", "admin"}  # who may change the comment (its author is `member`)
STAFF = {"moderator", "admin"}

MODERATE = {"status": "approved", "freeleech": "none"}
API_ROUTES = [
    Route("api", "torrent-detail", "get", "torrents/{torrent}", False, _each(200)),
    Route("api", "torrent-detail", "patch", "torrents/{torrent}", True, _only(200, OWNER), {"description": "changed"}),
    Route("api", "torrent-detail", "delete", "torrents/{torrent}", True, _only(204, OWNER)),
    Route("api", "torrent-files", "get", "torrents/{torrent}/files", False, _each(200)),
    Route("api", "torrent-comments", "get", "torrents/{torrent}/comments", False, _each(200)),
    Route("api", "torrent-comments", "post", "torrents/{torrent}/comments", True, _each(201), {"text": "hello"}),
    Route("api", "torrent-peers", "get", "torrents/{torrent}/peers", True, _each(200)),
    Route("api", "torrent-download", "get", "torrents/{torrent}/download", True, _each(200)),
    Route("api", "torrent-bookmark", "put", "torrents/{torrent}/bookmark", True, _each(200)),
    Route("api", "torrent-bookmark", "delete", "torrents/{torrent}/bookmark", True, _each(204)),
    # No member of the table holds a freeleech token: a torrent they may see answers 409, the others 404.
    Route("api", "torrent-freeleech-token", "post", "torrents/{torrent}/freeleech-token", True, _each(409)),
    Route("api", "comment-detail", "patch", "comments/{comment}", True, _only(200, AUTHOR), {"text": "edited"}),
    Route("api", "comment-detail", "delete", "comments/{comment}", True, _only(204, AUTHOR)),
]
PAGE_ROUTES = [
    Route("page", "torrent", "get", "/torrents/{torrent}/", False, _each(200)),
    Route("page", "torrent-edit", "get", "/torrents/{torrent}/edit/", True, _only(200, OWNER)),
    Route("page", "torrent-edit", "post", "/torrents/{torrent}/edit/", True, _only(302, OWNER), {"name": "x", "forum": "{forum}"}),
    Route("page", "torrent-download", "get", "/torrents/{torrent}/download/", True, _each(200)),
    Route("page", "torrent-bookmark", "post", "/torrents/{torrent}/bookmark/", True, _each(302), {"action": "add"}),
    Route("page", "torrent-bookmark", "post", "/torrents/{torrent}/bookmark/", True, _each(302), {"action": "remove"}),
    Route("page", "torrent-freeleech-token", "post", "/torrents/{torrent}/freeleech-token/", True, _each(302)),
    Route("page", "torrent-moderate", "post", "/torrents/{torrent}/moderate/", True, _only(302, STAFF), MODERATE),
    Route("page", "comment-add", "post", "/torrents/{torrent}/comments/", True, _each(302), {"text": "hello"}),
    Route("page", "comment-edit", "get", "/comments/{comment}/edit/", True, _only(200, AUTHOR)),
    Route("page", "comment-edit", "post", "/comments/{comment}/edit/", True, _only(302, AUTHOR), {"text": "edited"}),
]  # fmt: skip
FEED_ROUTES = [
    Route("feed", "feed-download", "get", "/feeds/torrents/{torrent}/download", True, _each(200)),
]
API_PREFIXES = ["/api/", "/api/v1/"]
ROUTE_CASES = [(prefix + r.path, r) for r in API_ROUTES for prefix in API_PREFIXES] + [(r.path, r) for r in PAGE_ROUTES + FEED_ROUTES]


def expected_status(route: Route, role: str, state: str) -> int:
    """The rule, for one route, role and torrent state."""
    if route.front in ("api", "feed") and role == "banned":
        return 401  # the token (the key's owner) was revoked by the ban: refused on every route, public or not
    viewer = "guest" if role == "banned" else role  # on the pages the ban ended the session
    if route.login and viewer == "guest":
        return 302 if route.front == "page" else 401
    if state not in SEES[viewer]:
        return 404
    return route.allowed[viewer]


def _fill(template: str, world: SimpleNamespace, state: str) -> str:
    return template.format(torrent=world.torrents[state].pk, comment=world.comments[state].pk, forum=world.forums[state].pk)


def _send(route: Route, path: str, world: SimpleNamespace, role: str, state: str) -> Any:
    body = {name: _fill(value, world, state) if isinstance(value, str) else value for name, value in route.body.items()}
    if route.front == "api":
        client = api_client(world, role)
        return getattr(client, route.method)(path, body or None, format="json")
    if route.front == "feed":
        return Client().get(path, {"key": world.keys[role]} if role != "guest" else {})
    client = page_client(world, role)
    return getattr(client, route.method)(path, body) if route.method == "post" else client.get(path)


def _check_answer(route: Route, response: Any, expected: int) -> str | None:
    """What is wrong with `response` beyond its status (the envelope's code, the login page), or None."""
    if route.front == "api" and expected in (401, 404):
        error = response.json()["error"]
        code = {401: ("UNAUTHORIZED", "TOKEN_INVALID"), 404: ("NOT_FOUND",)}[expected]
        if error["code"] not in code:
            return f"code {error['code']}"
    if route.front == "page" and expected == 404 and b"vistable-" in response.content:
        return "the 404 page names the torrent"
    return None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "route"), ROUTE_CASES, ids=[f"{path.split('{')[0]}{route}" for path, route in ROUTE_CASES])
def test_torrent_route(world: SimpleNamespace, path: str, route: Route, role: str) -> None:
    wrong = []
    for state in STATES:
        expected = expected_status(route, role, state)
        response = _send(route, _fill(path, world, state), world, role, state)
        if response.status_code != expected:
            wrong.append(f"{state}: {response.status_code}, expected {expected}")
            continue
        problem = _check_answer(route, response, expected)
        if problem:
            wrong.append(f"{state}: {problem}")
        if route.front == "page" and route.login and role in ("guest", "banned") and not response.url.startswith("/login/"):
            wrong.append(f"{state}: redirected to {response.url}, not the login page")
    assert not wrong, f"{route} as {role}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_head_and_options_tell_no_more_than_get(world: SimpleNamespace, role: str) -> None:
    """HEAD answers as GET does; OPTIONS answers the same for every torrent, hidden, visible or none at all."""
    wrong = []
    for route in API_ROUTES:
        if route.method != "get":
            continue
        absent = api_client(world, role).options("/api/" + route.path.format(torrent=2**62, comment=2**62)).status_code
        for state in STATES:
            path = "/api/" + _fill(route.path, world, state)
            head = api_client(world, role).head(path).status_code
            if head != expected_status(route, role, state):
                wrong.append(f"HEAD {route.route} {state}: {head}")
            options = api_client(world, role).options(path).status_code
            if options != absent:
                wrong.append(f"OPTIONS {route.route} {state}: {options}, {absent} for no torrent")
    page = PAGE_ROUTES[0]  # the torrent page: HEAD is refused (405) or answers as GET
    for state in STATES:
        head = page_client(world, role).head(_fill(page.path, world, state)).status_code
        if head not in (405, expected_status(page, role, state)):
            wrong.append(f"HEAD page {state}: {head}")
    assert not wrong, f"as {role}: " + "; ".join(wrong)


def test_a_banned_members_session_that_outlived_the_ban_sees_what_a_guest_sees(world: SimpleNamespace) -> None:
    """A ban ends the member's sessions (their token version moves); should one be made after it (here:
    a login forced past the login form's check), every visibility rule still treats them as a guest."""
    late = Client()
    late.force_login(world.users["banned"])
    for state in STATES:
        status = late.get(_fill("/torrents/{torrent}/", world, state)).status_code
        assert status == (200 if state == "approved" else 404), state
    assert b'class="peers"' not in late.get(_fill("/torrents/{torrent}/", world, "approved")).content  # no peer list
    shown = _names_on(late.get("/").content)
    assert shown == {"approved"}
    response = late.get("/profile/")
    assert response.status_code == 302 and response.url.startswith("/login/")


# ---------------------------------------------------------------------------------------------
# Lists and counts: what a role may not see is in none of them.


def _visible(role: str) -> set[str]:
    return SEES[role]


def _ids(world: SimpleNamespace, states: set[str]) -> set[int]:
    return {world.torrents[state].pk for state in states}


def _state_of(world: SimpleNamespace) -> dict[int, str]:
    return {torrent.pk: state for state, torrent in world.torrents.items()}


def _api_list(world: SimpleNamespace, role: str, path: str) -> Any:
    return api_client(world, role).get(path)


def _api_torrent_list(query: str) -> Any:
    def check(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
        response = _api_list(world, role, f"{prefix}torrents{_fill(query, world, 'approved')}")
        ids = {row["id"] for row in response.json()["data"]}
        expected = _ids(world, _visible(role))
        wrong = []
        if ids != expected:
            wrong.append(f"listed {sorted(_state_of(world)[i] for i in ids)}")
        if response.json()["meta"]["total"] != len(expected):
            wrong.append(f"meta.total {response.json()['meta']['total']} for {len(expected)} visible")
        return wrong

    return check


def _api_filtered_per_state(param: str) -> Any:
    """?forum= / ?info_hash= naming each state's forum or hash: only the visible one is found."""

    def check(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
        wrong = []
        for state in STATES:
            value = world.forums[state].pk if param == "forum" else world.torrents[state].info_hash
            response = _api_list(world, role, f"{prefix}torrents?{param}={value}")
            expected = state in _visible(role)
            if response.status_code == 422:
                found = False  # an unknown forum: the same answer as for one that does not exist
            else:
                body = response.json()
                found = bool(body["data"]) or body["meta"]["total"] > 0
            if found != expected:
                wrong.append(f"{param} of {state}: found {found}")
        return wrong

    return check


def _api_bookmarks(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    body = _api_list(world, role, f"{prefix}bookmarks").json()
    ids = {row["torrent"]["id"] for row in body["data"]}
    expected = _ids(world, _visible(role))
    return [] if ids == expected and body["meta"]["total"] == len(expected) else [f"bookmarks {sorted(ids)} total {body['meta']['total']}"]


def _history_ids(body: dict[str, Any]) -> set[int]:
    return {row["torrent"]["id"] if isinstance(row["torrent"], dict) else row["torrent"] for row in body["data"]}


def _api_my_history(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    body = _api_list(world, role, f"{prefix}me/history").json()
    expected = _ids(world, _visible(role))
    ids = _history_ids(body)
    return [] if ids == expected and body["meta"]["total"] == len(expected) else [f"history {sorted(ids)} total {body['meta']['total']}"]


def _api_member_history(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    """The member's history as others see it: the owner and moderators only, each seeing what they may see."""
    response = _api_list(world, role, f"{prefix}users/{world.users['member'].pk}/history")
    if role in ("other_member", "uploader"):
        return [] if response.status_code == 403 else [f"status {response.status_code}"]
    body = response.json()
    expected = _ids(world, _visible(role))
    ids = _history_ids(body)
    return [] if ids == expected and body["meta"]["total"] == len(expected) else [f"history {sorted(ids)} total {body['meta']['total']}"]


def _api_uploader_profile(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    """The uploader's profile counts the uploads the caller may see (as ?uploader= lists them)."""
    uploader = world.users["uploader"].pk
    count = _api_list(world, role, f"{prefix}users/{uploader}").json()["data"]["torrents_uploaded"]
    listed = _api_list(world, role, f"{prefix}torrents?uploader={uploader}").json()["meta"]["total"]
    expected = len(_visible(role))
    return [] if count == expected == listed else [f"torrents_uploaded {count}, listed {listed}, visible {expected}"]


def _public_figures(world: SimpleNamespace) -> dict[str, int]:
    """The site totals count what a guest may see, for everyone: the approved torrent of the open forum and its peers."""
    torrent = world.torrents["approved"]
    return {"torrents": 1, "total_size": torrent.size, "seeders": Peer.objects.filter(torrent=torrent).count(), "leechers": 0}


def _api_stats(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    data = _api_list(world, role, f"{prefix}stats").json()["data"]
    figures = _public_figures(world)
    got = {name: data[name] for name in figures}
    wrong = [] if got == figures else [f"stats {got}, expected {figures}"]
    if data["peers"] != figures["seeders"]:
        wrong.append(f"peers {data['peers']}")
    return wrong


def _api_torrent_figures(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    """A visible torrent's own counts (detail and list) and its peer list agree; no invisible torrent's peers are listed."""
    wrong = []
    for state in _visible(role):
        torrent = world.torrents[state]
        detail = _api_list(world, role, f"{prefix}torrents/{torrent.pk}").json()["data"]
        response = _api_list(world, role, f"{prefix}torrents/{torrent.pk}/peers")
        if role == "guest":  # the list is for members; the counts are public
            if response.status_code != 401 or detail["seeders"] != Peer.objects.filter(torrent=torrent).count():
                wrong.append(f"{state}: peers {response.status_code}, seeders {detail['seeders']}")
            continue
        peers = response.json()
        if detail["seeders"] != peers["meta"]["total"]:
            wrong.append(f"{state}: seeders {detail['seeders']} but {peers['meta']['total']} peers")
    return wrong


def _api_forums(world: SimpleNamespace, role: str, prefix: str) -> list[str]:
    forum_ids = {row["id"] for row in _api_list(world, role, f"{prefix}forums").json()["data"]}
    categories = _api_list(world, role, f"{prefix}categories").json()["data"]
    category = next(row for row in categories if row["id"] == world.forums["approved"].category_id)
    in_category = {row["id"] for row in category["forums"]}
    level = LEVELS["guest" if role == "banned" else role]
    expected = {world.forums[state].pk for state, (view_level, _) in STATE_SETUP.items() if view_level <= level}
    if forum_ids == expected == in_category:
        return []
    return [f"forums {sorted(forum_ids)} / {sorted(in_category)}, expected {sorted(expected)}"]


API_LISTS = {
    "torrents": _api_torrent_list(""),
    "torrents-search": _api_torrent_list("?search=vistable"),
    "torrents-uploader": _api_torrent_list("?uploader=" + "{uploader}"),
    "torrents-by-forum": _api_filtered_per_state("forum"),
    "torrents-by-info-hash": _api_filtered_per_state("info_hash"),
    "torrents-sorted-by-seeders": _api_torrent_list("?sort=seeders"),
    "bookmarks": _api_bookmarks,
    "me-history": _api_my_history,
    "user-history": _api_member_history,
    "user-profile-count": _api_uploader_profile,
    "stats": _api_stats,
    "torrent-figures": _api_torrent_figures,
    "forums-and-categories": _api_forums,
}
# The lists a guest may read; the others answer 401.
PUBLIC_API_LISTS = {"torrents", "torrents-search", "torrents-uploader", "torrents-by-forum", "torrents-by-info-hash"}
PUBLIC_API_LISTS |= {"torrents-sorted-by-seeders", "stats", "forums-and-categories", "torrent-figures"}
# The first request each list check makes, for the guest's and the banned member's 401.
API_LIST_PATHS = {
    "torrents": "torrents", "torrents-search": "torrents?search=vistable", "torrents-uploader": "torrents",
    "torrents-by-forum": "torrents", "torrents-by-info-hash": "torrents", "torrents-sorted-by-seeders": "torrents",
    "bookmarks": "bookmarks", "me-history": "me/history", "user-history": "users/{member}/history",
    "user-profile-count": "users/{uploader}", "stats": "stats", "torrent-figures": "torrents", "forums-and-categories": "forums",
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("prefix", API_PREFIXES)
@pytest.mark.parametrize("name", list(API_LISTS))
def test_api_list(world: SimpleNamespace, name: str, prefix: str, role: str) -> None:
    if role == "banned" or (role == "guest" and name not in PUBLIC_API_LISTS):
        path = prefix + API_LIST_PATHS[name].format(member=world.users["member"].pk, uploader=world.users["uploader"].pk)
        response = _api_list(world, role, path)
        assert response.status_code == 401, (name, role, response.status_code)
        assert response.json()["error"]["code"] == ("TOKEN_INVALID" if role == "banned" else "UNAUTHORIZED")
        return
    check = API_LISTS[name]
    if name == "torrents-uploader":
        check = _api_torrent_list(f"?uploader={world.users['uploader'].pk}")
    wrong = check(world, role, prefix)
    assert not wrong, f"{prefix}{name} as {role}: " + "; ".join(wrong)


def _names_on(html: bytes) -> set[str]:
    """The torrents a page names (release names wrap at <wbr>, which is taken out first)."""
    return {m.decode() for m in re.findall(rb"vistable-([a-z_]+)", html.replace(b"<wbr>", b""))}


def _page_browse(query: str) -> Any:
    def check(world: SimpleNamespace, role: str) -> list[str]:
        response = page_client(world, role).get("/" + query)
        shown = _names_on(response.content)
        expected = _visible("guest" if role == "banned" else role)
        return [] if response.status_code == 200 and shown == expected else [f"{response.status_code}, shows {sorted(shown)}"]

    return check


def _page_profile(tab: str) -> Any:
    """The profile's history tab and bookmarks: only what the member may see (their rows of the rest are hidden)."""

    def check(world: SimpleNamespace, role: str) -> list[str]:
        response = page_client(world, role).get(f"/profile/?history={tab}")
        if role in ("guest", "banned"):
            return [] if response.status_code == 302 and response.url.startswith("/login/") else [f"status {response.status_code}"]
        shown = _names_on(response.content)
        return [] if shown == _visible(role) else [f"shows {sorted(shown)}"]

    return check


def _page_peers(world: SimpleNamespace, role: str) -> list[str]:
    """The torrent page lists peers to those GET /api/torrents/<id>/peers answers: members, not guests."""
    viewer = "guest" if role == "banned" else role
    wrong = []
    for state in _visible(viewer):
        html = page_client(world, role).get(f"/torrents/{world.torrents[state].pk}/").content.decode()
        shows_peers = "vis-other_member" in html or 'class="peers"' in html
        if shows_peers != (viewer != "guest"):
            wrong.append(f"{state}: peers shown {shows_peers}")
    return wrong


def _page_stats(world: SimpleNamespace, role: str) -> list[str]:
    """Browse shows the site totals (the API's /api/stats): the public figures for everyone."""
    html = page_client(world, role).get("/").content.decode()
    match = re.search(r'site-stats">(\d+) torrents? .*?<span class="seeders">(\d+)</span>', html, re.S)
    expected = (1, _public_figures(world)["seeders"])
    got = (int(match.group(1)), int(match.group(2))) if match else None
    return [] if got == expected else [f"totals {got}, expected {expected}"]


PAGE_LISTS = {
    "browse": _page_browse(""),
    "browse-search": _page_browse("?search=vistable"),
    "browse-by-seeders": _page_browse("?sort=seeders"),
    "profile-history": _page_profile("all"),
    "profile-history-seeding": _page_profile("seeding"),
    "torrent-page-peers": _page_peers,
    "browse-stats": _page_stats,
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(PAGE_LISTS))
def test_page_list(world: SimpleNamespace, name: str, role: str) -> None:
    wrong = PAGE_LISTS[name](world, role)
    assert not wrong, f"page {name} as {role}: " + "; ".join(wrong)


# ---------------------------------------------------------------------------------------------
# The tracker: announce and scrape follow the same rule (a guest has no passkey: an unknown one).


def _passkey(world: SimpleNamespace, role: str) -> str:
    return "0" * 32 if role == "guest" else world.users[role].passkey


@pytest.mark.parametrize("role", ROLES)
def test_tracker_announce(world: SimpleNamespace, role: str) -> None:
    wrong = []
    for n, state in enumerate(STATES):
        torrent = world.torrents[state]
        qs = announce_qs(torrent.info_hash, peer_id(900 + n), left=0)
        reply = bdecode(Client().get(f"/announce/{_passkey(world, role)}?{qs}", REMOTE_ADDR="10.9.9.9").content)
        allowed = role not in ("guest", "banned") and state in _visible(role)
        if (b"failure reason" not in reply) != allowed:
            wrong.append(f"{state}: {reply.get(b'failure reason', b'answered')!r}")
    assert not wrong, f"announce as {role}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_tracker_scrape(world: SimpleNamespace, role: str) -> None:
    hashes = {state: bytes.fromhex(world.torrents[state].info_hash) for state in STATES}
    qs = "&".join(f"info_hash={quote_from_bytes(h)}" for h in hashes.values())
    reply = bdecode(Client().get(f"/scrape/{_passkey(world, role)}?{qs}").content)
    if role in ("guest", "banned"):
        assert b"failure reason" in reply
        return
    found = {state for state, h in hashes.items() if h in reply[b"files"]}
    assert found == _visible(role)
    for state in found:  # the figures of a torrent one may see are its own
        assert reply[b"files"][hashes[state]][b"complete"] == Peer.objects.filter(torrent=world.torrents[state]).count()


# ---------------------------------------------------------------------------------------------
# The table covers every torrent-scoped route the URL resolver knows.


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> list[tuple[str, str, Any]]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            routes += _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            routes.append((f"{namespace}:{pattern.name}", prefix + str(pattern.pattern), pattern.callback))
    return routes


def _methods(callback: Any) -> set[str]:
    """The HTTP methods a DRF view answers (without HEAD and OPTIONS); for a page, those its table rows name."""
    actions = getattr(callback, "actions", None)
    view_class = getattr(callback, "cls", None)
    if actions:
        return {method for method in actions if method not in ("head", "options") and method in view_class.http_method_names}
    if view_class is not None:
        return {m for m in view_class.http_method_names if m not in ("head", "options") and hasattr(view_class, m)}
    return set()


def _torrent_scoped(pattern: str) -> bool:
    return bool(re.search(r"(^|/|\^)(torrents|comments)/", pattern))


def test_every_torrent_route_has_a_row() -> None:
    rows = {
        (f"{ns if r.front == 'api' else 'web'}:{r.route}", r.method) for r in API_ROUTES + PAGE_ROUTES + FEED_ROUTES for ns in ("api", "v1")
    }
    listed = {"torrent-list"}  # GET /api/torrents: test_api_list; POST (upload) has no torrent yet
    missing = []
    for name, pattern, callback in _walk(get_resolver().url_patterns):
        namespace, _, route = name.partition(":")
        if namespace not in ("api", "v1", "web") or not _torrent_scoped(pattern) or route in listed:
            continue
        methods = _methods(callback) or {method for (n, method) in rows if n == name}
        if not methods:
            missing.append(f"{name} ({pattern})")
        missing += [f"{name} {method.upper()} ({pattern})" for method in methods if (name, method) not in rows]
    assert not missing, "torrent-scoped routes without a row in the visibility table: " + ", ".join(missing)
    assert {r.route for r in PAGE_ROUTES} >= {"torrent", "torrent-edit", "torrent-download", "torrent-bookmark", "comment-add"}
