"""A lean, pipelined Redis reader for the ASGI announce's cached lookups (MGET only).

redis-py's asyncio client pays for its connection pool, retry and event
machinery and a timeout per read on every command, and the announce makes
one MGET per request. This connection sends each MGET as soon as it is asked
for, lets many be in flight at once, and hands the replies back in order;
hiredis (Redis's own parser) reads them. What that saves is measured by
`python -m tests.perf.announce` (README, "The tracker").

Only reads go through it: everything that writes or invalidates the cache
still uses Django's cache, so what is read here is exactly what Django wrote.
A failure of any kind closes the connection and fails the requests in flight
(their callers fall back to the database lookup); the next call reconnects.
A timeout (a hung Redis) also starts the process's back-off from that server
(core.cache): until it ends, calls fail at once instead of waiting again.
"""

import asyncio
from collections import deque
from typing import Any

import hiredis
from redis.connection import parse_url

from core.cache import backoff_active, backoff_start

CONNECT_TIMEOUT = 1.0
REPLY_TIMEOUT = 1.0


def _command(*parts: bytes) -> bytes:
    """One RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except Exception as exc:  # a protocol error: nothing after it can be trusted
                self.fail(exc)
                return
            if reply is False:
                return
            if not self.pending:
                self.fail(ConnectionError("Redis sent a reply nobody asked for"))
                return
            future = self.pending.popleft()
            if not future.done():
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail_pending(exc or ConnectionError("Redis closed the connection"))

    def fail(self, exc: BaseException) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._fail_pending(exc)

    def _fail_pending(self, exc: BaseException) -> None:
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(exc)

    def request(self, payload: bytes) -> "asyncio.Future[Any]":
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        assert self.transport is not None
        self.transport.write(payload)
        return future


class RedisReads:
    """MGET over one pipelined connection to the Redis at `url` (redis:// or unix://), on the running loop."""

    def __init__(self, url: str) -> None:
        self.options = parse_url(url)
        # The back-off's name for the server, as core.cache.BackoffConnectionPool names it.
        self.server = self.options.get("path") or f"{self.options.get('host', 'localhost')}:{self.options.get('port', 6379)}"
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        if backoff_active(self.server):
            raise ConnectionError("Redis timed out a moment ago; backing off")
        try:
            protocol = await self._connection()
        except TimeoutError:
            backoff_start(self.server)
            raise
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                return await protocol.request(_command(b"MGET", *(key.encode() for key in keys)))
        except TimeoutError:
            # Redis stopped answering: whatever is in flight waits in vain too. (A
            # request merely cancelled keeps its place: its reply is dropped.)
            protocol.fail(ConnectionError("Redis did not answer in time"))
            backoff_start(self.server)
            raise

    async def aclose(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    async def _connection(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            return protocol
        connecting = self._connecting
        if connecting is None or connecting.done():
            connecting = self._connecting = asyncio.ensure_future(self._connect())
        protocol = await asyncio.shield(connecting)
        self._protocol = protocol
        return protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self.options
        async with asyncio.timeout(CONNECT_TIMEOUT):
            if options.get("path"):
                _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
            else:
                _, protocol = await loop.create_connection(_Protocol, options.get("host", "localhost"), options.get("port", 6379))
            setup = []
            if options.get("password"):
                credentials = [options["username"].encode()] if options.get("username") else []
                setup.append(protocol.request(_command(b"AUTH", *credentials, options["password"].encode())))
            if options.get("db"):
                setup.append(protocol.request(_command(b"SELECT", str(options["db"]).encode())))
            for reply in setup:
                await reply
        return protocol
