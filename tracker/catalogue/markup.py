"""Descriptions and comments: BBCode as TorrentPier members write it, rendered to safe HTML.

One function, `markup_render`, for the API's `description_html` / `text_html`, the
torrent page and every preview. The BBCode pass builds HTML from a small tree
(unknown, unclosed or misnested tags stay as their text); then nh3 (ammonia)
cleans the result against an allow-list, whatever the BBCode pass produced. So a
bug in the first pass can at worst show odd markup, never run a script, load a
resource from elsewhere or set a style: links only to http, https and mailto, each
with rel="nofollow noopener"; images only from settings.MARKUP_IMAGE_HOSTS (none by
default: an [img] is then a plain link). Stored text is raw; HTML is never stored.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from urllib.parse import urlsplit

import nh3
from django.conf import settings

MAX_TEXT = 100_000  # the description's limit (a comment's is 10,000)
MAX_DEPTH = 20  # deeper tags stay text: bounds the work and the page's nesting
CACHE_TEXT = 10_000  # texts up to this are cached (a comment, most descriptions)

SIZES = {"1": "xs", "2": "s", "3": "m", "4": "l", "5": "xl"}
# [size=N] also comes as points (TorrentPier's editor writes 9..24).
POINT_SIZES = ((10, "xs"), (12, "s"), (14, "m"), (18, "l"))
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "gray")
COLOUR_ALIASES = {
    "grey": "gray",
    "darkred": "red",
    "crimson": "red",
    "darkorange": "orange",
    "gold": "yellow",
    "darkgreen": "green",
    "lime": "green",
    "navy": "blue",
    "darkblue": "blue",
    "royalblue": "blue",
    "teal": "blue",
    "violet": "purple",
    "indigo": "purple",
    "silver": "gray",
}
CLASSES = {
    *(f"bb-size-{name}" for name in SIZES.values()),
    *(f"bb-colour-{name}" for name in COLOURS),
}

PAIRED = {"b", "i", "u", "s", "url", "quote", "code", "list", "size", "color", "spoiler", "img"}
TAG_RE = re.compile(r"\[(/?)(\*|[a-zA-Z]+)(?:=(\"[^\"\]]*\"|[^\]]*))?\]")
CODE_END_RE = re.compile(r"\[/code\]", re.IGNORECASE)
URL_RE = re.compile(r"\b(?:https?://|mailto:)[^\s<>\[\]\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)'\""
SCHEMES = {"http", "https", "mailto"}

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "cite",
    "code",
    "del",
    "details",
    "em",
    "hr",
    "li",
    "ol",
    "pre",
    "span",
    "strong",
    "summary",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "ol": {"type"}}  # span: its classes, below


@dataclass
class _Node:
    """A tag being built: its name, argument, raw opening text and children (strings of HTML or nodes)."""

    name: str
    arg: str
    raw: str
    children: list["_Node | str"] = field(default_factory=list)


def _text(raw: str, *, linkify: bool = True) -> str:
    """Plain text as HTML: escaped, bare URLs made links (unless inside a link already), line breaks kept."""
    out: list[str] = []
    at = 0
    for match in URL_RE.finditer(raw) if linkify else ():
        url = match.group(0).rstrip(TRAILING)
        out.append(escape(raw[at : match.start()]))
        out.append(_link(url, escape(url)))
        at = match.start() + len(url)
    out.append(escape(raw[at:]))
    return "".join(out).replace("\r\n", "\n").replace("\n", "<br>\n")


def _safe_url(url: str) -> str | None:
    """The URL if it is http(s) with a host or mailto; None otherwise (javascript:, data:, relative, garbage)."""
    url = url.strip()
    if any(ord(c) < 33 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return url if parts.path else None
    if scheme in ("http", "https") and parts.hostname:
        return url
    return None


def _link(url: str, label: str) -> str:
    safe = _safe_url(url)
    if safe is None:
        return label
    return f'<a href="{escape(safe)}">{label}</a>'


def _image_host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() == "https" and (parts.hostname or "").lower() in hosts


def _plain(children: list["_Node | str"]) -> str:
    """The children's text as written (for [url]..[/url] and [img]..[/img], whose content is a URL)."""
    return "".join(child if isinstance(child, str) else child.raw + _plain(child.children) for child in children)


