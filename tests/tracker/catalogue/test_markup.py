"""BBCode to safe HTML (tracker.catalogue.markup), the API's description_html / text_html and POST /api/markup/preview."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from tests.api.ratelimit_helpers import in_one_window
from tests.factories import TorrentFactory
from tracker.catalogue.markup import ALLOWED_TAGS, MAX_TEXT, markup_render
from tracker.models import Comment

IMAGE_HOST = "img.example.org"


class _Elements(HTMLParser):
    """Every start tag of a fragment with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def assert_harmless(html: str, image_hosts: tuple[str, ...] = ()) -> None:
    """Nothing that runs, styles or loads from elsewhere: allowed tags, safe links, images only from the allowed hosts."""
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS | {"img"}, (tag, html)
        for name in attrs:
            assert not name.startswith("on") and name not in ("style", "srcset", "formaction", "background"), (name, html)
        if tag == "a":
            assert attrs.get("rel") == "nofollow noopener", html
            assert urlsplit(attrs["href"] or "").scheme in ("http", "https", "mailto"), html
        if tag == "img":
            src = urlsplit(attrs.get("src") or "")
            assert (src.scheme, src.hostname) in {("https", host) for host in image_hosts}, html
    lowered = html.lower()
    for needle in ("<script", "<style", "<iframe", "<object", "<svg", "javascript:", "data:", "vbscript:"):
        # Such words may appear as escaped text, never as a tag or inside an attribute.
        assert needle not in _in_attributes_and_tags(lowered), (needle, html)


def _in_attributes_and_tags(html: str) -> str:
    """The markup parts of `html` (tags and their attributes), text left out."""
    parts, depth = [], 0
    for char in html:
        if char == "<":
            depth = 1
        if depth:
            parts.append(char)
        if char == ">":
            depth = 0
    return "".join(parts)


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[url=javascript:alert(1)]click[/url]",
    "[url=JaVaScRiPt:alert(1)]click[/url]",
    "[url= javascript:alert(1)]click[/url]",
    "[url=java\tscript:alert(1)]click[/url]",
    "[url]javascript:alert(1)[/url]",
    "[url=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==]x[/url]",
    "[url=vbscript:msgbox(1)]x[/url]",
    "[url=//evil.example/]protocol-relative[/url]",
    '[url=http://a.example/" onmouseover="alert(1)]x[/url]',
    "[url=http://a.example/'onmouseover='alert(1)]x[/url]",
    "[url=http://a.example/><script>alert(1)</script>]x[/url]",
    "[img]javascript:alert(1)[/img]",
    "[img]data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=[/img]",
    "[img]https://evil.example/track.png[/img]",
    "[img]http://img.example.org/plain-http.png[/img]",
    '[img]https://img.example.org/a.png" onerror="alert(1)[/img]',
    "[img]https://img.example.org.evil.example/a.png[/img]",
    "[img]https://img.example.org@evil.example/a.png[/img]",
    "[img][url]https://evil.example/x.png[/url][/img]",
    "[link](javascript:alert(1)) ![x](https://evil.example/x.png)",  # Markdown is not rendered: stays text
    '[color=red" style="background:url(https://evil.example/)]x[/color]',
    "[color=expression(alert(1))]x[/color]",
    "[size=99999999]x[/size][size=-1]y[/size][size=1;font-size:900px]z[/size]",
    '[quote="<script>alert(1)</script>"]q[/quote]',
    '[spoiler="<img src=x onerror=alert(1)>"]s[/spoiler]',
    "[code]</code></pre><script>alert(1)</script>[/code]",
    '<div style="position:fixed">x</div><style>body{}</style>',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example/></iframe>",
    "<!-- [b] --><![CDATA[x]]>",
    "[b][i][u]unclosed",
    "[/quote][/list][/b][*]",
    "[list][*][list][*][list][*]deep[/list][/list]",
    "[b]" * 500 + "deep" + "[/b]" * 500,
    "[quote]" * 200,
    "a\x00b[b\x00]c[/b]\x00<scr\x00ipt>",
    "ünïcödé 日本語 😀 \u202eevil\u202c [b]ж[/b] \ufeff",
    "http://a.example/?q=<script>alert(1)</script>",
    "www.example.org and javascript:alert(1) as text",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_renders_nothing_that_runs_or_loads(text):
    assert_harmless(markup_render(text))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_loads_images_only_from_the_allowed_host(settings, text):
    settings.MARKUP_IMAGE_HOSTS = [IMAGE_HOST]
    assert_harmless(markup_render(text), image_hosts=(IMAGE_HOST,))


