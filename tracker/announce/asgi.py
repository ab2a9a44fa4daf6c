"""An ASGI front for the tracker: announce and scrape on an event loop, everything else to Django.

BitTorrent clients announce by the thousand. Under gunicorn's threaded
worker the request handling itself cost more CPU than the announce; here, on
uvicorn's event loop, one process keeps hundreds of announces in flight, and
an announce is one PostgreSQL round trip:

- the passkey and torrent lookups come from the worker's memory (`_Memory`)
  once read; the first read is an MGET of the keys Django's cache writes
  (tracker.announce.redis_reads), a miss there the ordinary sync lookup in
  a thread, which fills the cache;
- the announce is the same one statement as the Django view's
  (tracker.swarm.announce.pg_positional, on asyncpg). It also checks that no
  invalidation (tracker.swarm.lookups) came since the remembered lookups were
  read; if one did, it writes nothing and the announce is redone with
  fresh lookups;
- under load, the announces waiting for the database go together, as one
  statement over arrays (`_Batches`, tracker.swarm.batch): PostgreSQL's
  cost per announce halves;
- the request's orchestration (parse, checks, reply bytes) is
  tracker.announce.core's flows, shared with the Django views; this front
  only answers their lookups and statements.

Only PostgreSQL gets the fast path; on any other database (SQLite in
development) every request goes to Django, whose views do the same work.
Scrape, rare next to announces, runs the Django code in a thread.

Serve it with `gunicorn -k uvicorn_worker.UvicornWorker torrentpier.asgi`
(see the README's deployment notes).
"""

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import asyncpg
from asgiref.sync import sync_to_async
from asyncpg.exceptions import DeadlockDetectedError, LockNotAvailableError, SerializationError
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connections

from core.logthrottle import log_failure
from core.metrics import ANNOUNCE_BATCH_SIZE, ANNOUNCE_RETRIES, DB_POOL_CONNECTIONS
from tracker.announce.core import Lookup, Scrape, TrackerRequest, announce_flow, failure_for, request_done, result_of, scrape_flow
from tracker.announce.protocol import REPLY_CACHE_CONTROL, REPLY_CONTENT_TYPE, tracker_route
from tracker.policy.snapshot import AnnouncePolicy
from tracker.swarm.announce import pg_positional, retries_exhausted
from tracker.swarm.batch import batch_args, batch_keys, batch_results, batch_sql
from tracker.swarm.lookups import (
    LOOKUP_TIMEOUT,
    AnnounceTorrent,
    AnnounceUser,
    announce_lookup,
    passkey_cache_key,
    policy_cache_key,
    torrent_cache_key,
)
from tracker.swarm.selectors import torrent_scrape
from tracker.swarm.sql import AnnounceResult, pg_result

logger = logging.getLogger("tracker.announce")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

LOCK_TIMEOUT = "200ms"
_NOT_PRINTABLE = re.compile(rb"[^\x21-\x7e]")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", ())}


class _Swarm:
    """What one event loop holds: a PostgreSQL pool, a Redis reader and the remembered lookups."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pool: Any = None
        self.redis: Any = None
        self.redis_prefix_key = cache.make_key  # the keys are ours and short: no validation needed
        if settings.REDIS_URL:
            from django.core.cache.backends.redis import RedisSerializer

            if settings.REDIS_URL.startswith(("redis://", "unix://")):
                from tracker.announce.redis_reads import RedisReads

                self.redis = RedisReads(settings.REDIS_URL)
            else:  # TLS (rediss://): redis-py's client
                from redis.asyncio import Redis

                self.redis = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
            self.loads = RedisSerializer().loads
        self.memory = _Memory()
        self.batches = _Batches(self)
        self.ready = loop.create_task(self._open())

    async def _open(self) -> None:
        """The PostgreSQL pool: asyncpg, which costs less CPU per statement than psycopg's async path."""
        db = connections["default"].settings_dict
        options = db.get("OPTIONS", {})
        kwargs: dict[str, Any] = {
            "host": db.get("HOST") or None,
            "port": int(db["PORT"]) if db.get("PORT") else None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "database": db["NAME"],
            "ssl": options.get("sslmode"),
            "timeout": options.get("connect_timeout", 10),
        }
        self.pool = await asyncpg.create_pool(
            **{k: v for k, v in kwargs.items() if v is not None},
            min_size=1,
            max_size=settings.TRACKER_ASYNC_DB_POOL,
            # Keep idle connections: closing them would need a timer armed on every release.
            max_inactive_connection_lifetime=0,
            # A lock wait this long is a deadlock (announces hold their row locks for
            # milliseconds): give up and retry it now rather than after PostgreSQL's
            # deadlock_timeout (1 s, and only a superuser may lower it).
            server_settings={"application_name": "torrentpier-tracker", "lock_timeout": LOCK_TIMEOUT},
            reset=_keep_session,
        )

    async def reopen(self) -> None:
        """A new pool in place of one that failed to open or was closed (the database was down, say)."""
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.terminate()
        await self._open()

    @property
    def is_open(self) -> bool:
        return self.pool is not None and not self.pool.is_closing()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.redis is not None:
            await self.redis.aclose()


