"""The ASGI announce's pipelined Redis reader, against the real Redis (database 9 of the local server)."""

import asyncio
import os
import socket

import pytest
import redis

from tests.aio import run_in_thread
from tracker.announce.redis_reads import RedisReads

URL = os.environ.get("REDIS_READS_TEST_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture
def server() -> redis.Redis:
    client = redis.Redis.from_url(URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {URL}")
    client.flushdb()
    yield client
    client.flushdb()


def run(coroutine):
    return run_in_thread(coroutine, timeout=30)


def test_mget_returns_values_in_key_order_and_none_for_missing(server):
    server.set("a", b"1")
    server.set("b", b"\x80binary\x00")

    async def scenario():
        reads = RedisReads(URL)
        try:
            return await reads.mget(["b", "nope", "a"])
        finally:
            await reads.aclose()

    assert run(scenario()) == [b"\x80binary\x00", None, b"1"]


def test_many_requests_in_flight_each_get_their_own_reply(server):
    for n in range(200):
        server.set(f"k{n}", str(n))

    async def scenario():
        reads = RedisReads(URL)
        try:
            return await asyncio.gather(*(reads.mget([f"k{n}", f"k{(n + 1) % 200}"]) for n in range(200)))
        finally:
            await reads.aclose()

    replies = run(scenario())
    assert replies == [[str(n).encode(), str((n + 1) % 200).encode()] for n in range(200)]


def test_it_selects_the_database_of_the_url(server):
    server.set("only-in-9", b"yes")
    other = URL.rsplit("/", 1)[0] + "/8"

    async def scenario():
        reads = RedisReads(other)
        try:
            return await reads.mget(["only-in-9"])
        finally:
            await reads.aclose()

    assert run(scenario()) == [None]


def test_a_dropped_connection_fails_the_request_and_the_next_call_reconnects(server):
    server.set("a", b"1")

    async def scenario():
        reads = RedisReads(URL)
        try:
            assert await reads.mget(["a"]) == [b"1"]
            # The server drops this client (as on a Redis restart).
            name = f"reads-{id(reads)}"
            reads._protocol.request(b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$%d\r\n%s\r\n" % (len(name), name.encode()))
            await asyncio.sleep(0.05)
            for client in server.client_list():
                if client.get("name") == name:
                    server.execute_command("CLIENT", "KILL", "ID", client["id"])
            await asyncio.sleep(0.05)
            with pytest.raises(ConnectionError):
                await reads.mget(["a"])
            return await reads.mget(["a"])
        finally:
            await reads.aclose()

    assert run(scenario()) == [b"1"]


def test_a_silent_server_times_out_and_fails_what_is_in_flight(monkeypatch):
    from tracker.announce import redis_reads

    monkeypatch.setattr(redis_reads, "REPLY_TIMEOUT", 0.2)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def scenario():
        reads = RedisReads(f"redis://127.0.0.1:{port}/0")
        try:
            results = await asyncio.gather(reads.mget(["a"]), reads.mget(["b"]), return_exceptions=True)
            return [type(r) for r in results]
        finally:
            await reads.aclose()

    try:
        kinds = run(scenario())
    finally:
        listener.close()
    assert kinds[0] is TimeoutError
    assert kinds[1] in (TimeoutError, ConnectionError)


def test_nothing_listening_is_a_connection_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def scenario():
        reads = RedisReads(f"redis://127.0.0.1:{port}/0")
        try:
            await reads.mget(["a"])
        finally:
            await reads.aclose()

    with pytest.raises(OSError):
        run(scenario())


def test_after_a_timeout_calls_fail_at_once_until_the_backoff_ends(monkeypatch):
    """A hung Redis costs the ASGI worker one REPLY_TIMEOUT, not one per lookup (core.cache's back-off, issue 11)."""
    import time

    from core import cache as core_cache
    from tracker.announce import redis_reads

    monkeypatch.setattr(redis_reads, "REPLY_TIMEOUT", 0.5)
    monkeypatch.setattr(core_cache, "BACKOFF_SECONDS", 1.5)
    listener = socket.socket()  # accepts (the kernel's backlog) and never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def timed(reads: RedisReads) -> tuple[type, float]:
        started = time.monotonic()
        try:
            await reads.mget(["a"])
        except Exception as exc:
            return type(exc), time.monotonic() - started
        raise AssertionError("a silent server answered")

    async def scenario():
        reads = RedisReads(f"redis://127.0.0.1:{port}/0")
        try:
            first = await timed(reads)
            during = [await timed(reads) for _ in range(3)]
            await asyncio.sleep(1.6)
            after = await timed(reads)
            return first, during, after
        finally:
            await reads.aclose()

    try:
        first, during, after = run(scenario())
    finally:
        listener.close()
    assert first[0] is TimeoutError and first[1] >= 0.45
    assert all(kind is ConnectionError and took < 0.1 for kind, took in during), during
    assert after[0] is TimeoutError and after[1] >= 0.45  # tried again once the back-off was over
