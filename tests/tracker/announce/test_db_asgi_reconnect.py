"""The ASGI tracker front recovers from a database outage at its first announce (issue 11).

Its PostgreSQL pool is opened by the first announce on a loop; if that
attempt fails (the database is down), a later announce opens it again, one
attempt at a time, on the same TrackerASGI instance.
"""

import asyncio
from typing import Any

import asyncpg
import pytest

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.fronts import fast_path_active
from tests.tracker.announce.helpers import announce, announce_qs, peer_id, reply
from torrentpier.asgi import application
from tracker.announce import asgi as asgi_module
from tracker.announce.core import TRACKER_ERROR

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_fast_path() -> None:
    if not fast_path_active():
        pytest.skip("the async fast path and its pool run on PostgreSQL only")


def _down_at_first(monkeypatch: pytest.MonkeyPatch, *, outages: int = 1, delay: float = 0.0) -> list[str]:
    """Make the first `outages` pool openings meet a closed port; record every attempt."""
    attempts: list[str] = []
    real = asyncpg.create_pool

    def create_pool(**kwargs: Any) -> Any:
        if len(attempts) < outages:
            attempts.append("down")

            async def refused() -> Any:
                await asyncio.sleep(delay)
                return await real(**{**kwargs, "host": "127.0.0.1", "port": 1, "timeout": 2})

            return refused()
        attempts.append("up")
        return real(**kwargs)

    monkeypatch.setattr(asgi_module.asyncpg, "create_pool", create_pool)
    return attempts


def test_a_failed_first_pool_is_opened_again_by_a_later_announce(asgi_client, user, monkeypatch):
    attempts = _down_at_first(monkeypatch)
    torrent = TorrentFactory()
    first = announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1))
    assert first[b"failure reason"] == TRACKER_ERROR.encode()
    swarm = application._swarm
    assert swarm is not None and not swarm.is_open

    later = announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1))
    assert b"failure reason" not in later, later
    assert later[b"incomplete"] == 1
    assert attempts == ["down", "up"]
    assert application._swarm is swarm and swarm.is_open  # the same front and loop state, with a pool now


def test_announces_during_an_outage_share_one_attempt(asgi_client, user, monkeypatch):
    attempts = _down_at_first(monkeypatch, delay=0.2)
    torrent = TorrentFactory()
    members = [user] + [UserFactory() for _ in range(7)]  # a member may have 3 peers on a torrent

    async def together(n: int) -> list[Any]:
        return list(
            await asyncio.gather(
                *(
                    asgi_client.request("GET", f"/announce/{members[i].passkey}?" + announce_qs(torrent.info_hash, peer_id(i)))
                    for i in range(n)
                )
            )
        )

    failed = asgi_client.run(together(8))
    assert [reply(response)[b"failure reason"] for response in failed] == [TRACKER_ERROR.encode()] * 8
    assert attempts == ["down"]  # eight announces, one attempt

    recovered = asgi_client.run(together(8))
    assert all(b"failure reason" not in reply(response) for response in recovered)
    assert attempts == ["down", "up"]


def test_a_closed_pool_is_opened_again(asgi_client, user, monkeypatch):
    torrent = TorrentFactory()
    assert b"failure reason" not in announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1))
    swarm = application._swarm
    assert swarm is not None
    asgi_client.run(swarm.pool.close())
    assert not swarm.is_open

    body = announce(asgi_client, user.passkey, torrent.info_hash, peer_id(2))
    assert b"failure reason" not in body, body
    assert application._swarm is swarm and swarm.is_open