async def _keep_session(connection: Any) -> None:
    """Hand a connection back to the pool as it is.

    asyncpg's default reset is a round trip of its own (RESET ALL, UNLISTEN,
    CLOSE ALL, advisory unlock) after every statement: as many as the
    announces themselves. The fast path leaves nothing to reset: one
    statement per checkout, its only setting local to its transaction, no
    cursors, listeners or locks. (asyncpg still rolls back a transaction
    left open before calling this.)
    """


class _Batches:
    """The announces waiting for PostgreSQL, sent together when several are waiting (tracker.swarm.batch).

    An announce goes out at once while fewer than TRACKER_ASYNC_BATCHES
    statements are running; those that arrive meanwhile wait and go in the
    next batch (up to TRACKER_ASYNC_BATCH_SIZE, at most one per peer and per
    snatch). A quiet tracker so answers each announce straight away with the
    single statement; a busy one sends fewer, larger statements, each of
    which pays the statement's fixed costs once for all its announces.
    """

    def __init__(self, swarm: "_Swarm") -> None:
        self.swarm = swarm
        self.waiting: list[tuple[dict[str, Any], asyncio.Future[AnnounceResult]]] = []
        self.running: set[asyncio.Task[None]] = set()
        # The peers and snatches of the running batches: an announce that would
        # change one of them again waits for its batch to finish. Concurrent
        # inserts of one snatch by a batch and a single statement can deadlock in
        # PostgreSQL; within a worker they never run at once.
        self.busy: set[Any] = set()
        self.sent = [0, 0]  # batches and single statements sent (for tests and curious operators)

    async def announce(self, fields: dict[str, Any]) -> AnnounceResult:
        future: asyncio.Future[AnnounceResult] = self.swarm.loop.create_future()
        self.waiting.append((fields, future))
        self._send()
        return await future

    def _send(self) -> None:
        while self.waiting and len(self.running) < settings.TRACKER_ASYNC_BATCHES:
            batch: list[tuple[dict[str, Any], asyncio.Future[AnnounceResult]]] = []
            later: list[tuple[dict[str, Any], asyncio.Future[AnnounceResult]]] = []
            taken: set[Any] = set()
            for item in self.waiting:
                if item[1].done():  # its request is gone (the client hung up)
                    continue
                keys = batch_keys(item[0])
                if len(batch) < settings.TRACKER_ASYNC_BATCH_SIZE and taken.isdisjoint(keys) and self.busy.isdisjoint(keys):
                    batch.append(item)
                    taken.update(keys)
                else:
                    later.append(item)
            self.waiting = later
            if not batch:
                return
            self.sent[len(batch) == 1] += 1
            ANNOUNCE_BATCH_SIZE.observe(len(batch))
            self.busy |= taken
            task = self.swarm.loop.create_task(self._run(batch))
            self.running.add(task)
            task.add_done_callback(functools.partial(self._finished, keys=taken))

    def _finished(self, task: "asyncio.Task[None]", keys: set[Any]) -> None:
        self.running.discard(task)
        self.busy -= keys
        pool = self.swarm.pool
        idle = pool.get_idle_size()
        DB_POOL_CONNECTIONS.labels("tracker_asgi", "idle").set(idle)
        DB_POOL_CONNECTIONS.labels("tracker_asgi", "in_use").set(pool.get_size() - idle)
        self._send()

    async def _run(self, batch: list[tuple[dict[str, Any], "asyncio.Future[AnnounceResult]"]]) -> None:
        try:
            await self._answer(batch)
        except BaseException as exc:  # whatever happens, no request is left waiting
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("announce batch cancelled"))
            if not isinstance(exc, Exception):
                raise

    async def _answer(self, batch: list[tuple[dict[str, Any], "asyncio.Future[AnnounceResult]"]]) -> None:
        if len(batch) > 1:
            try:
                async with self.swarm.pool.acquire() as conn:
                    announces = [fields for fields, _ in batch]
                    rows = await conn.fetch(batch_sql(announces), *batch_args(announces))
                results = batch_results(rows, len(batch))
            except Exception as exc:
                # All or nothing: a batch that failed changed nothing. One by one,
                # only the announce at fault fails (a deleted torrent, say).
                log_failure(logger, logging.INFO, "announce batch of %d failed; sending them one by one", len(batch), exc=exc)
                ANNOUNCE_RETRIES.labels("asgi", "batch_split").inc()
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                return
        outcomes = await asyncio.gather(*(self._single(fields) for fields, _ in batch), return_exceptions=True)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _single(self, fields: dict[str, Any]) -> AnnounceResult:
        return await _announce_pg(self.swarm, fields)


