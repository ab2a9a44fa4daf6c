"""Client identification and client rules (tracker.policy.clients), on what real BitTorrent clients send."""

import random

import pytest

from tracker.policy.clients import (
    DEFAULT_RULES,
    ClientId,
    ClientRuleSpec,
    client_label,
    client_verdict,
    identify,
    rule_spec,
    version_parse,
)

RULES = [rule_spec(row) for row in DEFAULT_RULES]
TAIL = b"abcdefghijkl"  # the random part of a peer_id, 12 bytes after an 8-byte Azureus prefix

# Observed: each client announced a .torrent to a local HTTP server logging peer_id and User-Agent
# (Debian 12 packages and the venv's libtorrent, run headless on 127.0.0.1).
OBSERVED = [
    (b"-LT2110-", "libtorrent/2.1.1.0", ClientId("LT", "libtorrent", (2, 1, 1))),  # python binding 2.1.1.0, defaults
    (b"A2-1-36-0-", "aria2/1.36.0", ClientId("A2", "aria2", (1, 36, 0))),  # aria2c 1.36.0
    (b"-TR3000-", "Transmission/3.00", ClientId("TR", "Transmission", (3, 0))),  # transmission-daemon 3.00
    (b"-qB4520-", "qBittorrent/4.5.2", ClientId("qB", "qBittorrent", (4, 5, 2))),  # qbittorrent-nox 4.5.2
    (b"-lt0D80-", "rtorrent/0.9.8/0.13.8", ClientId("lt", "rTorrent", (0, 13, 8))),  # rtorrent 0.9.8 / libtorrent 0.13.8
    (b"-DE203s-", "Deluge/2.0.3 libtorrent/2.0.8.0", ClientId("DE", "Deluge", (2, 0, 3))),  # deluged 2.0.3 on libtorrent 2.0.8
]
# Documented: read from the clients' sources (how each builds its peer_id and User-Agent), not run here.
DOCUMENTED = [
    # qBittorrent 5: lt::generate_fingerprint("qB", major, minor, bugfix, build), User-Agent "qBittorrent/" QBT_VERSION_2.
    (b"-qB5120-", "qBittorrent/5.1.2", ClientId("qB", "qBittorrent", (5, 1, 2))),
    (b"-qB5000-", "qBittorrent/5.0.0beta1", ClientId("qB", "qBittorrent", (5, 0, 0))),
    # qBittorrent Enhanced Edition: build 10 in the fingerprint (10 -> "A"), User-Agent "qBittorrent Enhanced/".
    (b"-qB465A-", "qBittorrent Enhanced/4.6.5.10", ClientId("qB", "qBittorrent", (4, 6, 5))),
    # Transmission 4: -TR + major, minor, patch, then 0 (release), Z (dev) or B (beta); User-Agent "Transmission/<version>".
    (b"-TR4060-", "Transmission/4.0.6", ClientId("TR", "Transmission", (4, 0, 6))),
    (b"-TR410Z-", "Transmission/4.1.0-dev", ClientId("TR", "Transmission", (4, 1, 0))),
    (b"-TR300Z-", "Transmission/3.00+", ClientId("TR", "Transmission", (3, 0))),
    # Deluge 2: generate_fingerprint("DE", ...) with the last character its release letter; "Deluge/<v> libtorrent/<lt>".
    (b"-DE211s-", "Deluge/2.1.1 libtorrent/2.0.9.0", ClientId("DE", "Deluge", (2, 1, 1))),
    # rTorrent 0.15 on rakshasa's libtorrent 0.15.1 (hex digits per character): "rtorrent/<rtorrent>/<libtorrent>".
    (b"-lt0F10-", "rtorrent/0.15.1/0.15.1", ClientId("lt", "rTorrent", (0, 15, 1))),
    (b"A2-1-37-0-", "aria2/1.37.0", ClientId("A2", "aria2", (1, 37, 0))),
    # libtorrent 2.0.10's python binding: fingerprint -LT20A0- (version_to_char: 10 -> "A"), User-Agent "libtorrent/2.0.10.0".
    (b"-LT20A0-", "libtorrent/2.0.10.0", ClientId("LT", "libtorrent", (2, 0, 10))),
]
REAL = OBSERVED + DOCUMENTED


def pid(prefix: bytes) -> bytes:
    """A 20-byte peer_id starting with `prefix`."""
    return (prefix + TAIL + b"0123456789")[:20]


def refused(peer_id: bytes, user_agent: str = "", mode: str = "allow", rules: list[ClientRuleSpec] | None = None) -> str:
    """The failure reason, asserting there is one."""
    reason = verdict(peer_id, user_agent, mode, rules)
    assert reason is not None
    return reason


