"""The private tracker's rules on the announce, through both fronts, on SQLite and PostgreSQL.

Each rule of tracker.policy (client rules, blocked ports, the peer limit,
leech slots, the ratio watch, hit-and-run warnings, freeleech and events,
the hit-and-run requirement frozen at completion) is driven by real
announces, with the policy changed through the ORM as the admin changes it
(its signals forget the announce's cached snapshot). The gate's races
(tracker.swarm.sql's `gt`, the SQL function `tracker_gate`) run with real
concurrency on PostgreSQL: threads on their own connections for the WSGI
views, concurrent requests (and batches) on the ASGI application.
"""

import asyncio
import itertools
import random
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.factories import TorrentFactory, UserFactory
from tests.threads import released_together
from tests.tracker.announce.fronts import AsgiClient, fast_path_active
from tests.tracker.announce.helpers import announce_qs, peer_id, reply
from tracker.announce.core import TRACKER_ERROR
from tracker.policy.models import ClientRule, HnrWarning, SiteEvent, SitePolicy, TokenUse
from tracker.policy.selectors import site_policy
from tracker.swarm.models import Peer, Snatch

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]

GIB = 1024**3
MIB = 1024**2

PEERS_REASON = "Peer limit reached: you have 3 clients on this torrent, the limit is 3"
SLOTS_REASON = (
    "No leech slot free: you are leeching 1 torrents and your ratio allows 1 at once; "
    "finish or stop one, or raise your ratio (seeding is always allowed)"
)


# --- helpers ---------------------------------------------------------------------------------------------------


def ann(client: Any, user: Any, torrent: Any, pid: bytes, *, ua: str | None = None, remote: str = "10.0.0.1", **params: Any) -> dict:
    """One announce of `pid` by `user` on `torrent`, with the User-Agent `ua` (None: no header); the decoded reply."""
    extra = {"REMOTE_ADDR": remote}
    if ua is not None:
        extra["HTTP_USER_AGENT"] = ua
    return reply(client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, pid, **params)}", **extra))


def ok(body: dict) -> dict:
    """`body` is an accepted announce's reply."""
    assert b"failure reason" not in body, body[b"failure reason"].decode()
    assert b"interval" in body
    return body


def refused(body: dict) -> str:
    """The failure reason of a refused announce's reply."""
    assert b"failure reason" in body, f"accepted: {body}"
    return body[b"failure reason"].decode()


def pid_of(prefix: bytes, n: int) -> bytes:
    """A 20-byte peer_id starting with `prefix`, distinct per `n`."""
    return prefix + str(n).zfill(20 - len(prefix)).encode()


def policy_set(**fields: Any) -> SitePolicy:
    """Change the site policy as the admin does (save(): its signal forgets the announce's snapshot)."""
    policy = site_policy()
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def member_set(user: Any, **fields: Any) -> None:
    """Change a member's figures (the announce reads them in SQL: no cache to forget)."""
    User.objects.filter(pk=user.pk).update(**fields)


def peers_of(user: Any, torrent: Any) -> set[bytes]:
    return {bytes(p) for p in Peer.objects.filter(user=user, torrent=torrent).values_list("peer_id", flat=True)}


def expire(user: Any, torrent: Any, pid: bytes) -> None:
    """Make a peer's last announce older than the peer expiry (still a row, no longer live)."""
    old = timezone.now() - timedelta(seconds=settings.TRACKER_PEER_EXPIRY + 60)
    assert Peer.objects.filter(user=user, torrent=torrent, peer_id=pid).update(last_announce=old) == 1


@pytest.fixture(autouse=True)
def rules(db: Any) -> SitePolicy:
    """The shipped rules (the policy row with its default tables)."""
    return site_policy()


# --- 1. client rules -------------------------------------------------------------------------------------------

# Real clients' peer_id prefixes and User-Agents (tracker.policy.clients: observed or read from their sources).
REAL_CLIENTS = [
    (b"-qB4520-", "qBittorrent/4.5.2"),
    (b"-TR3000-", "Transmission/3.00"),
    (b"-DE203s-", "Deluge/2.0.3 libtorrent/2.0.8.0"),
    (b"-lt0D80-", "rtorrent/0.9.8/0.13.8"),
    (b"A2-1-36-0-", "aria2/1.36.0"),
    (b"-LT2110-", "libtorrent/2.1.1.0"),
]


@pytest.mark.parametrize(("prefix", "user_agent"), REAL_CLIENTS, ids=[ua.split("/")[0] for _, ua in REAL_CLIENTS])
def test_the_default_allowed_clients_announce(client, user, prefix, user_agent):
    torrent = TorrentFactory()
    ok(ann(client, user, torrent, pid_of(prefix, 1), ua=user_agent, event="started"))
    ok(ann(client, user, torrent, pid_of(prefix, 1), ua=user_agent, uploaded=10))
    ok(ann(client, user, torrent, pid_of(prefix, 2)))  # no User-Agent header: the peer_id alone decides
    assert Peer.objects.get(user=user, peer_id=pid_of(prefix, 1)).user_agent == user_agent
    assert peers_of(user, torrent) == {pid_of(prefix, 1), pid_of(prefix, 2)}


BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
OLD = (b"-qB4100-", "qBittorrent/4.1.0")
BITCOMET = (b"-BC0170-", "BitComet/1.70")
UNKNOWN = (b"-ZZ1000-", "ZZ/1.0")
NO_CLIENT = (b"XXXXXXXX", "")
MISMATCH = (b"-qB4520-", "Transmission/3.00")
FROM_A_BROWSER = (b"-qB4520-", BROWSER)
OLD_REASON = "Client not allowed: qBittorrent 4.1.0 is older than 4.3 (this tracker's client rules)"
BANNED_REASON = "Client banned: BitComet 1.70 (this tracker's client rules)"
UNKNOWN_REASON = "Client not allowed: ZZ 1.0 is not on this tracker's list of clients"
NO_CLIENT_REASON = "Client not allowed: this peer_id names no client on this tracker's list of clients"
MISMATCH_REASON = "User-Agent does not match the peer_id: the peer_id says qBittorrent 4.5.2, the User-Agent says 'Transmission/3.00'"
BROWSER_REASON = "Browsers cannot announce; use a BitTorrent client"

# (mode, the client, the failure reason or None: accepted)
CLIENT_TABLE = [
    ("allow", OLD, OLD_REASON),
    ("allow", BITCOMET, BANNED_REASON),
    ("allow", (b"-BC0170-", ""), BANNED_REASON),
    ("allow", UNKNOWN, UNKNOWN_REASON),
    ("allow", NO_CLIENT, NO_CLIENT_REASON),
    ("allow", MISMATCH, MISMATCH_REASON),
    ("allow", FROM_A_BROWSER, BROWSER_REASON),
    ("allow", (b"-TR2940-", "Transmission/2.94"), "Client not allowed: Transmission 2.94 is older than 3.0 (this tracker's client rules)"),
    ("deny", OLD, None),
    ("deny", BITCOMET, BANNED_REASON),
    ("deny", UNKNOWN, None),
    ("deny", NO_CLIENT, None),
    ("deny", MISMATCH, None),
    ("deny", FROM_A_BROWSER, BROWSER_REASON),
    ("off", OLD, None),
    ("off", BITCOMET, None),
    ("off", UNKNOWN, None),
    ("off", NO_CLIENT, None),
    ("off", MISMATCH, None),
    ("off", FROM_A_BROWSER, None),
]