class _Memory:
    """The lookups this worker read, kept in memory under the lookup generation they were read in.

    The announce statement checks that generation against PostgreSQL's
    (tracker.swarm.lookups) in the same round trip and writes nothing when an
    invalidation came in between, so a remembered lookup is never acted on
    once it is out of date. Entries also expire as the shared cache's do.
    """

    LIMIT = 200_000  # entries; past it, start over

    def __init__(self) -> None:
        self.generation: int | None = None
        self.users: dict[str, tuple[AnnounceUser, float]] = {}
        self.torrents: dict[str, tuple[AnnounceTorrent, float]] = {}
        self.policy: tuple[AnnouncePolicy, float] | None = None  # the site's rules, one snapshot

    def get(self, passkey: str, info_hash_hex: str) -> tuple[AnnounceUser, AnnounceTorrent, AnnouncePolicy] | None:
        user = self.users.get(passkey)
        torrent = self.torrents.get(info_hash_hex)
        policy = self.policy
        if user is None or torrent is None or policy is None:
            return None
        now = time.monotonic()
        if user[1] < now or torrent[1] < now or policy[1] < now:
            return None
        return user[0], torrent[0], policy[0]

    def learn(self, generation: int | None) -> None:
        """The generation the database just reported: a new one makes everything remembered suspect."""
        if generation != self.generation:
            self.users.clear()
            self.torrents.clear()
            self.policy = None
            self.generation = generation

    def keep(
        self,
        stamp: int | None,
        passkey: str,
        user: AnnounceUser,
        info_hash_hex: str,
        torrent: AnnounceTorrent,
        policy: AnnouncePolicy | None,
    ) -> None:
        """Remember lookups read under generation `stamp`, if that is still the current one."""
        if stamp is None or stamp != self.generation:
            return
        if len(self.users) + len(self.torrents) >= self.LIMIT:
            self.users.clear()
            self.torrents.clear()
        expires = time.monotonic() + LOOKUP_TIMEOUT
        self.users[passkey] = (user, expires)
        self.torrents[info_hash_hex] = (torrent, expires)
        if policy is not None and (self.policy is None or self.policy[1] < time.monotonic()):
            self.policy = (policy, expires)