def verdict(peer_id: bytes, user_agent: str = "", mode: str = "allow", rules: list[ClientRuleSpec] | None = None) -> str | None:
    return client_verdict(peer_id=peer_id, user_agent=user_agent, rules=RULES if rules is None else rules, mode=mode)


@pytest.mark.parametrize(("prefix", "user_agent", "expected"), REAL)
def test_identify_real_clients(prefix, user_agent, expected):
    assert identify(pid(prefix)) == expected


@pytest.mark.parametrize(("prefix", "user_agent", "expected"), REAL)
@pytest.mark.parametrize("mode", ["allow", "deny", "off"])
def test_real_clients_announce_under_the_defaults(prefix, user_agent, expected, mode):
    assert verdict(pid(prefix), user_agent, mode) is None
    assert verdict(pid(prefix), "", mode) is None  # no User-Agent: nothing disagrees


@pytest.mark.parametrize("peer_id", [b"-qB4650-000000000001", b"-TR4050-xxxxxxxxxxxx", b"-TR3000-xxxxxxxxxxxx", b"-LT2110-abcdefghijkl"])
def test_the_suites_peer_ids_pass_the_defaults_without_a_user_agent(peer_id):
    assert verdict(peer_id) is None


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        (b"-qB4100-", "Client not allowed: qBittorrent 4.1.0 is older than 4.3 (this tracker's client rules)"),
        (b"-TR2940-", "Client not allowed: Transmission 2.94 is older than 3.0 (this tracker's client rules)"),
        (b"-DE13F0-", "Client not allowed: Deluge 1.3.15 is older than 2.0 (this tracker's client rules)"),
        (b"-lt0D50-", "Client not allowed: rTorrent (libTorrent) 0.13.5 is older than 0.13.6 (this tracker's client rules)"),
        (b"A2-1-34-0-", "Client not allowed: aria2 1.34.0 is older than 1.35 (this tracker's client rules)"),
        (b"-LT11E0-", "Client not allowed: libtorrent (Rasterbar) 1.1.14 is older than 1.2 (this tracker's client rules)"),
    ],
)
def test_old_versions_are_refused_naming_the_minimum(prefix, reason):
    assert verdict(pid(prefix)) == reason
    assert verdict(pid(prefix), mode="deny") is None


def test_the_minimum_itself_is_allowed():
    assert verdict(pid(b"-qB4300-"), "qBittorrent/4.3.0") is None
    assert verdict(pid(b"-lt0D60-"), "rtorrent/0.9.6/0.13.6") is None
    assert verdict(pid(b"-qB42F0-"), "qBittorrent/4.2.15") is not None


@pytest.mark.parametrize("mode", ["allow", "deny"])
def test_deny_rules(mode):
    assert verdict(pid(b"-BC0170-"), "BitComet/1.70", mode) == "Client banned: BitComet 1.70 (this tracker's client rules)"
    assert verdict(pid(b"-XL0012-"), "", mode) == "Client banned: Xunlei 0.0.1.2 (this tracker's client rules)"
    assert verdict(pid(b"-SD0100-"), "", mode) == "Client banned: Thunder 0.1 (this tracker's client rules)"
    assert verdict(pid(b"-BC0170-"), "BitComet/1.70", "off") is None


def test_modes():
    unknown = b"-SP0001-abcdefghijkl"  # BitSpirit, on no list
    assert verdict(unknown, mode="off") is None
    assert verdict(unknown, mode="deny") is None
    assert verdict(unknown, mode="allow") == "Client not allowed: BitSpirit 0.0.0.1 is not on this tracker's list of clients"
    assert verdict(b"-DR0001-abcdefghijkl") == "Client not allowed: DR 0.0.0.1 is not on this tracker's list of clients"
    assert verdict(b"M4-3-6--abcdefghijkl") == "Client not allowed: BitTorrent (Mainline) 4.3.6 is not on this tracker's list of clients"
    shapeless = "Client not allowed: this peer_id names no client on this tracker's list of clients"
    assert verdict(b"\x00" * 20) == shapeless
    with pytest.raises(ValueError, match="unknown client mode"):
        verdict(unknown, mode="strict")


def test_deny_rules_come_first_in_allow_mode():
    rules = [*RULES, ClientRuleSpec("Old qBittorrent", "-qB", None, (4, 4, 99), "", allow=False)]
    assert (
        verdict(pid(b"-qB4450-"), "qBittorrent/4.4.5", rules=rules) == "Client banned: Old qBittorrent 4.4.5 (this tracker's client rules)"
    )
    assert verdict(pid(b"-qB4500-"), "qBittorrent/4.5.0", rules=rules) is None