@pytest.mark.parametrize(("mode", "who", "reason"), CLIENT_TABLE)
def test_client_rules_refuse_with_the_client_and_the_rule(client, user, mode, who, reason):
    prefix, user_agent = who
    torrent = TorrentFactory()
    ok(ann(client, user, torrent, peer_id(1)))  # the snapshot in use before the change
    policy_set(client_mode=mode)
    body = ann(client, user, torrent, pid_of(prefix, 2), ua=user_agent, event="started")
    if reason is None:
        ok(body)
        assert pid_of(prefix, 2) in peers_of(user, torrent)
    else:
        assert refused(body) == reason
        assert peers_of(user, torrent) == {peer_id(1)}  # nothing written


def test_a_rule_disabled_in_the_admin_applies_to_the_very_next_announce(client, user):
    torrent = TorrentFactory()
    qb = ClientRule.objects.get(name="qBittorrent")
    for n in range(3):  # the ASGI worker now remembers the lookups and the rules
        ok(ann(client, user, torrent, peer_id(1), ua="qBittorrent/4.6.5", uploaded=n))
    qb.enabled = False
    qb.save()
    reason = "Client not allowed: qBittorrent 4.6.5 is not on this tracker's list of clients"
    assert refused(ann(client, user, torrent, peer_id(1), ua="qBittorrent/4.6.5", uploaded=5)) == reason
    qb.enabled = True
    qb.save()
    ok(ann(client, user, torrent, peer_id(1), ua="qBittorrent/4.6.5", uploaded=6))


def test_a_deny_rule_disabled_in_the_admin_lets_the_client_in_on_the_very_next_announce(client, user):
    """The other way round: a refusal must not outlive the rule (the ASGI worker may remember the old rules)."""
    torrent = TorrentFactory()
    policy_set(client_mode="deny")
    for n in range(3):  # the ASGI worker now remembers the lookups and the rules
        ok(ann(client, user, torrent, peer_id(1), uploaded=n))
    assert refused(ann(client, user, torrent, pid_of(b"-BC0170-", 2), ua="BitComet/1.70")) == BANNED_REASON
    bitcomet = ClientRule.objects.get(name="BitComet")
    bitcomet.enabled = False
    bitcomet.save()
    ok(ann(client, user, torrent, pid_of(b"-BC0170-", 2), ua="BitComet/1.70"))
    assert pid_of(b"-BC0170-", 2) in peers_of(user, torrent)


@pytest.mark.parametrize("who", [BITCOMET, FROM_A_BROWSER, OLD, NO_CLIENT])
def test_a_stop_is_never_refused_by_client_rules(client, user, who):
    prefix, user_agent = who
    torrent = TorrentFactory()
    policy_set(client_mode="off")
    ok(ann(client, user, torrent, pid_of(prefix, 1), ua=user_agent, event="started"))
    policy_set(client_mode="allow")
    assert refused(ann(client, user, torrent, pid_of(prefix, 1), ua=user_agent, uploaded=5))
    ok(ann(client, user, torrent, pid_of(prefix, 1), ua=user_agent, uploaded=10, event="stopped"))
    assert peers_of(user, torrent) == set()  # the stop ended the peer
    torrent.refresh_from_db()
    assert torrent.leechers == 0
    # A stop of a peer the tracker never knew is answered as usual too.
    ok(ann(client, user, torrent, pid_of(prefix, 3), ua=user_agent, event="stopped"))


# --- 2. blocked ports ------------------------------------------------------------------------------------------

# SitePolicy.blocked_ports' default, "411-413, 1214, 4662, 6346-6347, 6699", and ports next to those.
DEFAULT_BLOCKED = [411, 412, 413, 1214, 4662, 6346, 6347, 6699]
NOT_BLOCKED = [1215, 4661, 6345, 6348, 6698, 6700, 6881]


def port_reason(port: int) -> str:
    """tracker.announce.core.client_check's reason for a port on the policy's list."""
    return f"Port {port} is blocked on this tracker; set another listening port in your client"


@pytest.mark.parametrize("port", DEFAULT_BLOCKED)
def test_the_default_blocked_ports_are_refused(client, user, port):
    body = ann(client, user, TorrentFactory(), peer_id(1), port=port, event="started")
    assert refused(body).startswith(f"Port {port} is blocked")
    assert not Peer.objects.exists()


@pytest.mark.parametrize("port", NOT_BLOCKED)
def test_the_ports_next_to_them_are_not(client, user, port):
    ok(ann(client, user, TorrentFactory(), peer_id(1), port=port, event="started"))
    assert Peer.objects.get().port == port


@pytest.mark.parametrize("port", [6699, 1214])
def test_a_blocked_port_is_refused_with_the_policys_reason(client, user, port):
    assert refused(ann(client, user, TorrentFactory(), peer_id(1), port=port, event="started")) == port_reason(port)


def test_ports_added_to_the_list_are_blocked_at_once(client, user):
    torrent = TorrentFactory()
    for n in range(3):  # the ASGI worker now remembers the rules
        ok(ann(client, user, torrent, peer_id(1), port=7000, uploaded=n))
    policy_set(blocked_ports="7000, 50000-50010")
    assert refused(ann(client, user, torrent, peer_id(1), port=7000, uploaded=5)) == port_reason(7000)  # a live peer too
    assert refused(ann(client, user, torrent, peer_id(2), port=50005)) == port_reason(50005)
    assert refused(ann(client, user, torrent, peer_id(2), port=50000)) == port_reason(50000)
    ok(ann(client, user, torrent, peer_id(2), port=50011))


def test_a_port_taken_off_the_list_is_allowed_at_once(client, user):
    torrent = TorrentFactory()
    policy_set(blocked_ports="7000")
    for n in range(3):  # the ASGI worker now remembers the lookups and the rules
        ok(ann(client, user, torrent, peer_id(1), port=6881, uploaded=n))
    assert refused(ann(client, user, torrent, peer_id(2), port=7000)) == port_reason(7000)
    policy_set(blocked_ports="")
    ok(ann(client, user, torrent, peer_id(2), port=7000))


@pytest.mark.parametrize("port", [6699, 411])
def test_a_shipped_port_taken_off_the_list_is_allowed(client, user, port):
    policy_set(blocked_ports="1214")
    ok(ann(client, user, TorrentFactory(), peer_id(1), port=port, event="started"))


def test_a_stop_on_a_blocked_port_passes(client, user):
    torrent = TorrentFactory()
    ok(ann(client, user, torrent, peer_id(1), port=7000, event="started"))
    policy_set(blocked_ports="7000")
    assert refused(ann(client, user, torrent, peer_id(1), port=7000, uploaded=1)) == port_reason(7000)
    ok(ann(client, user, torrent, peer_id(1), port=7000, uploaded=1, event="stopped"))
    assert not Peer.objects.exists()
    torrent.refresh_from_db()
    assert torrent.leechers == 0