def test_huge_input_is_cut_at_the_limit_and_stays_harmless():
    html = markup_render("[b]<script>[url=javascript:x]" * 20_000)
    assert_harmless(html)
    assert len(markup_render("x" * (MAX_TEXT + 5000))) == MAX_TEXT


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("[b]bold[/b]", "<strong>bold</strong>"),
        ("[i]italic[/i]", "<em>italic</em>"),
        ("[u]under[/u]", "<u>under</u>"),
        ("[s]gone[/s]", "<del>gone</del>"),
        ("[B]upper[/B]", "<strong>upper</strong>"),
        ("[url]https://example.org/a[/url]", '<a href="https://example.org/a" rel="nofollow noopener">https://example.org/a</a>'),
        ("[url=https://example.org/]a [b]x[/b][/url]", '<a href="https://example.org/" rel="nofollow noopener">a <strong>x</strong></a>'),
        ('[url="https://example.org/"]quoted[/url]', '<a href="https://example.org/" rel="nofollow noopener">quoted</a>'),
        ("[url=mailto:a@example.org]mail[/url]", '<a href="mailto:a@example.org" rel="nofollow noopener">mail</a>'),
        ("[quote]said[/quote]", "<blockquote>said</blockquote>"),
        ('[quote="bob"]said[/quote]', "<blockquote><cite>bob wrote:</cite>said</blockquote>"),
        ("[quote=bob]said[/quote]", "<blockquote><cite>bob wrote:</cite>said</blockquote>"),
        ("[code][b]x[/b] <y> http://a.example[/code]", "<pre><code>[b]x[/b] &lt;y&gt; http://a.example</code></pre>"),
        ("[list]\n[*]one\n[*]two\n[/list]", "<ul><li>one</li><li>two</li></ul>"),
        ("[list=1][*]one[*]two[/list]", '<ol type="1"><li>one</li><li>two</li></ol>'),
        ("[list=a][*]one[/list]", '<ol type="a"><li>one</li></ol>'),
        ("[size=5]big[/size]", '<span class="bb-size-xl">big</span>'),
        ("[size=10]small[/size]", '<span class="bb-size-xs">small</span>'),
        ("[size=huge]as is[/size]", "as is"),
        ("[color=red]red[/color]", '<span class="bb-colour-red">red</span>'),
        ("[color=Navy]navy[/color]", '<span class="bb-colour-blue">navy</span>'),
        ("[color=#ff0000]hex[/color]", "hex"),
        ("[spoiler]hidden[/spoiler]", "<details><summary>Spoiler</summary>hidden</details>"),
        ('[spoiler="Ending"]hidden[/spoiler]', "<details><summary>Ending</summary>hidden</details>"),
        (
            "[img]https://img.example.org/a.png[/img]",
            '<a href="https://img.example.org/a.png" rel="nofollow noopener">https://img.example.org/a.png</a>',
        ),
        ("a[hr]b", "a<hr>b"),
        ("one\ntwo", "one<br>\ntwo"),
        ("[b][i]both[/i][/b]", "<strong><em>both</em></strong>"),
        (
            '[quote="a"][quote="b"]in[/quote]out[/quote]',
            "<blockquote><cite>a wrote:</cite><blockquote><cite>b wrote:</cite>in</blockquote>out</blockquote>",
        ),
    ],
)
def test_each_tag(text, html):
    assert markup_render(text) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("[b]never closed", "[b]never closed"),
        ("[b]x [i]y[/b]", "<strong>x [i]y</strong>"),
        ("[/b]stray close", "[/b]stray close"),
        ("[*]not in a list", "[*]not in a list"),
        ("[foo]unknown[/foo]", "[foo]unknown[/foo]"),
        ("[url]not a url[/url]", "not a url"),
        ("[code]never closed", "[code]never closed"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
    ],
)
def test_unclosed_and_unknown_tags_stay_text(text, html):
    assert markup_render(text) == html