def _unquote(arg: str) -> str:
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] == '"':
        return arg[1:-1]
    return arg


def _size_class(arg: str) -> str | None:
    arg = _unquote(arg).strip()
    if arg in SIZES:
        return SIZES[arg]
    if arg.isdigit():
        points = int(arg[:6])
        return next((name for limit, name in POINT_SIZES if points <= limit), "xl")
    return None


def _colour_class(arg: str) -> str | None:
    name = _unquote(arg).strip().lower()
    name = COLOUR_ALIASES.get(name, name)
    return name if name in COLOURS else None


class _Renderer:
    """Turns a parsed tree into HTML; every string it returns is escaped or built from allowed tags."""

    def __init__(self, image_hosts: tuple[str, ...]) -> None:
        self.image_hosts = image_hosts
        self.in_link = False

    def children(self, node: _Node) -> str:
        return "".join(_text(child, linkify=not self.in_link) if isinstance(child, str) else self.node(child) for child in node.children)

    def node(self, node: _Node) -> str:
        name = node.name
        if name == "url" and node.arg:
            self.in_link, outer = True, self.in_link
            label = self.children(node)
            self.in_link = outer
            return _link(_unquote(node.arg), label)
        inner = self.children(node)
        if name in ("b", "i", "u", "s"):
            tag = {"b": "strong", "i": "em", "u": "u", "s": "del"}[name]
            return f"<{tag}>{inner}</{tag}>"
        if name == "url":
            url = _plain(node.children)
            return _link(url, escape(url))
        if name == "img":
            url = _plain(node.children).strip()
            safe = _safe_url(url)
            if safe and _image_host_allowed(safe, self.image_hosts):
                return f'<img src="{escape(safe)}" alt="">'
            return _link(url, escape(url))
        if name == "quote":
            who = _unquote(node.arg)
            cite = f"<cite>{escape(who)} wrote:</cite>" if who else ""
            return f"<blockquote>{cite}{inner}</blockquote>"
        if name == "code":
            return f"<pre><code>{escape(_plain(node.children))}</code></pre>"
        if name == "hr":
            return "<hr>"
        if name == "list":
            items = "".join(self._item(child) for child in node.children)
            return f'<ol type="{"a" if node.arg == "a" else "1"}">{items}</ol>' if node.arg in ("1", "a") else f"<ul>{items}</ul>"
        if name == "*":
            if node.children and isinstance(node.children[-1], str):
                node.children[-1] = node.children[-1].rstrip()  # the line break before the next [*]
            return f"<li>{self.children(node)}</li>"
        if name == "size":
            size = _size_class(node.arg)
            return f'<span class="bb-size-{size}">{inner}</span>' if size else inner
        if name == "color":
            colour = _colour_class(node.arg)
            return f'<span class="bb-colour-{colour}">{inner}</span>' if colour else inner
        if name == "spoiler":
            title = escape(_unquote(node.arg)) or "Spoiler"
            return f"<details><summary>{title}</summary>{inner}</details>"
        return escape(node.raw) + inner  # not reached: the parser only builds known tags

    def _item(self, child: "_Node | str") -> str:
        # Between items only line breaks are expected; other text or tags there become an item of their own.
        if isinstance(child, str):
            return f"<li>{_text(child.strip())}</li>" if child.strip() else ""
        return self.node(child) if child.name == "*" else f"<li>{self.node(child)}</li>"


def _unwrap(node: _Node) -> list["_Node | str"]:
    """An unclosed tag: its opening text shown as text, its children kept."""
    return [node.raw, *node.children]


def _takes_url(node: _Node) -> bool:
    """[img]..[/img] and [url]..[/url] hold a URL, not markup: no tags open inside them."""
    return node.name == "img" or (node.name == "url" and not node.arg)