# --- 3. the peer limit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("left", [1000, 0], ids=["leechers", "seeders"])
def test_a_members_fourth_peer_on_a_torrent_is_refused(client, user, left):
    torrent = TorrentFactory()
    other = UserFactory()
    for n in (1, 2, 3):
        ok(ann(client, user, torrent, peer_id(n), left=left, event="started", remote=f"10.0.0.{n}"))
    assert refused(ann(client, user, torrent, peer_id(4), left=left, event="started")) == PEERS_REASON
    assert refused(ann(client, user, torrent, peer_id(4), left=1000 - left)) == PEERS_REASON  # seeding or not
    assert peers_of(user, torrent) == {peer_id(1), peer_id(2), peer_id(3)}
    for n in (1, 2, 3):  # the three keep announcing
        ok(ann(client, user, torrent, peer_id(n), left=left, uploaded=10 * n, remote=f"10.0.0.{n}"))
    # Other members are not affected; another torrent of the member is not either.
    for n in (11, 12, 13):
        ok(ann(client, other, torrent, peer_id(n), left=left, event="started"))
    ok(ann(client, user, TorrentFactory(), peer_id(4), left=left, event="started"))
    # One stops: a new one is accepted, and the limit holds again.
    ok(ann(client, user, torrent, peer_id(2), left=left, event="stopped"))
    ok(ann(client, user, torrent, peer_id(5), left=left, event="started"))
    assert refused(ann(client, user, torrent, peer_id(6), left=left, event="started")) == PEERS_REASON
    assert peers_of(user, torrent) == {peer_id(1), peer_id(3), peer_id(5)}
    torrent.refresh_from_db()
    assert (torrent.seeders + torrent.leechers) == 6


def test_an_expired_peer_does_not_count_toward_the_limit(client, user):
    torrent = TorrentFactory()
    for n in (1, 2, 3):
        ok(ann(client, user, torrent, peer_id(n), event="started"))
    expire(user, torrent, peer_id(1))
    ok(ann(client, user, torrent, peer_id(4), event="started"))
    assert refused(ann(client, user, torrent, peer_id(5), event="started")) == PEERS_REASON
    # The expired one coming back is a new peer again: over the limit now.
    assert refused(ann(client, user, torrent, peer_id(1))) == PEERS_REASON


def test_a_peer_limit_raised_or_lifted_in_the_admin(client, user):
    torrent = TorrentFactory()
    for n in (1, 2, 3):
        ok(ann(client, user, torrent, peer_id(n), event="started"))
    assert refused(ann(client, user, torrent, peer_id(4))) == PEERS_REASON
    policy_set(peers_per_torrent=4)
    ok(ann(client, user, torrent, peer_id(4)))
    assert refused(ann(client, user, torrent, peer_id(5))) == "Peer limit reached: you have 4 clients on this torrent, the limit is 4"
    policy_set(peers_per_torrent=0)
    for n in range(5, 9):
        ok(ann(client, user, torrent, peer_id(n)))
    assert len(peers_of(user, torrent)) == 8


# --- 4. leech slots --------------------------------------------------------------------------------------------


def test_leech_slots_follow_the_members_ratio(client, user):
    a, b, c, d = (TorrentFactory() for _ in range(4))
    member_set(user, downloaded=10 * GIB, uploaded=3 * GIB)  # ratio 0.30: below 0.40, one slot
    ok(ann(client, user, a, peer_id(1), event="started"))
    assert refused(ann(client, user, b, peer_id(2), event="started")) == SLOTS_REASON
    assert peers_of(user, b) == set()
    ok(ann(client, user, b, peer_id(2), left=0, event="started"))  # seeding is always allowed
    assert refused(ann(client, user, b, peer_id(2), left=500)) == SLOTS_REASON  # ... turning to leeching is not
    ok(ann(client, user, a, peer_id(3), event="started"))  # another client on the torrent that holds the slot
    # Finishing A frees the slot.
    ok(ann(client, user, a, peer_id(1), downloaded=1000, left=0))
    assert refused(ann(client, user, c, peer_id(4), event="started")) == SLOTS_REASON  # peer 3 still leeches A
    ok(ann(client, user, a, peer_id(3), downloaded=1000, left=0))
    ok(ann(client, user, c, peer_id(4), event="started"))
    assert refused(ann(client, user, d, peer_id(5), event="started")) == SLOTS_REASON
    # A better ratio lifts the limit at once (the gate reads the member's live totals).
    member_set(user, uploaded=int(6.5 * GIB))  # ratio 0.65: above every band
    ok(ann(client, user, d, peer_id(5), event="started"))
    ok(ann(client, user, b, peer_id(2), left=500))
    assert Peer.objects.filter(user=user, is_seeder=False).values("torrent").distinct().count() == 3


@pytest.mark.parametrize(
    ("uploaded", "slots"),
    [(int(3.9 * GIB), 1), (4 * GIB, 2), (int(4.5 * GIB), 2), (5 * GIB, 3), (int(5.99 * GIB), 3), (6 * GIB, None)],
)
def test_the_slot_bands(client, user, uploaded, slots):
    member_set(user, downloaded=10 * GIB, uploaded=uploaded)
    torrents = [TorrentFactory() for _ in range(5)]
    allowed = slots if slots is not None else len(torrents)
    for n, torrent in enumerate(torrents):
        body = ann(client, user, torrent, peer_id(n), event="started")
        if n < allowed:
            ok(body)
        else:
            assert refused(body) == (
                f"No leech slot free: you are leeching {slots} torrents and your ratio allows {slots} at once; "
                "finish or stop one, or raise your ratio (seeding is always allowed)"
            )


def test_no_slot_limit_before_the_policy_threshold(client, user):
    member_set(user, downloaded=4 * GIB, uploaded=0)  # under leech_slots_after (5 GiB): leeches freely
    for n in range(4):
        ok(ann(client, user, TorrentFactory(), peer_id(n), event="started"))


def test_leech_slots_max_applies_to_a_perfect_ratio(client, user):
    member_set(user, downloaded=10 * GIB, uploaded=100 * GIB)
    a, b = TorrentFactory(), TorrentFactory()
    ok(ann(client, user, a, peer_id(1), event="started"))
    ok(ann(client, user, b, peer_id(2), event="started"))
    ok(ann(client, user, b, peer_id(2), event="stopped"))
    policy_set(leech_slots_max=1)
    assert refused(ann(client, user, b, peer_id(2), event="started")) == SLOTS_REASON
    ok(ann(client, user, a, peer_id(1), uploaded=1))  # the leeching peer goes on
    expire(user, a, peer_id(1))  # an expired leecher holds no slot
    ok(ann(client, user, b, peer_id(2), event="started"))


# --- 5. the ratio watch ----------------------------------------------------------------------------------------

RATIO_REASON = (
    "Download rights suspended: your ratio 0.10 is below the required 0.20 and your ratio watch has ended; "
    "seed to recover (seeding is always allowed)"
)


