"""GET /announce: every refusal is HTTP 200 text/plain with a bencoded `failure reason`, never a 500."""

import pytest
from fastbencode import bdecode

from accounts.services import user_passkey_reset, user_set_banned
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, announce_qs, peer_id, reply
from tracker.models import AccessLevel, Peer, TorrentStatus
from tracker.swarm.lookups import torrent_cache_invalidate

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]


@pytest.fixture
def torrent():
    return TorrentFactory()


def failure_of(response) -> str:
    body = reply(response)
    assert b"interval" in body
    return body[b"failure reason"].decode()


def test_it_answers_a_valid_announce(client, user, torrent):
    body = announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    assert b"failure reason" not in body
    assert body[b"incomplete"] == 1


def test_it_rejects_an_unknown_passkey(client, torrent):
    response = client.get(f"/announce/{'0' * 32}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Please LOG IN and RE-DOWNLOAD this torrent (passkey not found)"


@pytest.mark.parametrize("passkey", ["short", "Z" * 32, "0" * 33])
def test_it_rejects_a_malformed_passkey(client, torrent, passkey):
    response = client.get(f"/announce/{passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert "passkey not found" in failure_of(response)


def test_it_rejects_a_request_without_passkey(client, torrent):
    assert "passkey not found" in failure_of(client.get(f"/announce?{announce_qs(torrent.info_hash, peer_id(1))}"))


def test_it_rejects_a_banned_user(client, torrent):
    banned = UserFactory(is_banned=True)
    response = client.get(f"/announce/{banned.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Your account is banned"


def test_it_rejects_an_inactive_user(client, torrent):
    inactive = UserFactory(is_active=False)
    response = client.get(f"/announce/{inactive.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Your account is not active"


@pytest.mark.parametrize(
    ("info_hash", "message"),
    [(b"\x01" * 19, "Invalid info_hash"), (b"\x01" * 21, "Invalid info_hash")],
)
def test_it_rejects_a_wrong_length_info_hash(client, user, info_hash, message):
    response = client.get(f"/announce/{user.passkey}?{announce_qs(info_hash, peer_id(1))}")
    assert failure_of(response) == message


def test_it_rejects_missing_parameters(client, user, torrent):
    assert failure_of(client.get(f"/announce/{user.passkey}")) == "Invalid info_hash"
    qs = announce_qs(torrent.info_hash, b"short")
    assert failure_of(client.get(f"/announce/{user.passkey}?{qs}")) == "Invalid peer_id"
    qs = announce_qs(torrent.info_hash, peer_id(1), port=None)
    assert failure_of(client.get(f"/announce/{user.passkey}?{qs}")) == "Invalid port"
    qs = announce_qs(torrent.info_hash, peer_id(1), left=None)
    assert failure_of(client.get(f"/announce/{user.passkey}?{qs}")) == "Invalid left value"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"uploaded": -1}, "Invalid uploaded value"),
        ({"downloaded": "1e3"}, "Invalid downloaded value"),
        ({"left": "abc"}, "Invalid left value"),
        ({"uploaded": 2**64}, "Invalid uploaded value"),
        ({"event": "finished"}, "Invalid event"),
        ({"port": 0}, "Invalid port"),
        ({"port": 65536}, "Invalid port"),
        ({"port": -5}, "Invalid port"),
        # The site's blocked ports (tracker.policy: SitePolicy.blocked_ports; ports below 1024 by default).
        ({"port": 80}, "Port 80 is blocked on this tracker; set another listening port in your client"),
        ({"port": 6346}, "Port 6346 is blocked on this tracker; set another listening port in your client"),
    ],
)
def test_it_rejects_bad_numbers_and_events(client, user, torrent, params, message):
    qs = announce_qs(torrent.info_hash, peer_id(1), **params)
    assert failure_of(client.get(f"/announce/{user.passkey}?{qs}")) == message
    assert not Peer.objects.exists()


@pytest.mark.parametrize("port", [0, 80, 4662])
def test_a_stopped_announce_may_use_any_port(client, user, torrent, port):
    body = announce(client, user.passkey, torrent.info_hash, peer_id(1), event="stopped", port=port)
    assert b"failure reason" not in body


@pytest.mark.parametrize(
    "query",
    ["%", "info_hash=%zz&peer_id=%", "&&&==&", "info_hash=" + "%ff" * 20 + "&peer_id=" + "%00" * 20 + "&port=99999999999999999999",
     "\u00ff\u00fe=\u00fd", "info_hash=%C3%28" * 30],
)  # fmt: skip
def test_garbage_query_strings_get_a_failure_not_a_500(client, user, query):
    response = client.get(f"/announce/{user.passkey}", QUERY_STRING=query)
    assert failure_of(response)


def test_a_post_gets_a_failure(client, user, torrent):
    response = client.post(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Use GET"


def test_an_unregistered_torrent_is_refused(client, user):
    response = client.get(f"/announce/{user.passkey}?{announce_qs(b'\x07' * 20, peer_id(1))}")
    assert failure_of(response).startswith("Torrent not registered: download its .torrent from the site again;")


@pytest.mark.parametrize("status", [TorrentStatus.CLOSED, TorrentStatus.DUPLICATE, TorrentStatus.CONSUMED, TorrentStatus.CLOSED_COPYRIGHT])
def test_a_frozen_torrent_is_refused(client, user, status):
    torrent = TorrentFactory(status=status)
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Torrent frozen and can not be downloaded"


def test_the_forum_download_level_is_enforced(client, user, moderator):
    torrent = TorrentFactory(forum=ForumFactory(download_level=AccessLevel.MODERATOR))
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "You are not allowed to download torrents from this forum"
    assert b"failure reason" not in announce(client, moderator.passkey, torrent.info_hash, peer_id(2))


def test_another_users_peer_id_is_refused(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1))
    other = UserFactory()
    response = client.get(f"/announce/{other.passkey}?{announce_qs(torrent.info_hash, peer_id(1), uploaded=10**9)}")
    assert "in use by another user" in failure_of(response)
    assert Peer.objects.get().user_id == user.id