def test_user_agent_must_agree_with_the_peer_id():
    assert verdict(pid(b"-qB4650-"), "Transmission/4.0.6") == (
        "User-Agent does not match the peer_id: the peer_id says qBittorrent 4.6.5, the User-Agent says 'Transmission/4.0.6'"
    )
    # libtorrent's own peer_id with the User-Agent of a client built on it, and the other way round
    assert refused(pid(b"-LT2110-"), "Deluge/2.0.3 libtorrent/2.0.8.0").startswith("User-Agent does not match the peer_id")
    assert refused(pid(b"-LT2110-"), "qBittorrent/4.6.5").startswith("User-Agent does not match the peer_id")
    assert refused(pid(b"-DE203s-"), "libtorrent/2.0.8.0").startswith("User-Agent does not match the peer_id")
    assert verdict(pid(b"-lt0D80-"), "rtorrent/0.9.8/0.13.8") is None
    assert verdict(pid(b"-TR4060-"), "transmission/4.0.6") is not None  # the patterns are case-sensitive, as clients send them
    assert verdict(pid(b"-qB4650-"), "Transmission/4.0.6", "deny") is None  # deny mode: only deny rules refuse


@pytest.mark.parametrize("mode", ["allow", "deny"])
def test_browsers_are_refused(mode):
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
    assert verdict(pid(b"-qB4650-"), chrome, mode) == "Browsers cannot announce; use a BitTorrent client"
    assert verdict(pid(b"-qB4650-"), chrome, "off") is None


def test_max_version_is_inclusive_padded_with_zeros():
    rules = [ClientRuleSpec("qBittorrent", "-qB", (4, 3), (4, 6), "", allow=True)]
    assert verdict(pid(b"-qB4600-"), rules=rules) is None
    assert verdict(pid(b"-qB4650-"), rules=rules) == "Client not allowed: qBittorrent 4.6.5 is newer than 4.6 (this tracker's client rules)"
    two = [*rules, ClientRuleSpec("qBittorrent", "-qB", (5, 0), None, "", allow=True)]
    assert (
        verdict(pid(b"-qB4650-"), rules=two)
        == "Client not allowed: qBittorrent 4.6.5 is not an allowed version (this tracker's client rules)"
    )
    assert verdict(pid(b"-qB5100-"), rules=two) is None
    assert verdict(pid(b"-qB4200-"), rules=two) == "Client not allowed: qBittorrent 4.2.0 is older than 4.3 (this tracker's client rules)"


def test_an_unreadable_version_is_outside_a_bounded_rule():
    assert verdict(b"-qB4.6.-abcdefghijkl") == (
        "Client not allowed: qBittorrent with a version its peer_id does not tell (this tracker's client rules)"
    )
    assert verdict(b"-qB4.6.-abcdefghijkl", rules=[ClientRuleSpec("qBittorrent", "-qB", None, None, "", allow=True)]) is None


def test_deny_rule_user_agent_patterns():
    rules = [
        ClientRuleSpec("Transmission", "-TR", None, None, r"^Transmission/2\.93", allow=False),
        ClientRuleSpec("No User-Agent", "-TR", None, None, "^$", allow=False),
    ]
    assert verdict(pid(b"-TR2930-"), "Transmission/2.93", "deny", rules) == "Client banned: Transmission 2.93 (this tracker's client rules)"
    assert verdict(pid(b"-TR2940-"), "Transmission/2.94", "deny", rules) is None
    assert verdict(pid(b"-TR2940-"), "", "deny", rules) == "Client banned: No User-Agent 2.94 (this tracker's client rules)"


def test_a_broken_pattern_matches_nothing_and_never_raises():
    rules = [ClientRuleSpec("qBittorrent", "-qB", None, None, "(unclosed", allow=True)]
    assert refused(pid(b"-qB4650-"), "qBittorrent/4.6.5", rules=rules).startswith("User-Agent does not match")
    assert verdict(pid(b"-qB4650-"), "", rules=rules) is None