def test_a_ratio_watch_that_ended_refuses_new_leeching_only(client, user):
    leeching, seeding, new = TorrentFactory(), TorrentFactory(), TorrentFactory()
    member_set(user, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=timezone.now() - timedelta(days=13))
    ok(ann(client, user, leeching, peer_id(1), event="started"))  # the watch runs: not over yet
    ok(ann(client, user, seeding, peer_id(2), left=0, event="started"))
    member_set(user, ratio_watch_since=timezone.now() - timedelta(days=15))
    assert refused(ann(client, user, new, peer_id(3), event="started")) == RATIO_REASON
    assert refused(ann(client, user, leeching, peer_id(4), event="started")) == RATIO_REASON  # a new peer even where one leeches
    assert refused(ann(client, user, seeding, peer_id(2), left=100)) == RATIO_REASON  # a seeder turning to leeching
    ok(ann(client, user, leeching, peer_id(1), uploaded=10))  # the leeching peer keeps announcing
    ok(ann(client, user, seeding, peer_id(2), left=0, uploaded=20))  # seeding goes on
    ok(ann(client, user, new, peer_id(3), left=0, event="started"))  # and a new seeder is welcome
    assert peers_of(user, new) == {peer_id(3)}
    ok(ann(client, user, leeching, peer_id(1), uploaded=10, event="stopped"))  # a stop is never refused
    assert refused(ann(client, user, leeching, peer_id(1), event="started")) == RATIO_REASON  # ... and it cannot come back
    # Raising the ratio restores the rights at once (0.70: no leech-slot limit either).
    member_set(user, uploaded=7 * GIB)
    ok(ann(client, user, TorrentFactory(), peer_id(5), event="started"))


def test_an_expired_leecher_of_a_member_whose_watch_ended_is_refused_coming_back(client, user):
    torrent = TorrentFactory()
    ok(ann(client, user, torrent, peer_id(1), event="started"))
    member_set(user, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=timezone.now() - timedelta(days=15))
    expire(user, torrent, peer_id(1))
    assert refused(ann(client, user, torrent, peer_id(1), uploaded=5)) == RATIO_REASON


@pytest.mark.parametrize(("days", "watch_days", "refuse"), [(13, 14, False), (15, 14, True), (15, 20, False), (3, 2, True)])
def test_the_watch_lasts_the_policys_days(client, user, days, watch_days, refuse):
    policy_set(ratio_watch_days=watch_days)
    member_set(user, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=timezone.now() - timedelta(days=days))
    body = ann(client, user, TorrentFactory(), peer_id(1), event="started")
    if refuse:
        assert refused(body) == RATIO_REASON
    else:
        ok(body)


def test_the_ratio_reason_names_the_members_figures(client, user):
    # 40 GiB down (required 0.50), 18.5 GiB up: 0.46.
    member_set(user, downloaded=40 * GIB, uploaded=int(18.5 * GIB), ratio_watch_since=timezone.now() - timedelta(days=30))
    assert refused(ann(client, user, TorrentFactory(), peer_id(1), event="started")) == (
        "Download rights suspended: your ratio 0.46 is below the required 0.50 and your ratio watch has ended; "
        "seed to recover (seeding is always allowed)"
    )


def test_credited_downloads_start_the_watch_and_uploads_end_it(client, user):
    torrent = TorrentFactory()
    member_set(user, downloaded=10 * GIB, uploaded=int(2.5 * GIB))  # 0.25: above the 0.20 required
    ok(ann(client, user, torrent, peer_id(1), event="started", left=10 * GIB))
    ok(ann(client, user, torrent, peer_id(1), downloaded=GIB, left=9 * GIB))  # 2.5 / 11 = 0.227
    assert User.objects.get(pk=user.pk).ratio_watch_since is None
    before = timezone.now()
    ok(ann(client, user, torrent, peer_id(1), downloaded=3 * GIB, left=7 * GIB))  # 2.5 / 13 = 0.19: below
    member = User.objects.get(pk=user.pk)
    assert member.downloaded == 13 * GIB
    assert member.ratio_watch_since is not None and before - timedelta(seconds=5) <= member.ratio_watch_since <= timezone.now()
    started = member.ratio_watch_since
    ok(ann(client, user, torrent, peer_id(1), downloaded=4 * GIB, left=6 * GIB))  # still below: the watch keeps its start
    assert User.objects.get(pk=user.pk).ratio_watch_since == started
    ok(ann(client, user, torrent, peer_id(1), uploaded=GIB, downloaded=4 * GIB, left=6 * GIB))  # 3.5 / 14 = 0.25
    member = User.objects.get(pk=user.pk)
    assert (member.uploaded, member.ratio_watch_since) == (int(3.5 * GIB), None)


def _download(api_client: Any, user: Any, torrent: Any) -> Any:
    api_client.force_authenticate(User.objects.get(pk=user.pk))
    return api_client.get(f"/api/torrents/{torrent.pk}/download")


def test_the_torrent_page_download_refuses_in_the_same_words(client, user):
    """The page's download link (GET /torrents/<id>/download/) applies the same rights and shows the announce's reason."""
    torrent = TorrentFactory()
    page = Client()
    page.force_login(User.objects.get(pk=user.pk))
    assert page.get(f"/torrents/{torrent.pk}/download/").status_code == 200
    member_set(user, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=timezone.now() - timedelta(days=15))
    response = page.get(f"/torrents/{torrent.pk}/download/")
    assert response.status_code == 403
    assert RATIO_REASON in response.content.decode()
    member_set(user, uploaded=3 * GIB)
    assert page.get(f"/torrents/{torrent.pk}/download/").status_code == 200


def test_the_torrent_file_is_refused_to_a_member_whose_watch_ended(api_client, user):
    uploader = UserFactory()
    torrent, snatched = TorrentFactory(uploader=uploader), TorrentFactory()
    now = timezone.now()
    Snatch.objects.create(user=user, torrent=snatched, first_announce=now, last_announce=now, completed_at=now, times_completed=1)
    Snatch.objects.create(user=user, torrent=torrent, first_announce=now, last_announce=now, left=500)  # started, not completed
    assert _download(api_client, user, torrent).status_code == 200
    member_set(user, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=now - timedelta(days=15))
    response = _download(api_client, user, torrent)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "DOWNLOAD_SUSPENDED"
    assert response.json()["error"]["message"] == RATIO_REASON  # the announce's words
    assert _download(api_client, user, snatched).status_code == 200  # completed it: may fetch it to seed
    member_set(uploader, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=now - timedelta(days=15))
    assert _download(api_client, uploader, torrent).status_code == 200  # the uploader seeds their own torrent
    member_set(user, uploaded=3 * GIB)
    assert _download(api_client, user, torrent).status_code == 200


# --- 6. hit-and-run warnings -----------------------------------------------------------------------------------


def warn(user: Any, *, expires_in: timedelta = timedelta(days=30), cleared: bool = False) -> None:
    now = timezone.now()
    HnrWarning.objects.create(
        user=user, torrent_name="x", created_at=now - timedelta(days=1), expires_at=now + expires_in, cleared_at=now if cleared else None
    )


# (active, expired, cleared, refused)
WARNINGS = [(3, 0, 0, True), (4, 0, 0, True), (2, 0, 0, False), (2, 1, 0, False), (2, 0, 1, False), (2, 2, 2, False)]