def test_images_from_an_allowed_host_are_shown(settings):
    settings.MARKUP_IMAGE_HOSTS = [IMAGE_HOST]
    assert markup_render("[img]https://img.example.org/a.png[/img]") == '<img src="https://img.example.org/a.png" alt="">'
    assert markup_render("[img]https://other.example/a.png[/img]").startswith('<a href="https://other.example/a.png"')


def test_bare_urls_become_links_with_rel():
    html = markup_render("see http://example.org/page?a=1&b=2, and https://example.org/x.")
    assert html == (
        'see <a href="http://example.org/page?a=1&amp;b=2" rel="nofollow noopener">http://example.org/page?a=1&amp;b=2</a>, '
        'and <a href="https://example.org/x" rel="nofollow noopener">https://example.org/x</a>.'
    )


def test_a_url_inside_a_link_label_is_not_linked_twice():
    html = markup_render("[url=https://a.example/]https://b.example/[/url]")
    assert html == '<a href="https://a.example/" rel="nofollow noopener">https://b.example/</a>'


@pytest.mark.django_db
def test_the_api_description_html_is_the_rendered_bbcode(api_client, forum):
    torrent = TorrentFactory(forum=forum, description="[b]Fine[/b] <script>alert(1)</script>\nsee https://example.org")
    html = api_client.get(f"/api/torrents/{torrent.pk}").json()["data"]["description_html"]
    assert html == markup_render(torrent.description)
    assert html.startswith("<strong>Fine</strong> &lt;script&gt;")
    assert '<a href="https://example.org" rel="nofollow noopener">' in html


@pytest.mark.django_db
def test_comments_carry_their_text_html(api_client, torrent, uploader):
    Comment.objects.create(torrent=torrent, author=uploader, text="[quote]hi[/quote]<b>x</b>")
    data = api_client.get(f"/api/torrents/{torrent.pk}/comments").json()["data"]
    assert (data[0]["text"], data[0]["text_html"]) == ("[quote]hi[/quote]<b>x</b>", "<blockquote>hi</blockquote>&lt;b&gt;x&lt;/b&gt;")


@pytest.mark.django_db
def test_the_preview_endpoint_renders_without_saving(user_client, torrent):
    before = Comment.objects.count(), torrent.description
    response = user_client.post("/api/markup/preview", {"text": "[b]x[/b] [url=javascript:y]z[/url]"}, format="json")
    assert response.status_code == 200
    assert response.json()["data"] == {"html": "<strong>x</strong> z"}
    torrent.refresh_from_db()
    assert (Comment.objects.count(), torrent.description) == before


@pytest.mark.django_db
def test_the_preview_endpoint_is_for_members(api_client):
    response = api_client.post("/api/markup/preview", {"text": "x"}, format="json")
    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [{}, {"text": "x" * (MAX_TEXT + 1)}, {"text": None}, {"text": 0}, {"text": ["a"]}])
def test_the_preview_endpoint_refuses_missing_or_oversized_text(user_client, payload):
    response = user_client.post("/api/markup/preview", payload, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "text" in response.json()["error"]["details"]


@pytest.mark.django_db
@override_settings(API_RATE_LIMIT_AUTHENTICATED=3)
def test_the_preview_endpoint_counts_against_the_rate_limit(user, user_client):
    def three_then_429() -> None:
        codes = [user_client.post("/api/markup/preview", {"text": "x"}, format="json").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]

    in_one_window(f"user:{user.pk}", three_then_429)
