"""Both deployed fronts for the tracker tests: a pytest plugin (registered in tests/conftest.py).

`asgi_client` drives the deployed ASGI application (torrentpier.asgi) from
synchronous tests; a module marked `both_fronts` runs each test that takes
`client` twice, through Django's test client (the WSGI views) and the ASGI
application.

On PostgreSQL the tracker URLs take the async fast path on their own pooled
connections: the application runs on an event loop in a background thread,
as under uvicorn, and the tests need committed data (`transactional_db`).
Elsewhere (SQLite) the application hands every request to Django's ASGI
handler; requests then run through `async_to_sync` in a thread that shares
the test's connection, so Django's sync views see the test's transaction.
"""

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.db import close_old_connections, connection, connections

from torrentpier.asgi import application


def fast_path_active() -> bool:
    """Whether tracker URLs take the ASGI fast path (PostgreSQL) rather than Django's views."""
    return connection.vendor == "postgresql"


class AsgiResponse:
    """The parts of a Django test response the tracker tests read."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}
        self.content = body

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]


class AsgiClient:
    """A synchronous client for `torrentpier.asgi.application` on its own event-loop thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        if fast_path_active():
            self.loop = asyncio.new_event_loop()
            self.thread = threading.Thread(target=self.loop.run_forever, name="asgi-test-loop", daemon=True)
            self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        """Run `coroutine` on the application's loop (or, without one, from this thread) and return its result."""
        if self.loop is not None:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

        async def awaited() -> Any:
            return await coroutine

        # The request runs from a thread of its own (this one may have an event
        # loop of its own, e.g. Playwright's) that shares the test's connection,
        # and with it the test's transaction, as Django's LiveServerThread does.
        # Like Django's test client, it keeps request signals off that connection.
        shared = connections["default"]
        outcome: dict[str, Any] = {}

        def target() -> None:
            connections["default"] = shared
            try:
                outcome["value"] = async_to_sync(awaited)()
            except BaseException as exc:  # re-raised in the test's thread
                outcome["error"] = exc

        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        shared.inc_thread_sharing()
        try:
            thread = threading.Thread(target=target, name="asgi-test-request")
            thread.start()
            thread.join(timeout)
        finally:
            shared.dec_thread_sharing()
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    async def request(self, method: str, url: str, *, remote: str = "127.0.0.1", headers: dict[str, str] | None = None) -> AsgiResponse:
        parts = urlsplit(url)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode("latin-1"),
            "root_path": "",
            "headers": [(b"host", b"testserver")]
            + [(name.lower().encode(), value.encode("latin-1")) for name, value in (headers or {}).items()],
            "client": (remote, 50000),
            "server": ("testserver", 80),
        }
        return await self.send_scope(scope)

    async def send_scope(self, scope: dict[str, Any]) -> AsgiResponse:
        """Run the application on this HTTP `scope` (an empty body) and collect its answer."""
        sent: list[dict[str, Any]] = []
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects early
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await application(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return AsgiResponse(start["status"], start.get("headers", []), body)

    def get(self, url: str, **extra: str) -> AsgiResponse:
        """GET `url`, taking Django's test-client keywords: REMOTE_ADDR, QUERY_STRING, HTTP_*."""
        return self._call("GET", url, extra)

    def post(self, url: str, **extra: str) -> AsgiResponse:
        """POST `url` with an empty body (same keywords as `get`)."""
        return self._call("POST", url, extra)

    def head(self, url: str, **extra: str) -> AsgiResponse:
        return self._call("HEAD", url, extra)

    def _call(self, method: str, url: str, extra: dict[str, str]) -> AsgiResponse:
        unknown = set(extra) - {"REMOTE_ADDR", "QUERY_STRING"} - {k for k in extra if k.startswith("HTTP_")}
        assert not unknown, f"AsgiClient does not understand {unknown}"
        if "QUERY_STRING" in extra:
            url = url.split("?", 1)[0] + "?" + extra["QUERY_STRING"]
        headers = {key[5:].replace("_", "-"): value for key, value in extra.items() if key.startswith("HTTP_")}
        return self.run(self.request(method, url, remote=extra.get("REMOTE_ADDR", "127.0.0.1"), headers=headers))

    def close(self) -> None:
        """Close the application's connections on this loop, then stop the loop."""
        if self.loop is None:
            return
        try:
            self.run(application.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_fronts: run each test that takes `client` through the WSGI views and the ASGI application")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Under the `both_fronts` mark, `client` is each deployed front in turn: ids [wsgi] and [asgi]."""
    if metafunc.definition.get_closest_marker("both_fronts") and "client" in metafunc.fixturenames:
        metafunc.parametrize("client", ["wsgi", "asgi"], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests run through the ASGI front (the `client` fixture's "asgi" case) need committed data on PostgreSQL."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("client") == "asgi" and fast_path_active():
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture
def asgi_client() -> Iterator[AsgiClient]:
    """The deployed ASGI application, driven synchronously.

    Where the fast path runs, the test needs committed data: mark it
    `django_db(transaction=True)` (tests run through `client` under the
    `both_fronts` mark get that mark from pytest_collection_modifyitems above).
    """
    client = AsgiClient()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def client(request: pytest.FixtureRequest, client: Any) -> Any:
    """Django's test client (the WSGI views) or, as the "asgi" case of a `both_fronts` test, the ASGI application.

    Mark a test module `pytest.mark.both_fronts` to run each of its tests that take `client` through both.
    """
    if getattr(request, "param", "wsgi") == "wsgi":
        return client
    return request.getfixturevalue("asgi_client")
