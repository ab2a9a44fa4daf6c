"""The browse table's rows written in Python (web.templatetags.web.browse_rows) are the template loop they replaced.

The loop is kept here as it was: both are rendered on the same rows (a guest,
a member with and without bookmarks and download rights, every freeleech and
status, names that need escaping) and compared with their whitespace runs
folded to one space, the only difference allowed.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Template

from core.listing import list_query_parse
from tests.factories import ForumFactory, TorrentFactory, UserFactory, make_hybrid_hashes
from tests.tracker.catalogue.helpers import forum_with_levels
from tracker.catalogue import selectors
from tracker.models import AccessLevel, Bookmark, Freeleech, TorrentStatus
from web.views.torrents import _browse_rows

pytestmark = pytest.mark.django_db

# The loop as templates/web/browse.html had it before browse_rows replaced it.
TEMPLATE_LOOP = (Path(__file__).parent / "browse_rows_loop.html").read_text()


def _folded(html: str) -> str:
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"> <", "><", html).replace("> ", ">").replace(" <", "<").strip()


@pytest.fixture
def rows_of_every_kind(moderator: Any) -> list[Any]:
    forums = [ForumFactory(name='Films & "docs"'), forum_with_levels(download=AccessLevel.MODERATOR)]
    uploaders = [UserFactory(username="a.b+c-d@e"), UserFactory(username="zoë")]
    made = []
    statuses = [*TorrentStatus.values, TorrentStatus.APPROVED, TorrentStatus.APPROVED]  # approved ones in both forums
    for n, status in enumerate(statuses):
        for freeleech in Freeleech.values:
            made.append(
                TorrentFactory(
                    forum=forums[n % 2],
                    uploader=uploaders[len(made) % 2],
                    name=f"<b>Some.Name</b>-{n}_{freeleech} & 'quotes' \"too\"",
                    status=status,
                    freeleech=freeleech,
                    size=7 ** (len(made) % 20),
                    info_hash=make_hybrid_hashes(f"browse-{len(made)}")[0],
                    metainfo=b"d4:infod4:name1:xee",  # not read here; a real one for 10**17 bytes is huge
                    seeders=len(made) % 3,
                    leechers=len(made) % 2,
                    completed=len(made),
                )
            )
    return made


@pytest.mark.parametrize("viewer", ["guest", "member", "moderator"])
def test_the_python_rows_are_the_template_loops_rows(rows_of_every_kind: list[Any], viewer: str, moderator: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    user = {"guest": AnonymousUser(), "member": UserFactory(), "moderator": moderator}[viewer]
    if viewer == "member":
        for torrent in rows_of_every_kind[::3]:
            Bookmark.objects.create(user=user, torrent=torrent)
    query = list_query_parse({"per_page": "100"}, selectors.TORRENT_LIST)
    torrents = selectors.torrent_page(user=user, query=query).items
    assert len(torrents) >= 9
    rows = _browse_rows(user, torrents)
    assert any(row.bookmarked for row in rows) is (viewer == "member")
    if viewer == "member":
        assert {row.may_download for row in rows} == {True, False}
    context = {"rows": rows, "user": user, "csrf_token": "TOKEN123"}
    python = Template("{% load web %}{% browse_rows rows %}").render(Context(context))
    loop = Template(TEMPLATE_LOOP).render(Context(context))
    assert python.count("<tr>") == len(rows)
    assert _folded(python) == _folded(loop)
