"""The tracker's logs never carry a passkey, and a failing tracker does not write a traceback per request."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from core import cache as core_cache
from core import logthrottle
from tests.factories import TorrentFactory
from tests.tracker.announce.helpers import announce, announce_qs, peer_id, reply, scrape_qs
from tracker.announce import asgi as asgi_front
from tracker.announce import views as wsgi_views
from tracker.announce.core import TRACKER_ERROR
from tracker.swarm import lookups
from tracker.swarm.lookups import announce_lookup, lookups_invalidate, passkey_cache_key

# Module-wide: the ASGI case of a both_fronts test needs its transactional mark (fronts.py) to be the closest.
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    logthrottle.throttles_reset()
    yield
    logthrottle.throttles_reset()


def leaked(records: list[logging.LogRecord], secret: str) -> list[str]:
    """What of `records` (message, arguments, formatted traceback) holds `secret`."""
    formatter = logging.Formatter()
    found = []
    for record in records:
        texts = [str(record.msg), repr(record.args), record.getMessage(), record.exc_text or "", record.stack_info or ""]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        found += [text for text in texts if secret in text]
    return found


def _lookup_fails(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def failing(**kwargs: Any) -> Any:
        raise exc

    # The WSGI views' lookup, and the ASGI fast path's (PostgreSQL) after its Redis read missed.
    monkeypatch.setattr(wsgi_views, "announce_lookup", failing)
    monkeypatch.setattr(asgi_front, "announce_lookup", failing)


@pytest.mark.both_fronts
def test_a_failing_announce_logs_a_masked_path_and_one_traceback(client, user, caplog, monkeypatch):
    torrent = TorrentFactory()
    _lookup_fails(monkeypatch, RuntimeError("the database is on fire"))
    caplog.set_level(logging.DEBUG)
    for n in range(5):
        response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(n))}")
        assert reply(response)[b"failure reason"].decode() == TRACKER_ERROR
    failures = [r for r in caplog.records if r.name == "tracker.announce"]
    assert len(failures) == 5  # each failure is one line ...
    assert sum(1 for r in failures if r.exc_info) == 1  # ... and only the first carries its traceback
    assert all(f"/announce/{user.passkey[:4]}…" in r.getMessage() for r in failures)
    assert "RuntimeError" in failures[-1].getMessage()
    assert leaked(caplog.records, user.passkey) == []


@pytest.mark.both_fronts
def test_a_failing_scrape_logs_no_passkey(client, user, caplog, monkeypatch):
    def failing(**kwargs: Any) -> Any:
        raise RuntimeError("scrape broke")

    monkeypatch.setattr(wsgi_views, "torrent_scrape", failing)
    monkeypatch.setattr(asgi_front, "torrent_scrape", failing)
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        assert reply(client.get(f"/scrape/{user.passkey}?{scrape_qs('ab' * 20)}"))[b"failure reason"].decode() == TRACKER_ERROR
    failures = [r for r in caplog.records if r.name == "tracker.announce"]
    assert len(failures) == 3 and sum(1 for r in failures if r.exc_info) == 1
    assert leaked(caplog.records, user.passkey) == []


def test_each_error_type_gets_a_traceback_and_again_after_a_minute(client, user, caplog, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(logthrottle, "_clock", lambda: now[0])
    torrent = TorrentFactory()
    caplog.set_level(logging.DEBUG)

    def fail_with(exc: Exception) -> list[logging.LogRecord]:
        _lookup_fails(monkeypatch, exc)
        caplog.clear()
        announce(client, user.passkey, torrent.info_hash, peer_id(1))
        return [r for r in caplog.records if r.name == "tracker.announce"]

    assert fail_with(RuntimeError("a"))[0].exc_info
    assert not fail_with(RuntimeError("b"))[0].exc_info
    assert fail_with(ValueError("c"))[0].exc_info  # another type: its own traceback
    assert not fail_with(RuntimeError("d"))[0].exc_info
    now[0] += 61
    again = fail_with(RuntimeError("e"))[0]
    assert again.exc_info
    assert "2 more" in again.getMessage()  # b and d, held back in the minute before
    assert leaked(caplog.records, user.passkey) == []


class _BrokenCache:
    """A cache whose every call fails, as Redis does when it is down."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return fail


def test_cache_failures_log_no_passkey_key(client, user, caplog, monkeypatch):
    torrent = TorrentFactory()
    broken = _BrokenCache()
    monkeypatch.setattr(core_cache, "cache", broken)
    monkeypatch.setattr(lookups, "cache", broken)
    monkeypatch.setattr(lookups, "_redis_reader", None)
    caplog.set_level(logging.DEBUG)
    found_user, found_torrent, _ = announce_lookup(passkey=user.passkey, info_hash_hex=torrent.info_hash)
    assert found_user is not None and found_user.id == user.pk and found_torrent is not None
    assert b"failure reason" not in announce(client, user.passkey, torrent.info_hash, peer_id(1))  # the database answers
    core_cache.cache_get(passkey_cache_key(user.passkey))
    core_cache.cache_set(passkey_cache_key(user.passkey), 1, 60)
    lookups_invalidate(passkey_cache_key(user.passkey))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert {r.name for r in warnings} >= {"core.cache", "tracker.swarm"}
    assert leaked(caplog.records, user.passkey) == []
    assert any("passkey:" in r.getMessage() for r in warnings)  # which kind of key failed is still said
