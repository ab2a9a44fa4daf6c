"""Which BitTorrent client announces (from its peer_id and User-Agent), and whether the tracker's client rules let it.

Pure and fast: no Django, no I/O; it runs on every announce. `identify`
reads the client and version a peer_id carries, `client_label` names it for
the peer list, and `client_verdict` applies the site's rules (allow and deny
rules by peer_id prefix and version range, with a User-Agent pattern that
must agree with the peer_id) and gives the failure reason the member's
client shows, or None.

The peer_id shapes and User-Agents below are what the real clients send:
observed by announcing with them to a local logger (libtorrent 2.1.1,
aria2 1.36.0, Transmission 3.00, qBittorrent 4.5.2, rTorrent 0.9.8 and
Deluge 2.0.3), else read from the clients' sources (tests/tracker/policy/test_clients.py lists which).
"""

import functools
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple


class ClientId(NamedTuple):
    """A client as its peer_id names it: the peer_id's code ("qB", "A2"), a readable name, and the version (() unreadable)."""

    code: str
    name: str
    version: tuple[int, ...]


class ClientRuleSpec(NamedTuple):
    """One client rule as the announce applies it (tracker.policy.models.ClientRule, versions parsed).

    `max_version` is inclusive, compared padded with zeros: "4.6" covers
    4.6.0 but not 4.6.5 (write "4.6.99" for the series). `user_agent` is a
    regular expression (re.search); "" checks nothing.
    """

    name: str
    prefix: str
    min_version: tuple[int, ...] | None
    max_version: tuple[int, ...] | None
    user_agent: str
    allow: bool


# Azureus-style peer id codes (-XXVVVV-) -> names. "-LT" is libtorrent (Rasterbar), "-lt" rTorrent's libTorrent (rakshasa).
CLIENTS = {
    "qB": "qBittorrent", "TR": "Transmission", "LT": "libtorrent", "lt": "rTorrent", "DE": "Deluge", "UT": "µTorrent",
    "UM": "µTorrent Mac", "UW": "µTorrent Web", "BT": "BitTorrent", "BW": "BitTorrent Web", "AZ": "Vuze", "BI": "BiglyBT",
    "BC": "BitComet", "BL": "BitLord", "KT": "KTorrent", "FD": "Free Download Manager", "WW": "WebTorrent", "PI": "PicoTorrent",
    "FL": "Flud", "LW": "LimeWire", "Lr": "LibreTorrent", "FW": "FrostWire", "HL": "Halite", "MO": "MonoTorrent",
    "XL": "Xunlei", "SD": "Thunder", "QD": "QQDownload", "BN": "Baidu Netdisk", "XF": "Xfplay", "FG": "FlashGet",
    "SP": "BitSpirit", "TT": "TuoTu", "VG": "Vagaa", "MG": "MediaGet", "TS": "TorrentStorm",
}  # fmt: skip

# How the four version characters read, per code (others: four digits, trailing zeros dropped down to two numbers).
# "three": major, minor, patch, then a build / tag / release mark that is not part of the version: libtorrent's
# fingerprint (qBittorrent, its Enhanced Edition's build "-qB465A-", libtorrent itself), rakshasa's "-lt0D80-",
# Deluge's release letter ("-DE203s-": s stable, D dev, a/b/r pre-release) and µTorrent's ("-UT355S-").
# "two_two": two decimal digits each for major and minor ("-BC0170-" is BitComet 1.70).
_STYLES = {
    "qB": "three", "LT": "three", "lt": "three", "DE": "three", "UT": "three", "UM": "three", "UW": "three",
    "UE": "three", "BT": "three", "BW": "three", "TR": "transmission",
    "BC": "two_two", "FG": "two_two", "LP": "two_two", "AX": "two_two", "CD": "two_two",
}  # fmt: skip