@pytest.mark.parametrize(("active", "expired", "cleared", "refuse"), WARNINGS)
def test_active_hit_and_run_warnings_take_the_download_rights(client, user, active, expired, cleared, refuse):
    seeding = TorrentFactory()
    ok(ann(client, user, seeding, peer_id(1), left=0, event="started"))
    for _ in range(active):
        warn(user)
    for _ in range(expired):
        warn(user, expires_in=-timedelta(minutes=1))
    for _ in range(cleared):
        warn(user, cleared=True)
    body = ann(client, user, TorrentFactory(), peer_id(2), event="started")
    if refuse:
        assert refused(body) == (
            f"Download rights suspended: you have {active} active hit-and-run warnings (the limit is 3); "
            "seed your snatches or clear a warning in the bonus store (seeding is always allowed)"
        )
        assert refused(ann(client, user, seeding, peer_id(1), left=10)) == refused(body)  # a seeder turning to leeching
    else:
        ok(body)
    ok(ann(client, user, seeding, peer_id(1), left=0, uploaded=5))  # seeding always goes on
    ok(ann(client, user, TorrentFactory(), peer_id(3), left=0, event="started"))


def test_max_warnings_zero_never_refuses(client, user):
    policy_set(hnr_max_warnings=0)
    for _ in range(5):
        warn(user)
    ok(ann(client, user, TorrentFactory(), peer_id(1), event="started"))


# --- 7. freeleech: site events, tokens, personal freeleech ----------------------------------------------------

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# (events as (kind, starts, ends) relative to now, credited download, credited upload) for 1000 down and 500 up
EVENTS = {
    "none": ([], 1000, 500),
    "freeleech now": ([("freeleech", -HOUR, HOUR)], 0, 500),
    "double upload now": ([("double_upload", -HOUR, HOUR)], 1000, 1000),
    "both now": ([("freeleech", -HOUR, HOUR), ("double_upload", -DAY, DAY)], 0, 1000),
    "freeleech over": ([("freeleech", -2 * HOUR, -HOUR)], 1000, 500),
    "freeleech tomorrow": ([("freeleech", DAY, 2 * DAY)], 1000, 500),
    "double upload over": ([("double_upload", -2 * DAY, -DAY)], 1000, 500),
    "double upload tomorrow": ([("double_upload", DAY, 2 * DAY)], 1000, 500),
}


@pytest.mark.parametrize("case", list(EVENTS))
def test_site_events_change_the_credit_within_their_window(client, user, case):
    events, down, up = EVENTS[case]
    torrent = TorrentFactory()
    ok(ann(client, user, torrent, peer_id(1), event="started", left=5000))  # the snapshot in use before the events
    now = timezone.now()
    for kind, starts, ends in events:
        SiteEvent.objects.create(kind=kind, starts_at=now + starts, ends_at=now + ends)
    ok(ann(client, user, torrent, peer_id(1), uploaded=500, downloaded=1000, left=4000))
    member = User.objects.get(pk=user.pk)
    assert (member.downloaded, member.uploaded) == (down, up)
    snatch = Snatch.objects.get(user=user, torrent=torrent)
    assert (snatch.downloaded, snatch.uploaded) == (1000, 500)  # the real traffic


def test_a_site_freeleech_over_gold_and_silver(client, user):
    gold, silver = TorrentFactory(freeleech="gold"), TorrentFactory(freeleech="silver")
    for n, torrent in enumerate((gold, silver)):
        ok(ann(client, user, torrent, peer_id(n), event="started", left=5000))
        ok(ann(client, user, torrent, peer_id(n), downloaded=1000, left=4000))
    assert User.objects.get(pk=user.pk).downloaded == 500  # silver counts half
    now = timezone.now()
    SiteEvent.objects.create(kind="freeleech", starts_at=now - HOUR, ends_at=now + HOUR)
    ok(ann(client, user, silver, peer_id(1), downloaded=2000, left=3000))
    assert User.objects.get(pk=user.pk).downloaded == 500


@pytest.mark.parametrize(("expires_in", "counted"), [(HOUR, False), (-timedelta(minutes=1), True)], ids=["running", "expired"])
def test_a_freeleech_token_uncounts_the_members_download_on_that_torrent(client, user, expires_in, counted):
    torrent, elsewhere = TorrentFactory(), TorrentFactory()
    other = UserFactory()
    for who, n in ((user, 1), (other, 2)):
        ok(ann(client, who, torrent, peer_id(n), event="started", left=5000))
    ok(ann(client, user, elsewhere, peer_id(3), event="started", left=5000))
    now = timezone.now()
    TokenUse.objects.create(user=user, torrent=torrent, created_at=now - DAY, expires_at=now + expires_in)
    for who, n in ((user, 1), (other, 2)):
        ok(ann(client, who, torrent, peer_id(n), uploaded=300, downloaded=1000, left=4000))
    ok(ann(client, user, elsewhere, peer_id(3), downloaded=100, left=4900))
    member = User.objects.get(pk=user.pk)
    assert (member.downloaded, member.uploaded) == ((1000 if counted else 0) + 100, 300)
    assert User.objects.get(pk=other.pk).downloaded == 1000  # the token is the member's own
    assert Snatch.objects.get(user=user, torrent=torrent).downloaded == 1000


@pytest.mark.parametrize(("until", "counted"), [(DAY, False), (-HOUR, True)], ids=["running", "over"])
def test_personal_freeleech_uncounts_every_download(client, user, until, counted):
    torrents = [TorrentFactory(), TorrentFactory(freeleech="silver")]
    for n, torrent in enumerate(torrents):
        ok(ann(client, user, torrent, peer_id(n), event="started", left=5000))
    member_set(user, freeleech_until=timezone.now() + until)
    for n, torrent in enumerate(torrents):
        ok(ann(client, user, torrent, peer_id(n), uploaded=10, downloaded=1000, left=4000))
    member = User.objects.get(pk=user.pk)
    assert (member.downloaded, member.uploaded) == ((1500 if counted else 0), 20)
    assert [Snatch.objects.get(user=user, torrent=t).downloaded for t in torrents] == [1000, 1000]


# --- 8. the hit-and-run requirement, frozen at completion -----------------------------------------------------


def complete(client: Any, user: Any, torrent: Any, pid: bytes) -> Snatch:
    """`user` downloads the whole of `torrent` with `pid`; their snatch afterwards."""
    ok(ann(client, user, torrent, pid, event="started", left=torrent.size))
    ok(ann(client, user, torrent, pid, downloaded=torrent.size, left=0, event="completed"))
    return Snatch.objects.get(user=user, torrent=torrent)


def assert_due_in(snatch: Snatch, delta: timedelta) -> None:
    assert snatch.hnr_due is not None and snatch.completed_at is not None
    assert abs(snatch.hnr_due - (snatch.completed_at + delta)) < timedelta(seconds=5)
    assert abs(snatch.hnr_due - (timezone.now() + delta)) < timedelta(minutes=1)