def _parse(text: str) -> _Node:
    """The BBCode tree of `text`; unknown, unclosed and misnested tags become text."""
    root = _Node("", "", "")
    stack = [root]
    at = 0
    code_closes = True  # once no [/code] follows, none follows a later [code] either: no search again
    while at < len(text):
        match = TAG_RE.search(text, at)
        if match is None:
            stack[-1].children.append(text[at:])
            break
        if match.start() > at:
            stack[-1].children.append(text[at : match.start()])
        at = match.end()
        closing, name, arg, raw = match.group(1), match.group(2).lower(), match.group(3) or "", match.group(0)
        top = stack[-1]
        if not closing and name == "code" and len(stack) <= MAX_DEPTH and code_closes:
            end = CODE_END_RE.search(text, at)
            if end is not None:
                top.children.append(_Node("code", "", raw, [text[at : end.start()].replace("\r\n", "\n")]))
                at = end.end()
                continue
            code_closes = False
        elif not closing and name == "hr" and not arg:
            top.children.append(_Node("hr", "", raw))
            continue
        elif not closing and name == "*":
            if top.name == "*":
                stack.pop()
                top = stack[-1]
            if top.name == "list":
                item = _Node("*", "", raw)
                top.children.append(item)
                stack.append(item)
                continue
        elif not closing and name in PAIRED and len(stack) <= MAX_DEPTH and not _takes_url(top):
            node = _Node(name, arg, raw)
            top.children.append(node)
            stack.append(node)
            continue
        elif closing and not arg and name in PAIRED and any(open_.name == name for open_ in stack[1:]):
            while stack[-1].name != name:
                inner = stack.pop()
                if inner.name == "*":
                    continue  # an item closes with its list
                parent = stack[-1]
                parent.children[-1:] = _unwrap(inner)
            stack.pop()
            continue
        top.children.append(raw)
    while len(stack) > 1:
        inner = stack.pop()
        parent = stack[-1]
        if inner.name == "*":
            continue
        parent.children[-1:] = _unwrap(inner)
    return root


def _attribute_filter(image_hosts: tuple[str, ...]) -> Callable[[str, str, str], str | None]:
    def keep(tag: str, attribute: str, value: str) -> str | None:
        # A second check after the BBCode pass: nothing but an allowed host's image loads.
        if tag == "img" and attribute == "src" and not _image_host_allowed(value, image_hosts):
            return None
        return value

    return keep


def _clean(html: str, image_hosts: tuple[str, ...]) -> str:
    tags = ALLOWED_TAGS | ({"img"} if image_hosts else set())
    return nh3.clean(
        html,
        tags=tags,
        attributes={tag: attrs for tag, attrs in ALLOWED_ATTRIBUTES.items() if tag in tags},
        attribute_filter=_attribute_filter(image_hosts),
        url_schemes=SCHEMES,
        link_rel="nofollow noopener",
        allowed_classes={"span": CLASSES},
        strip_comments=True,
    )


def _render(text: str, image_hosts: tuple[str, ...]) -> str:
    text = text.replace("\x00", "")[:MAX_TEXT]
    tree = _parse(text)
    return _clean(_Renderer(image_hosts).children(tree), image_hosts)


@lru_cache(maxsize=1024)
def _render_cached(text: str, image_hosts: tuple[str, ...]) -> str:
    return _render(text, image_hosts)


def markup_image_hosts() -> tuple[str, ...]:
    """The hosts [img] may load from (settings.MARKUP_IMAGE_HOSTS), lower-cased; empty: no images."""
    return tuple(sorted(host.lower() for host in getattr(settings, "MARKUP_IMAGE_HOSTS", ())))


def markup_render(text: str) -> str:
    """The safe HTML of a description or comment written in BBCode (sanitized by nh3; safe to mark_safe)."""
    hosts = markup_image_hosts()
    if len(text) <= CACHE_TEXT:
        return _render_cached(text, hosts)
    return _render(text, hosts)