# One version character's value: 0-9, then A-Z for 10-35 (libtorrent's fingerprint, rakshasa's hex), then a-z for 36-61.
_CHAR_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")}
_ARIA2 = re.compile(rb"A2-(\d{1,3})-(\d{1,3})-(\d{1,3})-")
# Mainline (Mx-y-z-- or Mx-yy-z-): BitTorrent 3.4 to 5.x. From 6.0 BitTorrent sends -BT; an M6 or later is not real.
_MAINLINE = re.compile(r"M([345])-(\d{1,2})-(\d{1,2})--?", re.ASCII)
_BROWSERS = ("Mozilla/", "Opera/", "Lynx/", "Links (")
MODES = ("off", "deny", "allow")
_UA_SHOWN = 60
_NAME_SHOWN = 40


def identify(peer_id: bytes) -> ClientId | None:
    """The client and version `peer_id` names, or None for a shape no client uses (it never raises).

    Azureus style "-XXVVVV-" reads per _STYLES; Transmission's own: "-TR2940-"
    (up to 3.00: major, then a two-digit minor) is 2.94, "-TR4060-" is 4.0.6,
    and a trailing Z / X (dev) or B (beta) is a mark, not a number, so
    "-TR300Z-" (a 3.00 dev build) reads as 3.00 and "-TR410Z-" (4.1.0-dev)
    as 4.1.0. aria2 "A2-1-37-0-" is 1.37.0; Mainline "M4-3-6--" is 4.3.6.
    """
    if peer_id[:3] == b"A2-":
        m = _ARIA2.match(peer_id)
        return _aria2(m.group(0)) if m else ClientId("A2", "aria2", ())
    return _identify(peer_id[:8].decode("latin-1"))


@functools.lru_cache(maxsize=256)
def _aria2(prefix: bytes) -> ClientId:
    """aria2 from its peer_id's prefix, "A2-1-37-0-" (cached: the prefix has no random part)."""
    return ClientId("A2", "aria2", tuple(int(part) for part in prefix.split(b"-")[1:4]))


@functools.lru_cache(maxsize=4096)
def _identify(head: str) -> ClientId | None:
    """`identify` on the peer_id's first 8 bytes (all but aria2's shape fit), decoded as Latin-1: cached, it has no random part."""
    if len(head) == 8 and head[0] == "-" and head[7] == "-":
        code = head[1:3]
        if not ("!" <= code[0] <= "~" and "!" <= code[1] <= "~") or "-" in code:
            return None
        return ClientId(code, CLIENTS.get(code, code), _azureus_version(_STYLES.get(code, ""), head[3:7]))
    if head.startswith("M"):
        m = _MAINLINE.match(head)
        if m and m.end() == 8:
            return ClientId("M", "BitTorrent (Mainline)", tuple(int(g) for g in m.groups()))
    return None


def _azureus_version(style: str, chars: str) -> tuple[int, ...]:
    """The version of an Azureus-style peer_id's four version characters, read in `style` (() when they do not read)."""
    if style == "transmission":
        if chars[0] in "0123":  # up to 3.00: -TR2940- is 2.94, -TR0072- is 0.72, -TR0006- is 0.6
            if not (chars[:3].isascii() and chars[:3].isdecimal()):
                return ()
            if chars[:3] == "000":
                return (0, int(chars[3])) if chars[3] in "0123456789" else ()
            if chars[:2] == "00":
                return (0, int(chars[2:4])) if chars[3] in "0123456789" else ()
            return (int(chars[0]), int(chars[1:3]))
        style = "three"  # 4.0 and later: -TR4060- is 4.0.6, the last character a mark (0, Z dev, B beta)
    if style == "two_two":
        return (int(chars[:2]), int(chars[2:])) if chars.isascii() and chars.isdecimal() else ()
    values = [_CHAR_VALUES.get(c) for c in (chars[:3] if style == "three" else chars)]
    if None in values:
        return ()
    numbers = [v for v in values if v is not None]
    if style != "three":
        while len(numbers) > 2 and numbers[-1] == 0:
            numbers.pop()
    return tuple(numbers)


def client_label(peer_id: bytes) -> str:
    """A readable client name and version from a peer_id ("qBittorrent 4.6.5", "aria2 1.37.0"), else "unknown"."""
    return _label(identify(peer_id))


