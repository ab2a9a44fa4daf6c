"""Replies to twin announces carry the counts after both (PostgreSQL; issue 17).

One peer announcing twice at once (a dual-stack client over IPv4 and IPv6,
a hybrid torrent under both hashes, two fronts) runs two statements on the
same peer row: the second waits for the first's row lock, and its reply must
show the counts the first one committed, not those of the snapshot the
second statement started with. Here the first statement is held open in its
transaction until the second is seen waiting for the lock, then committed.
"""

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from tests.factories import TorrentFactory, UserFactory
from tests.threads import released_together
from tracker.catalogue.models import TorrentStats
from tracker.swarm.announce import announce_params, announce_statement
from tracker.swarm.batch import batch_args, batch_results, batch_sql
from tracker.swarm.sql import AnnounceResult

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and snapshots of concurrent statements: PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

PEER_ID = b"-qB4650-twin00000001"


def run_batch(params: dict[str, Any]) -> AnnounceResult:
    """The batch statement (tracker.swarm.batch), for one announce."""
    from psycopg import RawCursor

    connection.ensure_connection()
    with RawCursor(connection.connection) as cursor:
        cursor.execute(batch_sql([params]), batch_args([params]))
        return batch_results(cursor.fetchall(), 1)[0]


def twins(first: dict[str, Any], second: dict[str, Any], second_runs: Any = announce_statement) -> tuple[AnnounceResult, AnnounceResult]:
    """`first` runs and holds its transaction open until `second` (started meanwhile) waits for a lock; then it commits."""
    started = threading.Event()
    waiting_pid: list[int] = []

    def run(i: int) -> AnnounceResult:
        if i == 0:
            with transaction.atomic():
                result = announce_statement(first)
                started.set()
                with connection.cursor() as cursor:
                    for _ in range(600):  # up to 30 s
                        if waiting_pid:
                            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [waiting_pid[0]])
                            row = cursor.fetchone()
                            if row and row[0] == "Lock":
                                break
                        cursor.execute("SELECT pg_sleep(0.05)")
                    else:
                        raise AssertionError("the twin never waited for the peer's lock")
            return result
        assert started.wait(30)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            waiting_pid.append(cursor.fetchone()[0])
        return second_runs(second)

    a, b = released_together(2, run)
    return a, b


def params(user: Any, torrent: Any, ip: str, **fields: Any) -> dict[str, Any]:
    figures = dict(uploaded=0, downloaded=0, left=1000, event="started", is_seeder=False, numwant=50) | fields
    return announce_params(
        user_id=user.id, torrent_id=torrent.id, freeleech=torrent.freeleech, peer_id=PEER_ID, ip=ip, port=6881, **figures
    )


def stored(torrent: Any) -> tuple[int, int, int]:
    return TorrentStats.objects.filter(pk=torrent.pk).values_list("seeders", "leechers", "completed").get()


@pytest.mark.parametrize("second_runs", [announce_statement, run_batch], ids=["single", "batch"])
def test_a_new_peers_twin_announce_replies_with_the_peer_counted(second_runs):
    torrent, user = TorrentFactory(size=1000), UserFactory()
    a, b = twins(params(user, torrent, "10.0.0.1"), params(user, torrent, "2001:db8::1"), second_runs)
    assert stored(torrent) == (0, 1, 0)
    assert (a.seeders, a.leechers) == (0, 1)
    assert (b.seeders, b.leechers) == (0, 1)


@pytest.mark.parametrize("second_runs", [announce_statement, run_batch], ids=["single", "batch"])
def test_a_completing_twin_announce_replies_with_the_seeder_and_the_completion(second_runs):
    torrent, user = TorrentFactory(size=1000), UserFactory()
    announce_statement(params(user, torrent, "10.0.0.1"))
    done = {"left": 0, "downloaded": 1000, "event": "completed", "is_seeder": True}
    a, b = twins(params(user, torrent, "10.0.0.1", **done), params(user, torrent, "2001:db8::1", **done), second_runs)
    assert stored(torrent) == (1, 0, 1)
    assert (a.seeders, a.leechers, a.completed) == (1, 0, 1)
    assert (b.seeders, b.leechers, b.completed) == (1, 0, 1)


@pytest.mark.parametrize("second_runs", [announce_statement, run_batch], ids=["single", "batch"])
def test_a_twin_stop_replies_with_the_peer_gone(second_runs):
    torrent, user = TorrentFactory(size=1000), UserFactory()
    announce_statement(params(user, torrent, "10.0.0.1", left=0, is_seeder=True))
    stop = {"left": 0, "event": "stopped", "is_seeder": True, "numwant": 0}
    a, b = twins(params(user, torrent, "10.0.0.1", **stop), params(user, torrent, "2001:db8::1", **stop), second_runs)
    assert stored(torrent) == (0, 0, 0)
    assert (a.seeders, a.leechers) == (0, 0)
    assert (b.seeders, b.leechers) == (0, 0)