def test_a_first_completion_freezes_the_requirement(client, user):
    torrent = TorrentFactory(size=200 * MIB)
    snatch = complete(client, user, torrent, peer_id(1))
    assert (snatch.hnr_seed, snatch.hnr_ratio_pct, snatch.hnr_state, snatch.times_completed) == (72 * 3600, 100, "pending", 1)
    assert_due_in(snatch, timedelta(days=14))
    frozen = (snatch.hnr_seed, snatch.hnr_ratio_pct, snatch.hnr_due, snatch.hnr_state)
    policy_set(hnr_seed_hours=1, hnr_within_days=2, hnr_ratio="0.50")
    # The member seeds on, stops, downloads it again and completes a second time: the requirement stays as frozen.
    ok(ann(client, user, torrent, peer_id(1), downloaded=torrent.size, uploaded=MIB, left=0))
    ok(ann(client, user, torrent, peer_id(1), downloaded=torrent.size, uploaded=MIB, left=0, event="stopped"))
    again = complete(client, user, torrent, peer_id(2))
    assert again.times_completed == 2
    assert (again.hnr_seed, again.hnr_ratio_pct, again.hnr_due, again.hnr_state) == frozen
    # Another member's first completion takes the new terms.
    other = complete(client, UserFactory(), torrent, peer_id(3))
    assert (other.hnr_seed, other.hnr_ratio_pct, other.hnr_state) == (3600, 50, "pending")
    assert_due_in(other, timedelta(days=2))


# (the torrent's size, its freeleech, the completer is its uploader, a site freeleech now, a requirement?)
HNR_EXEMPT = {
    "200 MiB": (200 * MIB, "none", False, False, True),
    "exactly 100 MiB": (100 * MIB, "none", False, False, True),
    "silver": (200 * MIB, "silver", False, False, True),
    "own upload": (200 * MIB, "none", True, False, False),
    "under 100 MiB": (100 * MIB - 1, "none", False, False, False),
    "gold": (200 * MIB, "gold", False, False, False),
    "site freeleech": (200 * MIB, "none", False, True, False),
}


@pytest.mark.parametrize("case", list(HNR_EXEMPT))
def test_exempt_completions_get_no_requirement(client, user, case):
    size, freeleech, own, site_free, required = HNR_EXEMPT[case]
    torrent = TorrentFactory(size=size, freeleech=freeleech, **({"uploader": user} if own else {}))
    if site_free:
        now = timezone.now()
        SiteEvent.objects.create(kind="freeleech", starts_at=now - HOUR, ends_at=now + HOUR)
    snatch = complete(client, user, torrent, peer_id(1))
    assert snatch.times_completed == 1 and snatch.completed_at is not None
    if required:
        assert (snatch.hnr_seed, snatch.hnr_ratio_pct, snatch.hnr_state) == (72 * 3600, 100, "pending")
    else:
        assert (snatch.hnr_seed, snatch.hnr_ratio_pct, snatch.hnr_due, snatch.hnr_state) == (None, None, None, "")


def test_no_requirement_while_the_rule_is_off(client, user):
    policy_set(hnr_seed_hours=0)
    snatch = complete(client, user, TorrentFactory(size=200 * MIB), peer_id(1))
    assert (snatch.hnr_seed, snatch.hnr_state) == (None, "")


def test_a_download_that_is_not_completed_has_no_requirement(client, user):
    torrent = TorrentFactory(size=200 * MIB)
    ok(ann(client, user, torrent, peer_id(1), event="started", left=torrent.size))
    ok(ann(client, user, torrent, peer_id(1), downloaded=MIB, left=torrent.size - MIB))
    snatch = Snatch.objects.get(user=user, torrent=torrent)
    assert (snatch.hnr_seed, snatch.hnr_state, snatch.completed_at) == (None, "", None)


# --- 9. races for the last slot (PostgreSQL) -------------------------------------------------------------------


@pytest.fixture
def postgres_only() -> None:
    if not fast_path_active():
        pytest.skip("the gate's races need PostgreSQL (SQLite serializes every writer)")


Timings = list[tuple[float, float]]


def timed_statements(monkeypatch: pytest.MonkeyPatch) -> Timings:
    """Record when each announce statement (or ASGI batch) ran, on either front, to show the announces did overlap."""
    import tracker.announce.asgi as asgi
    import tracker.swarm.announce as portable

    spans: Timings = []
    statement, answer = portable.announce_statement, asgi._Batches._answer

    def sync_timed(params: dict[str, Any]) -> Any:
        start = time.monotonic()
        try:
            return statement(params)
        finally:
            spans.append((start, time.monotonic()))

    async def async_timed(self: Any, batch: Any) -> Any:
        start = time.monotonic()
        try:
            return await answer(self, batch)
        finally:
            spans.append((start, time.monotonic()))

    monkeypatch.setattr(portable, "announce_statement", sync_timed)
    monkeypatch.setattr(asgi._Batches, "_answer", async_timed)
    return spans


def overlapped(spans: Timings) -> bool:
    """Did two of these statements run at the same time?"""
    ordered = sorted(spans)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ordered))


Call = tuple[Any, Any, bytes, dict[str, Any]]  # (member, torrent, peer_id, announce parameters)


def asgi_together(client: AsgiClient, calls: list[Call]) -> list[dict]:
    """These announces as concurrent requests to the ASGI application (one worker)."""

    async def together() -> list[Any]:
        return list(
            await asyncio.gather(
                *(client.request("GET", f"/announce/{u.passkey}?{announce_qs(t.info_hash, pid, **kw)}") for u, t, pid, kw in calls)
            )
        )

    return [reply(r) for r in client.run(together())]


def concurrently(client: Any, calls: list[Call], *, across_workers: bool = False) -> list[dict]:
    """Send these announces at once: threads on the WSGI views, or concurrent requests to the ASGI application.

    One ASGI worker never runs two announces of a member's snatch (user, torrent) at once (its batcher holds
    the second back), so `across_workers` races the first half of the calls on the ASGI worker against the
    rest through the WSGI views on threads, as two workers of one site would.
    """
    if not isinstance(client, AsgiClient):
        return released_together(len(calls), lambda i: ann(Client(), calls[i][0], calls[i][1], calls[i][2], **calls[i][3]))
    if not across_workers:
        return asgi_together(client, calls)
    half = len(calls) // 2

    def run(i: int) -> Any:
        if i == 0:
            return asgi_together(client, calls[:half])
        u, t, pid, kw = calls[half + i - 1]
        return [ann(Client(), u, t, pid, **kw)]

    return [body for bodies in released_together(1 + len(calls) - half, run) for body in bodies]


ROUNDS = 20


@pytest.mark.django_db(transaction=True)
def test_two_announces_racing_for_the_last_leech_slot(postgres_only, client, monkeypatch):
    policy_set(leech_slots_max=1)
    a, b = TorrentFactory(), TorrentFactory()
    spans = timed_statements(monkeypatch)
    raced = 0
    for round_ in range(ROUNDS):
        member = UserFactory()
        spans.clear()
        pids = peer_id(10 * round_ + 1), peer_id(10 * round_ + 2)  # a peer_id is one member's in a swarm
        bodies = concurrently(client, [(member, a, pids[0], {"event": "started"}), (member, b, pids[1], {"event": "started"})])
        reasons = sorted(body.get(b"failure reason", b"").decode() for body in bodies)
        assert reasons == ["", SLOTS_REASON], f"round {round_}: {reasons}"
        assert Peer.objects.filter(user=member).count() == 1
        accepted = a if b"failure reason" not in bodies[0] else b
        assert Peer.objects.get(user=member).torrent_id == accepted.pk
        raced += overlapped(spans)
    assert raced > ROUNDS // 4, f"only {raced} of {ROUNDS} rounds ran their statements at once"
    for torrent in (a, b):
        torrent.refresh_from_db()
        assert torrent.leechers == Peer.objects.filter(torrent=torrent).count()
    assert a.leechers + b.leechers == ROUNDS