def _label(client: ClientId | None) -> str:
    """`client`'s name and version as the peer list shows them."""
    if client is None:
        return "unknown"
    return f"{client.name} {_dotted(client.version)}" if client.version else client.name


def _dotted(version: tuple[int, ...]) -> str:
    """(4, 6, 5) -> "4.6.5"."""
    return ".".join(map(str, version))


_VERSION = re.compile(r"\d{1,6}(?:\.\d{1,6}){0,3}", re.ASCII)


def version_parse(text: str) -> tuple[int, ...]:
    """A version typed by an admin, "4.3" -> (4, 3): one to four numbers separated by dots; ValueError on anything else."""
    text = text.strip()
    if not _VERSION.fullmatch(text):
        raise ValueError(f"not a version: {text[:40]!r} (numbers separated by dots, such as 4.3 or 0.13.6)")
    return tuple(int(part) for part in text.split("."))


def rule_spec(row: Mapping[str, object]) -> ClientRuleSpec:
    """A ClientRuleSpec from a rule's fields (a DEFAULT_RULES entry or a ClientRule's values); versions "" are None."""

    def version(key: str) -> tuple[int, ...] | None:
        text = str(row.get(key) or "")
        return version_parse(text) if text else None

    return ClientRuleSpec(
        name=str(row["name"]),
        prefix=str(row["prefix"]),
        min_version=version("min_version"),
        max_version=version("max_version"),
        user_agent=str(row.get("user_agent") or ""),
        allow=bool(row.get("allow", True)),
    )


@functools.lru_cache(maxsize=512)
def _pattern(regex: str) -> re.Pattern[str] | None:
    """`regex` compiled once; None when it does not compile (an admin's typo: it then matches nothing, never raises)."""
    try:
        return re.compile(regex)
    except re.error:
        return None


def _ua_matches(regex: str, user_agent: str) -> bool:
    """Does `user_agent` match the rule's pattern?"""
    pattern = _pattern(regex)
    return pattern is not None and pattern.search(user_agent) is not None