def test_reasons_stay_short_and_printable():
    long_ua = "Transmission/4.0.6 " + "ü\x00" * 500
    reason = verdict(pid(b"-qB4650-"), long_ua)
    assert reason is not None and reason.isascii() and len(reason.encode()) < 200
    assert reason.endswith("...'")
    long_name = [ClientRuleSpec("x" * 64, "-qB", (9,), None, "", allow=True)]
    assert len(refused(pid(b"-qB4650-"), rules=long_name).encode()) < 200


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (b"-LT2110-abcdefghijkl", "libtorrent 2.1.1"),  # pinned in tests/tracker/swarm/test_swarm_api.py
        (b"A2-1-37-0-abcdefghij", "aria2 1.37.0"),
        (b"M7-2-0--abcdefghijkl", "unknown"),  # Mainline style ended with 5.x: BitTorrent 7 sends -BT
        (b"-qB4650-000000000001", "qBittorrent 4.6.5"),
        (b"-TR3000-xxxxxxxxxxxx", "Transmission 3.0"),
        (b"-TR4050-xxxxxxxxxxxx", "Transmission 4.0.5"),
        (b"-TR2940-xxxxxxxxxxxx", "Transmission 2.94"),
        (b"-lt0D80-xxxxxxxxxxxx", "rTorrent 0.13.8"),
        (b"-DE203s-xxxxxxxxxxxx", "Deluge 2.0.3"),
        (b"-qB5000-xxxxxxxxxxxx", "qBittorrent 5.0.0"),
        (b"-UT355S-xxxxxxxxxxxx", "µTorrent 3.5.5"),
        (b"-BC0170-xxxxxxxxxxxx", "BitComet 1.70"),
        (b"-ZZ1200-xxxxxxxxxxxx", "ZZ 1.2"),
        (b"-qB?!?!-xxxxxxxxxxxx", "qBittorrent"),
        (b"", "unknown"),
        (b"qB4650", "unknown"),
    ],
)
def test_client_label(raw, label):
    assert client_label(raw) == label


def test_peer_ids_of_any_bytes_never_raise():
    rng = random.Random(7)
    shapes = [b"-", b"A2-", b"M", b"-TR", b"-qB", b"-\xff\xfe", b"A2-\xff-\xb2-\xb3-", b"M4-\xb9-1--", b"-TR\xb2\xb3\xb9\xbd-"]
    ids = [rng.choice(shapes) + rng.randbytes(rng.randrange(0, 24)) for _ in range(3000)]
    ids += [bytes([b]) * 20 for b in range(256)]
    for raw in ids:
        identify(raw)
        assert isinstance(client_label(raw), str)
        for mode in ("off", "deny", "allow"):
            reason = verdict(raw, rng.choice(["", "qBittorrent/4.6.5", "\xff\x00"]), mode)
            assert reason is None or (reason.isascii() and len(reason.encode()) < 200)


@pytest.mark.parametrize(("text", "version"), [("4.3", (4, 3)), (" 0.13.6 ", (0, 13, 6)), ("2", (2,)), ("1.2.3.4", (1, 2, 3, 4))])
def test_version_parse(text, version):
    assert version_parse(text) == version


@pytest.mark.parametrize("text", ["", " ", "4.", ".4", "4..3", "a", "4.3b", "v4.3", "4,3", "-1", "1.2.3.4.5", "\uff14.\uff13", "4.3\n1"])
def test_version_parse_refuses_garbage(text):
    with pytest.raises(ValueError, match="not a version"):
        version_parse(text)


def test_default_rules_fit_the_client_rule_table():
    from tracker.policy.models import ClientRule

    lengths = {f.name: f.max_length for f in ClientRule._meta.concrete_fields if getattr(f, "max_length", None)}
    for row in DEFAULT_RULES:
        assert set(row) == {"name", "prefix", "min_version", "max_version", "user_agent", "allow", "note"}
        for key, value in row.items():
            if isinstance(value, str):
                assert len(value) <= (lengths[key] or 0), (row["name"], key)
        rule_spec(row)  # versions parse
    assert {row["prefix"] for row in DEFAULT_RULES if row["allow"]} == {"-qB", "-TR", "-DE", "-lt", "A2-", "-LT"}


def test_kept_verdicts_are_the_verdicts():
    """The announce's remembered verdicts (by the peer_id's naming bytes and the User-Agent) equal fresh ones, rule lists changing."""
    from tracker.policy.clients import client_verdict_kept

    rng = random.Random(11)
    long_prefix = ClientRuleSpec(
        name="qB 4.6.5 build x", prefix="-qB4650-abc", min_version=None, max_version=None, user_agent="", allow=False
    )
    lists = [tuple(RULES), (*RULES, long_prefix), tuple(RULES[:2])]
    heads = [prefix for prefix, _, _ in REAL] + [b"-qB4650-", b"-qB4650-abc", b"M4-3-6--", b"-ZZ1234-", b"A2-9-", b""]
    agents = ["", "qBittorrent/4.6.5", "Transmission/3.00", "Mozilla/5.0", "aria2/1.36.0"]
    for _ in range(4000):
        peer_id = (rng.choice(heads) + rng.randbytes(20))[:20]
        args = dict(peer_id=peer_id, user_agent=rng.choice(agents), rules=rng.choice(lists), mode=rng.choice(["allow", "deny", "off"]))
        assert client_verdict_kept(**args) == client_verdict(**args), args