@pytest.mark.django_db(transaction=True)
def test_four_new_peers_at_once_on_a_limit_of_three(postgres_only, client, monkeypatch):
    torrent = TorrentFactory()
    spans = timed_statements(monkeypatch)
    raced = 0
    for round_ in range(ROUNDS):
        member = UserFactory()
        spans.clear()
        left = 0 if round_ % 2 else 1000  # seeders and leechers alike
        pids = [peer_id(10 * round_ + n) for n in range(4)]
        bodies = concurrently(client, [(member, torrent, pid, {"event": "started", "left": left}) for pid in pids], across_workers=True)
        reasons = sorted(body.get(b"failure reason", b"").decode() for body in bodies)
        assert reasons == ["", "", "", PEERS_REASON], f"round {round_}: {reasons}"
        accepted = {pid for pid, body in zip(pids, bodies, strict=True) if b"failure reason" not in body}
        assert peers_of(member, torrent) == accepted
        raced += overlapped(spans)
    assert raced > ROUNDS // 4, f"only {raced} of {ROUNDS} rounds ran their statements at once"
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers) == (3 * (ROUNDS // 2), 3 * (ROUNDS // 2))
    assert torrent.seeders + torrent.leechers == Peer.objects.filter(torrent=torrent).count()


@pytest.mark.django_db(transaction=True)
def test_gated_announces_in_batches_are_still_judged_exactly(postgres_only, asgi_client, monkeypatch):
    """Under load the ASGI front sends announces in batches; the batch's gate judges the ones that need it, exactly."""
    import tracker.announce.asgi as asgi

    batched: set[tuple[int, bytes]] = set()  # (member, peer_id) of every announce that went in a batch
    args = asgi.batch_args

    def recorded(batch: list[dict[str, Any]]) -> list[Any]:
        batched.update((fields["u"], fields["pid"]) for fields in batch)
        return args(batch)

    monkeypatch.setattr(asgi, "batch_args", recorded)
    torrents = [TorrentFactory() for _ in range(8)]
    crowd = [UserFactory() for _ in range(40)]
    rng = random.Random(7)

    async def burst(calls: list[tuple[Any, Any, bytes, dict[str, Any]]]) -> list[dict]:
        responses = await asyncio.gather(
            *(
                asgi_client.request("GET", f"/announce/{u.passkey}?{announce_qs(t.info_hash, pid, **kw)}", remote=f"10.2.0.{n % 250}")
                for n, (u, t, pid, kw) in enumerate(calls)
            )
        )
        return [reply(r) for r in responses]

    crowd_calls = [(u, torrents[n % 8], peer_id(100 + n), {"event": "started"}) for n, u in enumerate(crowd)]
    assert all(b"failure reason" not in body for body in asgi_client.run(burst(crowd_calls)))
    batches = asgi_client.run(application_swarm()).batches
    sent_before = batches.sent[0]
    gated: set[tuple[int, bytes]] = set()
    for round_ in range(6):
        base = 1000 * (round_ + 1)  # peer_ids of this round's members
        slotted, crowded, fresh = UserFactory(), UserFactory(), UserFactory()
        member_set(slotted, downloaded=10 * GIB, uploaded=3 * GIB)  # one leech slot
        for n in range(3):
            ok(ann(asgi_client, crowded, torrents[0], peer_id(base + 10 + n), event="started"))
        calls: list[Call] = [(u, t, pid, {"uploaded": 10 * (round_ + 1), "left": 900}) for u, t, pid, _ in crowd_calls]  # live peers
        calls += [(slotted, torrents[n], peer_id(base + 20 + n), {"event": "started"}) for n in range(6)]  # one slot for six
        calls += [(crowded, torrents[0], peer_id(base + 30 + n), {"event": "started"}) for n in range(3)]  # a 4th peer, thrice
        calls += [(fresh, torrents[1], peer_id(base + 40 + n), {"event": "started"}) for n in range(5)]  # five for three places
        gated.update((u.pk, pid) for u, _, pid, _ in calls[len(crowd) :])
        order = list(range(len(calls)))
        rng.shuffle(order)
        bodies = dict(zip(order, asgi_client.run(burst([calls[i] for i in order])), strict=True))
        assert reasons_of(bodies, 0, len(crowd)) == [""] * len(crowd)
        assert reasons_of(bodies, len(crowd), 6) == [""] + [SLOTS_REASON] * 5, f"round {round_}"
        assert reasons_of(bodies, len(crowd) + 6, 3) == [PEERS_REASON] * 3, f"round {round_}"
        assert reasons_of(bodies, len(crowd) + 9, 5) == [""] * 3 + [PEERS_REASON] * 2, f"round {round_}"
        assert Peer.objects.filter(user=slotted).count() == 1
        assert len(peers_of(crowded, torrents[0])) == 3
        assert len(peers_of(fresh, torrents[1])) == 3
    assert batches.sent[0] > sent_before  # batches formed
    assert len(gated & batched) > 10, len(gated & batched)  # and gated announces went in them
    for torrent in torrents:
        torrent.refresh_from_db()
        assert torrent.leechers == Peer.objects.filter(torrent=torrent, is_seeder=False).count()
    assert not batches.busy and not batches.waiting


@pytest.mark.django_db
def test_one_batch_judges_each_members_announces_in_turn(postgres_only):
    """PG_BATCH itself: a member's announces in one batch share their last slot; each member's limits are their own."""
    from psycopg import RawCursor

    from tracker.policy.selectors import announce_policy
    from tracker.swarm.announce import announce_params
    from tracker.swarm.batch import batch_args, batch_results, batch_sql

    torrents = [TorrentFactory() for _ in range(4)]
    slotted, suspended, warned, crowded, free = (UserFactory() for _ in range(5))
    member_set(slotted, downloaded=10 * GIB, uploaded=3 * GIB)  # one slot
    member_set(suspended, downloaded=10 * GIB, uploaded=GIB, ratio_watch_since=timezone.now() - timedelta(days=15))
    for _ in range(3):
        warn(warned)
    wsgi = Client()
    for n in range(3):
        ok(ann(wsgi, crowded, torrents[0], peer_id(90 + n), event="started"))
    policy = announce_policy()

    def fields(user: Any, torrent: Any, n: int, left: int = 1000) -> dict[str, Any]:
        return announce_params(
            user_id=user.pk, torrent_id=torrent.pk, freeleech="none", peer_id=peer_id(n), ip="10.0.0.1", port=6881, uploaded=0,
            downloaded=0, left=left, event="started", is_seeder=left == 0, numwant=50, policy=policy, torrent_size=torrent.size,
        )  # fmt: skip

    batch = [
        fields(slotted, torrents[1], 1),
        fields(free, torrents[1], 2),
        fields(slotted, torrents[2], 3),
        fields(suspended, torrents[1], 4),
        fields(slotted, torrents[0], 5, left=0),  # seeding takes no slot
        fields(warned, torrents[2], 6),
        fields(crowded, torrents[0], 7, left=0),  # a 4th peer, seeding or not
        fields(slotted, torrents[3], 8),
        fields(suspended, torrents[2], 9, left=0),
        fields(free, torrents[2], 10),
    ]
    connection.ensure_connection()
    with RawCursor(connection.connection) as cursor:
        cursor.execute(batch_sql(batch), batch_args(batch))
        results = batch_results(cursor.fetchall(), len(batch))
    assert [(r.accepted, r.refused) for r in results] == [
        (True, ""),
        (True, ""),
        (False, "slots 1 1"),
        (False, f"ratio {GIB} {10 * GIB} 20"),
        (True, ""),
        (False, "warnings 3 3"),
        (False, "peers 3 3"),
        (False, "slots 1 1"),
        (True, ""),
        (True, ""),
    ]
    written = {bytes(p) for p in Peer.objects.filter(peer_id__in=[f["pid"] for f in batch]).values_list("peer_id", flat=True)}
    assert written == {peer_id(n) for n in (1, 2, 5, 9, 10)}


def reasons_of(bodies: dict[int, dict], first: int, count: int) -> list[str]:
    """The failure reasons ("" for accepted) of the replies to calls first .. first + count - 1, sorted."""
    return sorted(bodies[i].get(b"failure reason", b"").decode() for i in range(first, first + count))


async def application_swarm() -> Any:
    from torrentpier.asgi import application

    return await application._connections()


# --- 10. round trips -------------------------------------------------------------------------------------------


def test_a_live_peers_announce_is_still_one_statement_on_postgresql(user, django_assert_max_num_queries):
    """The rules ride in the cached lookups and the one statement: no extra round trip on the WSGI front."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs the portable path: several statements, none a round trip")
    wsgi = Client()
    torrent = TorrentFactory()
    ok(ann(wsgi, user, torrent, peer_id(1), event="started", ua="qBittorrent/4.6.5"))
    ok(ann(wsgi, UserFactory(), torrent, peer_id(2), event="started"))
    with django_assert_max_num_queries(1):
        ok(ann(wsgi, user, torrent, peer_id(1), uploaded=10, downloaded=10, ua="qBittorrent/4.6.5"))
    with django_assert_max_num_queries(1):
        ok(ann(wsgi, user, torrent, peer_id(1), uploaded=20, downloaded=1000, left=0, ua="qBittorrent/4.6.5"))
    with django_assert_max_num_queries(1):  # a gated announce too: the gate is inside the statement
        ok(ann(wsgi, user, torrent, peer_id(3), event="started", ua="qBittorrent/4.6.5"))
    with django_assert_max_num_queries(1):
        ok(ann(wsgi, user, torrent, peer_id(1), uploaded=30, left=0, event="stopped", ua="qBittorrent/4.6.5"))


def _raw_connection(**options: Any) -> Any:
    """A psycopg connection of its own to the test database (the announce statement's $n placeholders need a raw cursor)."""
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"] or None, password=db["PASSWORD"] or None,
        dbname=db["NAME"], **options,
    )  # fmt: skip


def _waiting_on_a_lock(pid: int) -> bool:
    with _raw_connection(autocommit=True) as probe:
        row = probe.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return row is not None and row[0] == "Lock"


def _new_peer_statement(member: Any, torrent: Any, n: int) -> tuple[str, list[Any]]:
    """The single statement (tracker.swarm.sql) of a new leecher `n` of `member` on `torrent`, under the site's rules."""
    from tracker.policy.selectors import announce_policy
    from tracker.swarm.announce import announce_params, pg_statement

    params = announce_params(
        user_id=member.pk, torrent_id=torrent.pk, freeleech=torrent.freeleech, peer_id=peer_id(n), ip=f"10.9.0.{n}",
        port=7000 + n, uploaded=0, downloaded=0, left=100, event="started", is_seeder=False, numwant=50,
        policy=announce_policy(), torrent_size=torrent.size,
    )  # fmt: skip
    return pg_statement(params)


@pytest.mark.django_db(transaction=True)
def test_a_cleared_new_peer_overtaken_by_a_racing_one_fails_and_is_judged_again_under_the_lock(postgres_only, client):
    """The gate clears a new peer on its statement's snapshot; a racing new peer of the member on the torrent that commits
    first moves the snatch's revision on, so the later statement fails, writing nothing, and is judged again under the lock."""
    import psycopg

    policy_set(peers_per_torrent=1)
    member, torrent = UserFactory(), TorrentFactory()
    first, second = _raw_connection(), _raw_connection()
    try:
        with psycopg.RawCursor(first) as cursor:
            cursor.execute(*_new_peer_statement(member, torrent, 1))  # in its transaction, not committed yet
            assert cursor.fetchone()[-1] == ""  # cleared: not refused
        outcome: list[BaseException | None] = []

        def race() -> None:
            try:
                with psycopg.RawCursor(second) as cursor:
                    cursor.execute(*_new_peer_statement(member, torrent, 2))  # its snapshot does not see the first peer
                outcome.append(None)
            except BaseException as exc:  # surfaced below
                outcome.append(exc)

        thread = threading.Thread(target=race)
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(second.info.backend_pid):  # at the snatch the first one inserted
            assert time.monotonic() < deadline and thread.is_alive(), outcome
            time.sleep(0.02)
        first.commit()
        thread.join(timeout=10)
        assert len(outcome) == 1 and isinstance(outcome[0], psycopg.errors.SerializationFailure), outcome
        second.rollback()
    finally:
        first.close()
        second.close()
    assert peers_of(member, torrent) == {peer_id(1)}
    assert Snatch.objects.get(user=member, torrent=torrent).revision == 0  # inserted once, never updated
    # Sent again, it is judged under the lock, which counts the first peer.
    assert refused(ann(client, member, torrent, peer_id(2), event="started")) == (
        "Peer limit reached: you have 1 clients on this torrent, the limit is 1"
    )


@pytest.mark.django_db(transaction=True)
def test_a_cleared_announce_takes_no_lock_and_the_gate_waits_for_the_members(postgres_only, client):
    """A new peer the snapshot clears takes no lock: it passes while another session holds the member's advisory lock;
    one it does not clear (a member with a warning) asks tracker_gate, which waits for that lock."""
    member, a, b = UserFactory(), TorrentFactory(), TorrentFactory()
    holder = _raw_connection(autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(1953653102, %s)", [member.pk % 2147483647])
        ok(ann(client, member, a, peer_id(1), event="started"))
        now = timezone.now()
        HnrWarning.objects.create(user=member, torrent_name="x", created_at=now, expires_at=now + timedelta(days=7))
        # Not cleared (a warning): tracker_gate waits for the lock until the front's lock_timeout, and nothing is written.
        assert refused(ann(client, member, b, peer_id(2), event="started")) == TRACKER_ERROR
        assert not peers_of(member, b)
        holder.execute("SELECT pg_advisory_unlock(1953653102, %s)", [member.pk % 2147483647])
    finally:
        holder.close()
    ok(ann(client, member, b, peer_id(2), event="started"))  # the lock free, one warning of three refuses nothing
    assert peers_of(member, b) == {peer_id(2)}