def _padded(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`a` and `b` padded with zeros to one length, so 4.3 == 4.3.0."""
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)), b + (0,) * (n - len(b))


def _older(version: tuple[int, ...], than: tuple[int, ...]) -> bool:
    """Is `version` before `than` (4.2.15 before 4.3)?"""
    if len(version) == len(than):
        return version < than
    a, b = _padded(version, than)
    return a < b


def _in_range(version: tuple[int, ...], rule: ClientRuleSpec) -> bool:
    """Is `version` within the rule's range? An unreadable version is within an unbounded rule only."""
    if rule.min_version is None and rule.max_version is None:
        return True
    if not version:
        return False
    if rule.min_version is not None and _older(version, rule.min_version):
        return False
    return rule.max_version is None or not _older(rule.max_version, version)


def _shown(text: str, limit: int) -> str:
    """`text` fit for a failure reason: printable ASCII (others as ?), at most `limit` characters."""
    text = "".join(c if " " <= c <= "~" else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def client_verdict(*, peer_id: bytes, user_agent: str, rules: Sequence[ClientRuleSpec], mode: str) -> str | None:
    """None when the client may announce, else the failure reason its member sees (a sentence under 200 bytes).

    mode "off": anything goes. "deny": browsers and clients a deny rule
    covers are refused. "allow": the same, then the peer_id must fall in an
    allow rule's version range, and a non-empty User-Agent must match that
    rule's pattern. An empty User-Agent passes: not every client sends one
    (the HTTP header is optional, UDP announces have none), and the check is
    there to catch a peer_id and a User-Agent that disagree (a spoofed
    peer_id), which an absent header cannot show.

    A deny rule covers a peer_id with its prefix, in its version range, and,
    if it has a pattern, whose User-Agent matches it ("^$" bans an empty one).
    A browser (a User-Agent starting "Mozilla/", as UNIT3D refuses, or
    "Opera/", "Lynx/", "Links (") is never a BitTorrent client, in either
    mode. ValueError for a mode not in MODES.
    """
    if mode == "off":
        return None
    if mode not in MODES:
        raise ValueError(f"unknown client mode {mode!r}")
    if user_agent.startswith(_BROWSERS):
        return "Browsers cannot announce; use a BitTorrent client"
    head = peer_id[:20].decode("latin-1")
    client = identify(peer_id)
    version = client.version if client is not None else ()
    candidates = []
    for rule in rules:
        if not head.startswith(rule.prefix):
            continue
        if rule.allow:
            candidates.append(rule)
        elif _in_range(version, rule) and (not rule.user_agent or _ua_matches(rule.user_agent, user_agent)):
            named = f"{_shown(rule.name, _NAME_SHOWN)} {_dotted(version)}" if version else _shown(rule.name, _NAME_SHOWN)
            return f"Client banned: {named} (this tracker's client rules)"
    if mode == "deny":
        return None
    if not candidates:
        if client is None:
            return "Client not allowed: this peer_id names no client on this tracker's list of clients"
        return f"Client not allowed: {_shown(_label(client), _NAME_SHOWN)} is not on this tracker's list of clients"
    fitting = [rule for rule in candidates if _in_range(version, rule)]
    if not fitting:
        return _out_of_range(candidates, version)
    if not user_agent:
        return None
    for rule in fitting:
        if not rule.user_agent or _ua_matches(rule.user_agent, user_agent):
            return None
    return (
        f"User-Agent does not match the peer_id: the peer_id says {_shown(_label(client), _NAME_SHOWN)}, "
        f"the User-Agent says '{_shown(user_agent, _UA_SHOWN)}'"
    )


# The verdicts client_verdict_kept remembers, per list of rules (by identity, with the list kept
# alive beside them): (the rules, how many bytes of a peer_id they read, {(those bytes, User-Agent): verdict}).
_kept: dict[tuple[int, str], tuple[Sequence[ClientRuleSpec], int, dict[tuple[bytes, str], str | None]]] = {}
_KEPT_MAX = 4096


def client_verdict_kept(*, peer_id: bytes, user_agent: str, rules: Sequence[ClientRuleSpec], mode: str) -> str | None:
    """client_verdict, remembered: a verdict depends only on the peer_id's leading bytes that name the client.

    Those are its first 8 (identify reads no more) or a rule's longer prefix;
    aria2's variable-length prefix is judged afresh. The announce calls this
    with the rules of its cached policy snapshot, so a worker judges each
    client and User-Agent once per snapshot.
    """
    if peer_id[:3] == b"A2-":
        return client_verdict(peer_id=peer_id, user_agent=user_agent, rules=rules, mode=mode)
    entry = _kept.get((id(rules), mode))
    if entry is None or entry[0] is not rules:
        if len(_kept) > 8:  # snapshots replaced by newer ones
            _kept.clear()
        entry = (rules, max([8, *(len(rule.prefix) for rule in rules)]), {})
        _kept[(id(rules), mode)] = entry
    _, length, verdicts = entry
    key = (peer_id[:length], user_agent)
    try:
        return verdicts[key]
    except KeyError:
        pass
    verdict = client_verdict(peer_id=peer_id, user_agent=user_agent, rules=rules, mode=mode)
    if len(verdicts) >= _KEPT_MAX:
        verdicts.clear()
    verdicts[key] = verdict
    return verdict


def _out_of_range(candidates: list[ClientRuleSpec], version: tuple[int, ...]) -> str:
    """The reason for a listed client whose version no allow rule covers: older than the oldest allowed, newer, or between."""
    name = _shown(candidates[0].name, _NAME_SHOWN)
    if not version:
        return f"Client not allowed: {name} with a version its peer_id does not tell (this tracker's client rules)"
    mins = [rule.min_version for rule in candidates]
    maxes = [rule.max_version for rule in candidates]
    shown = f"{name} {_dotted(version)}"
    if all(m is not None and _older(version, m) for m in mins):
        oldest = functools.reduce(lambda a, b: b if _older(b, a) else a, [m for m in mins if m is not None])
        return f"Client not allowed: {shown} is older than {_dotted(oldest)} (this tracker's client rules)"
    if all(m is not None and _older(m, version) for m in maxes):
        newest = functools.reduce(lambda a, b: a if _older(b, a) else b, [m for m in maxes if m is not None])
        return f"Client not allowed: {shown} is newer than {_dotted(newest)} (this tracker's client rules)"
    return f"Client not allowed: {shown} is not an allowed version (this tracker's client rules)"


# The shipped rules (tracker.policy.selectors.default_client_rules writes them on a new site). Allow rules for the
# clients in current use, from releases still common (qBittorrent 4.3 and Transmission 3.00 are from 2020, Deluge 2.0,
# aria2 1.35 and libtorrent 1.2 from 2019, rTorrent 0.9.6 from 2015 but still on seedboxes); deny rules for clients
# private trackers ban (Gazelle and UNIT3D sites alike): they ignore the private flag, leech without uploading, or
# report figures that cannot be trusted. Each User-Agent pattern is what that client sends (see the tests' tables).
DEFAULT_RULES: list[dict[str, object]] = [
    {
        "name": "qBittorrent", "prefix": "-qB", "min_version": "4.3", "max_version": "",
        "user_agent": r"^qBittorrent(?: Enhanced)?/\d", "allow": True,
        "note": 'peer_id -qB4520-, User-Agent "qBittorrent/4.5.2"; the Enhanced Edition sends "qBittorrent Enhanced/4.6.5.10".',
    },
    {
        "name": "Transmission", "prefix": "-TR", "min_version": "3.00", "max_version": "",
        "user_agent": r"^Transmission/\d", "allow": True,
        "note": 'peer_id -TR3000- (3.00), -TR4060- (4.0.6), User-Agent "Transmission/3.00".',
    },
    {
        "name": "Deluge", "prefix": "-DE", "min_version": "2.0", "max_version": "",
        "user_agent": r"^Deluge/\d", "allow": True,
        "note": 'peer_id -DE203s- (s: stable), User-Agent "Deluge/2.0.3 libtorrent/2.0.8.0".',
    },
    {
        "name": "rTorrent (libTorrent)", "prefix": "-lt", "min_version": "0.13.6", "max_version": "",
        "user_agent": r"^rtorrent/\d", "allow": True,
        "note": 'rakshasa\'s libTorrent version (0.13.6 is rTorrent 0.9.6): peer_id -lt0D80-, User-Agent "rtorrent/0.9.8/0.13.8".',
    },
    {
        "name": "aria2", "prefix": "A2-", "min_version": "1.35", "max_version": "",
        "user_agent": r"^aria2/\d", "allow": True,
        "note": 'peer_id A2-1-36-0-, User-Agent "aria2/1.36.0".',
    },
    {
        "name": "libtorrent (Rasterbar)", "prefix": "-LT", "min_version": "1.2", "max_version": "",
        "user_agent": r"^libtorrent/\d", "allow": True,
        "note": 'Clients on libtorrent\'s defaults (its Python binding): peer_id -LT2110-, User-Agent "libtorrent/2.1.1.0".',
    },
    {
        "name": "BitComet", "prefix": "-BC", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "Banned by most private trackers: old versions ignore the private flag, its statistics are unreliable.",
    },
    {
        "name": "Xunlei", "prefix": "-XL", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "Xunlei (Thunder): downloads without uploading back.",
    },
    {
        "name": "Thunder", "prefix": "-SD", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "Xunlei's Thunder under its other peer_id: downloads without uploading back.",
    },
    {
        "name": "QQDownload", "prefix": "-QD", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "Tencent's downloader: leeches from swarms, does not seed.",
    },
    {
        "name": "Baidu Netdisk", "prefix": "-BN", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "Baidu's cloud-drive downloader: leeches from swarms, does not seed.",
    },
    {
        "name": "Xfplay", "prefix": "-XF", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "A streaming player: leeches from swarms, does not seed.",
    },
    {
        "name": "FlashGet", "prefix": "-FG", "min_version": "", "max_version": "", "user_agent": "", "allow": False,
        "note": "A download manager on private trackers' blacklists: leeches from swarms, does not seed.",
    },
]  # fmt: skip
