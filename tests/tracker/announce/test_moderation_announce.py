"""The tracker honours moderation: a torrent that is not approved is announced and scraped by its uploader and moderators only.

Table-driven over who asks (the uploader, another member, a moderator, an
admin) and the torrent's status (approved, or one of the states that wait for a
moderator), through both fronts.
"""

from typing import Any

import pytest
from django.core.cache import cache

from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id, reply, scrape_qs
from tracker.catalogue.services import torrent_set_status
from tracker.models import AccessLevel, Peer, TorrentStatus
from tracker.swarm.lookups import AnnounceTorrent, torrent_cache_key

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]

NOT_APPROVED = "Torrent not approved yet"
WAITING = [TorrentStatus.NOT_APPROVED, TorrentStatus.PREMODERATION, TorrentStatus.CHECKING]
# (who asks, the torrent's status, may they announce and scrape it?)
TABLE = [
    *[(who, TorrentStatus.APPROVED, True) for who in ("uploader", "member", "moderator", "admin")],
    *[(who, status, who != "member") for status in WAITING for who in ("uploader", "member", "moderator", "admin")],
]


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    return {
        "uploader": UserFactory(),
        "member": UserFactory(),
        "moderator": UserFactory(role="moderator"),
        "admin": UserFactory(role="admin"),
    }


@pytest.mark.parametrize(("who", "status", "allowed"), TABLE)
def test_announce_on_a_torrent_waiting_for_moderation(client, people, who, status, allowed):
    seeder = UserFactory(role="moderator")  # someone already in the swarm, so an accepted announce gets a peer
    torrent = TorrentFactory(uploader=people["uploader"], status=status)
    assert b"failure reason" not in announce(client, seeder.passkey, torrent.info_hash, peer_id(1), left=0, remote="10.0.0.1")
    body = announce(client, people[who].passkey, torrent.info_hash, peer_id(2), left=1000, remote="10.0.0.2", event="started")
    if allowed:
        assert b"failure reason" not in body
        assert body[b"peers"] == bytes([10, 0, 0, 1]) + (6881).to_bytes(2, "big")
        assert Peer.objects.filter(torrent=torrent, user=people[who]).exists()
    else:
        assert body[b"failure reason"].decode() == NOT_APPROVED
        assert b"peers" not in body
        assert not Peer.objects.filter(torrent=torrent, user=people[who]).exists()


@pytest.mark.parametrize(("who", "status", "allowed"), TABLE)
def test_scrape_of_a_torrent_waiting_for_moderation(client, people, who, status, allowed):
    torrent = TorrentFactory(uploader=people["uploader"], status=status)
    approved = TorrentFactory()
    body = reply(client.get(f"/scrape/{people[who].passkey}?{scrape_qs(torrent.info_hash, approved.info_hash)}"))
    assert bytes.fromhex(approved.info_hash) in body[b"files"]
    assert (bytes.fromhex(torrent.info_hash) in body[b"files"]) is allowed
    # TorrentPier's alias answers the same.
    body = reply(client.get(f"/bt/scrape.php?uk={people[who].passkey}&{scrape_qs(torrent.info_hash)}"))
    assert (bytes.fromhex(torrent.info_hash) in body[b"files"]) is allowed


@pytest.mark.parametrize(("who", "allowed"), [("member", False), ("uploader", False), ("moderator", True), ("admin", True)])
def test_scrape_leaves_out_forums_above_the_members_view_level(client, people, who, allowed):
    hidden = TorrentFactory(uploader=people["uploader"], forum=ForumFactory(view_level=AccessLevel.MODERATOR))
    body = reply(client.get(f"/scrape/{people[who].passkey}?{scrape_qs(hidden.info_hash)}"))
    assert (bytes.fromhex(hidden.info_hash) in body[b"files"]) is allowed


def test_a_status_change_takes_effect_from_the_next_announce(client, people):
    torrent = TorrentFactory(uploader=people["uploader"])
    member, moderator = people["member"], people["moderator"]
    for _ in range(2):  # the second from the ASGI worker's memory, where it has one
        assert b"failure reason" not in announce(client, member.passkey, torrent.info_hash, peer_id(1))
        assert b"failure reason" not in announce(client, people["uploader"].passkey, torrent.info_hash, peer_id(2))
    torrent_set_status(torrent=torrent, status=TorrentStatus.NEEDS_EDIT, moderator=moderator)
    assert announce(client, member.passkey, torrent.info_hash, peer_id(1))[b"failure reason"].decode() == NOT_APPROVED
    assert b"failure reason" not in announce(client, people["uploader"].passkey, torrent.info_hash, peer_id(2))
    torrent_set_status(torrent=torrent, status=TorrentStatus.APPROVED, moderator=moderator)
    assert b"failure reason" not in announce(client, member.passkey, torrent.info_hash, peer_id(1))


class _PickledBeforeTheDeploy:
    """Pickles as the five-field AnnounceTorrent that was cached before the tuple grew (same class, fewer fields)."""

    def __init__(self, *fields: Any) -> None:
        self.fields = fields

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return AnnounceTorrent, self.fields


def test_a_lookup_cached_before_the_deploy_neither_crashes_nor_lets_a_member_in(client, people):
    torrent = TorrentFactory(uploader=people["uploader"], status=TorrentStatus.NOT_APPROVED)
    # What the old code cached under the old key: (id, is_frozen, view_level, download_level, freeleech).
    legacy_key = f"torrent:{torrent.info_hash}"
    cache.set(legacy_key, _PickledBeforeTheDeploy(torrent.pk, False, 0, 1, "none"), 300)
    assert torrent_cache_key(torrent.info_hash) != legacy_key
    body = announce(client, people["member"].passkey, torrent.info_hash, peer_id(1))
    assert body[b"failure reason"].decode() == NOT_APPROVED
    assert b"failure reason" not in announce(client, people["uploader"].passkey, torrent.info_hash, peer_id(2))


def test_a_status_change_forgets_the_cached_lookup_under_the_new_and_the_old_key(people):
    torrent = TorrentFactory(uploader=people["uploader"])
    keys = [torrent_cache_key(torrent.info_hash), f"torrent:{torrent.info_hash}"]  # the second: workers of the release before
    cache.set_many(dict.fromkeys(keys, 1), 300)
    torrent_set_status(torrent=torrent, status=TorrentStatus.NOT_APPROVED, moderator=people["moderator"])
    assert cache.get_many(keys) == {}