class TrackerASGI:
    """Serve tracker URLs on the event loop (PostgreSQL only); hand every other request to `application`."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application
        self._swarm: _Swarm | None = None
        self._fast_path: bool | None = None  # PostgreSQL? (known once settings are loaded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        route = tracker_route(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            await self.application(scope, receive, send)
            return
        if self._fast_path is None:
            self._fast_path = connections["default"].vendor == "postgresql"
        if not self._fast_path:
            # Django's views do the work. Django decodes the query string as
            # UTF-8 and refuses raw bytes that aren't; escaping them keeps
            # the request what it was (the views percent-decode every value).
            query = _NOT_PRINTABLE.sub(lambda m: b"%%%02X" % m[0][0], scope.get("query_string", b""))
            await self.application({**scope, "query_string": query}, receive, send)
            return
        headers = _headers(scope)
        request = TrackerRequest(
            method=scope["method"],
            path=scope.get("path", ""),
            raw_query=scope.get("query_string", b""),
            passkey=route[1],
            remote=(scope.get("client") or ("", 0))[0],
            forwarded=headers.get(b"x-forwarded-for", b"").decode("latin-1"),
            user_agent=headers.get(b"user-agent", b"").decode("utf-8", "replace"),
        )
        is_scrape = route[0] == "scrape"
        started = time.perf_counter()
        try:
            body = await (self._scrape(request) if is_scrape else self._announce(request))
        except Exception as exc:
            request_done(route[0], "asgi", result_of(exc), started)
            body = failure_for(exc, request.path)
        else:
            request_done(route[0], "asgi", "ok", started)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", REPLY_CONTENT_TYPE.encode()),
                    (b"cache-control", REPLY_CACHE_CONTROL.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def aclose(self) -> None:
        """Close this loop's database pool and Redis client (at shutdown, and between tests)."""
        swarm, self._swarm = self._swarm, None
        if swarm is not None:
            await swarm.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _connections(self) -> _Swarm:
        """This loop's swarm, its pool open: opened again if the last attempt failed or the pool was closed.

        One attempt at a time per loop: the requests that arrive while it runs
        wait for it (and share its failure, a bencoded "Tracker error" each);
        the first request after a failure starts the next attempt.
        """
        loop = asyncio.get_running_loop()
        swarm = self._swarm
        if swarm is None or swarm.loop is not loop:
            swarm = self._swarm = _Swarm(loop)
        elif swarm.ready.done() and (swarm.ready.cancelled() or swarm.ready.exception() is not None or not swarm.is_open):
            swarm.ready = loop.create_task(swarm.reopen())
        await asyncio.shield(swarm.ready)
        return swarm

    async def _lookup(
        self, swarm: _Swarm, passkey: str, info_hash_hex: str | None
    ) -> tuple[AnnounceUser | None, AnnounceTorrent | None, AnnouncePolicy | None]:
        """announce_lookup with the cache read on the event loop; any miss goes to the sync lookup."""
        if swarm.redis is not None:
            keys = [passkey_cache_key(passkey)]
            if info_hash_hex is not None:
                keys += [torrent_cache_key(info_hash_hex), policy_cache_key()]
            try:
                values = await swarm.redis.mget([swarm.redis_prefix_key(key) for key in keys])
            except Exception as exc:
                log_failure(logger, logging.WARNING, "cache mget failed", exc=exc)  # no keys: they hold the passkey
                values = [None]
            if all(value is not None for value in values):
                found = [swarm.loads(value) or None for value in values]
                if info_hash_hex is None:
                    return found[0], None, None
                return found[0], found[1], found[2]
        return await sync_to_async(_lookup_in_thread, thread_sensitive=False)(passkey, info_hash_hex)

    async def _announce(self, request: TrackerRequest) -> bytes:
        """Run announce_flow: lookups from this worker's memory when it has them, the statement in a batch."""
        steps = announce_flow(request)
        need = next(steps)
        swarm = await self._connections()
        memory = swarm.memory
        try:
            while True:
                lookup: Lookup = need
                stamp = memory.generation
                known = memory.get(lookup.passkey, lookup.info_hash_hex or "") if lookup.remembered else None
                user, torrent, policy = known or await self._lookup(swarm, lookup.passkey, lookup.info_hash_hex)
                fields = steps.send((user, torrent, policy))
                if isinstance(fields, Lookup):  # refused on what memory said: the flow looks again
                    need = fields
                    continue
                fields["gen"] = stamp if known else None
                result = await swarm.batches.announce(fields)
                memory.learn(result.generation)
                if result.fresh and known is None:  # the flow's checks passed: both were found
                    user, torrent = cast(AnnounceUser, user), cast(AnnounceTorrent, torrent)
                    memory.keep(stamp, lookup.passkey, user, lookup.info_hash_hex or "", torrent, policy)
                # Not fresh: an invalidation since, so what memory said may be out of date; the flow looks again.
                need = steps.send(result)
        except StopIteration as done:
            return done.value

    async def _scrape(self, request: TrackerRequest) -> bytes:
        """Run scrape_flow: the passkey's lookup on the event loop, the figures in a thread."""
        steps = scrape_flow(request)
        lookup: Lookup = next(steps)
        swarm = await self._connections()
        try:
            scrape: Scrape = steps.send(await self._lookup(swarm, lookup.passkey, None))
            steps.send(await sync_to_async(_scrape_in_thread, thread_sensitive=False)(scrape.info_hashes, scrape.user))
        except StopIteration as done:
            return done.value
        raise AssertionError("scrape_flow ends after the figures")


async def _announce_pg(swarm: _Swarm, fields: dict[str, Any]) -> AnnounceResult:
    """Run the single announce statement on a pooled connection, retrying a deadlock or a lock wait cut short,
    and judging it again under the member's lock when the gate's check found a racing announce (tracker.swarm.sql's `gt`)."""
    failures = [0, 0]
    while True:
        sql, values = pg_positional(fields)
        try:
            async with swarm.pool.acquire() as conn:
                return pg_result(await conn.fetchrow(sql, *values))
        except (DeadlockDetectedError, LockNotAvailableError, SerializationError) as exc:
            gate_conflict = isinstance(exc, SerializationError)
            if retries_exhausted(failures, gate_conflict):
                raise
            ANNOUNCE_RETRIES.labels("asgi", "gate_conflict" if gate_conflict else "lock").inc()
            if gate_conflict:
                fields = {**fields, "exact": True}


# Django's ORM in a worker thread: its connection housekeeping runs around
# the call, as request_started / request_finished would run it.


def _lookup_in_thread(passkey: str, info_hash_hex: str | None) -> tuple[AnnounceUser | None, AnnounceTorrent | None, AnnouncePolicy | None]:
    close_old_connections()
    try:
        return announce_lookup(passkey=passkey, info_hash_hex=info_hash_hex)
    finally:
        close_old_connections()


def _scrape_in_thread(hashes: list[bytes], user: AnnounceUser) -> dict[bytes, tuple[int, int, int]]:
    close_old_connections()
    try:
        return torrent_scrape(info_hashes=hashes, user=user)
    finally:
        close_old_connections()