def test_a_passkey_reset_takes_effect_at_once(client, user, torrent):
    old = user.passkey
    announce(client, old, torrent.info_hash, peer_id(1))  # now cached
    new = user_passkey_reset(user=user)
    response = client.get(f"/announce/{old}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert "passkey not found" in failure_of(response)
    assert b"failure reason" not in announce(client, new, torrent.info_hash, peer_id(1))


def test_a_ban_takes_effect_at_once(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1))  # now cached
    user_set_banned(user=user, banned=True)
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Your account is banned"
    user_set_banned(user=user, banned=False)
    assert b"failure reason" not in announce(client, user.passkey, torrent.info_hash, peer_id(1))


def test_freezing_or_deleting_a_torrent_takes_effect_at_once_after_invalidation(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1))  # now cached
    torrent.status = TorrentStatus.CLOSED
    torrent.save()
    torrent_cache_invalidate(torrent)
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Torrent frozen and can not be downloaded"
    torrent_cache_invalidate(torrent)
    info_hash = torrent.info_hash
    torrent.delete()
    response = client.get(f"/announce/{user.passkey}?{announce_qs(info_hash, peer_id(1))}")
    reason = failure_of(response)
    assert reason.startswith("Torrent not registered: download its .torrent from the site again;") and "aria2" in reason


def test_the_ip_parameter_is_ignored_by_default(client, user, torrent):
    body = announce(client, user.passkey, torrent.info_hash, peer_id(1), ip="203.0.113.9", remote="10.0.0.5")
    assert Peer.objects.get().ip == "10.0.0.5"
    assert body[b"external ip"] == bytes([10, 0, 0, 5])
    assert b"ignored" in body[b"warning message"]


def test_the_ip_parameter_is_used_when_allowed(client, user, torrent, settings):
    settings.TRACKER_ALLOW_IP_PARAM = True
    announce(client, user.passkey, torrent.info_hash, peer_id(1), ip="203.0.113.9", remote="10.0.0.5")
    assert Peer.objects.get().ip == "203.0.113.9"
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(2), ip='nope')}")
    assert failure_of(response) == "Invalid ip parameter"


def test_the_client_address_comes_from_a_trusted_proxy(client, user, torrent, settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    qs = announce_qs(torrent.info_hash, peer_id(1))
    reply(client.get(f"/announce/{user.passkey}?{qs}", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"))
    assert Peer.objects.get().ip == "198.51.100.7"


def test_the_torrentpier_alias_takes_the_passkey_from_uk(client, user, torrent):
    qs = announce_qs(torrent.info_hash, peer_id(1))
    body = bdecode(client.get(f"/bt/announce.php?uk={user.passkey}&{qs}").content)
    assert body[b"incomplete"] == 1
    assert "passkey not found" in failure_of(client.get(f"/bt/announce.php?{qs}"))


def test_an_internal_error_is_a_bencoded_failure_not_a_500(client, user, torrent, monkeypatch):
    from tracker.announce import asgi, views

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(views, "peer_announce", broken)  # the Django view's swarm write
    monkeypatch.setattr(asgi, "_announce_pg", broken)  # the ASGI fast path's
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert failure_of(response) == "Tracker error, please try again later"


def test_a_garbage_numwant_falls_back_to_the_default(client, user, torrent):
    body = announce(client, user.passkey, torrent.info_hash, peer_id(1), numwant="lots")
    assert b"failure reason" not in body


def test_an_ipv4_mapped_address_is_stored_as_ipv4(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), remote="::ffff:192.0.2.4")
    assert Peer.objects.get().ip == "192.0.2.4"


def test_a_user_agent_with_a_nul_is_stored_without_it(client, user, torrent):
    # PostgreSQL refused the NUL and the announce failed with "Tracker error".
    qs = announce_qs(torrent.info_hash, peer_id(1))
    body = reply(client.get(f"/announce/{user.passkey}?{qs}", HTTP_USER_AGENT="qBittorrent\x00/4.6.5" + "x" * 400))
    assert b"failure reason" not in body
    assert Peer.objects.get().user_agent == ("qBittorrent/4.6.5" + "x" * 400)[:255]


def test_a_torrent_missing_its_counts_row_is_still_announced_to(client, user, torrent):
    # A bulk load that skipped Torrent.save leaves no counts row until recount_torrents.
    # The announce was refused as "peer_id in use" although its peer and snatch were written.
    from tracker.models import Snatch, TorrentStats
    from tracker.swarm.maintenance import torrent_counts_rebuild

    TorrentStats.objects.filter(pk=torrent.pk).delete()
    body = announce(client, user.passkey, torrent.info_hash, peer_id(1), left=10)
    assert b"failure reason" not in body
    assert (body[b"complete"], body[b"incomplete"]) == (0, 0)
    assert Peer.objects.filter(torrent=torrent).count() == 1 and Snatch.objects.filter(torrent=torrent).count() == 1
    assert torrent_counts_rebuild() == 1
    assert TorrentStats.objects.filter(pk=torrent.pk).values_list("seeders", "leechers").get() == (0, 1)
