"""A live tracker for real BitTorrent clients: the app served on 127.0.0.1 in the test database.

Every test runs against the WSGI front (Django's live server). On PostgreSQL
it runs again against the deployed ASGI front (torrentpier.asgi under
uvicorn), whose announce is the async fast path.
"""

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler, _StaticFilesHandler

from tests.e2e.swarm import uvicorn_serving

# Held by the WSGI live server while it answers a request, and by every query on an in-memory SQLite
# connection it shares with the test. The test's reads then fall between two requests, never inside
# one, where they would see an announce's transaction half applied (the peer gone, the member not
# yet credited). Reentrant: the server's own queries run under its hold.
SERVING = threading.RLock()


class _SerialWSGIServer(WSGIServer):
    # Clients open several connections at once (a hybrid torrent's two
    # announces per client, stops on shutdown); queue them instead of refusing.
    request_queue_size = 128

    def finish_request(self, request: Any, client_address: Any) -> None:
        # One request whole: the serial server closes each connection after its reply.
        with SERVING:
            super().finish_request(request, client_address)


def _between_requests(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    with SERVING:
        return execute(sql, params, many, context)


class _SerialServerThread(LiveServerThread):
    """Django's live server, answering one request at a time.

    The threaded live server would share the in-memory SQLite connection
    between request threads; serial requests keep each announce's
    transaction whole. Real clients retry, so a short wait costs nothing.
    """

    def _create_server(self, connections_override: Any = None) -> WSGIServer:
        return _SerialWSGIServer((self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False)


FRONTS = ["wsgi", "asgi"] if django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else ["wsgi"]


@pytest.fixture(params=FRONTS)
def tracker_url(request: pytest.FixtureRequest, transactional_db: Any, settings: Any) -> Iterator[str]:
    """Base URL of a live tracker (http://127.0.0.1:<free port>) on the test database."""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    if request.param == "asgi":
        yield from _asgi_tracker()
        return
    override = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    thread = _SerialServerThread("127.0.0.1", _StaticFilesHandler, connections_override=override, port=0)
    thread.daemon = True
    for conn in override.values():
        conn.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait(timeout=30)
    if thread.error:
        raise thread.error
    try:
        with contextlib.ExitStack() as stack:
            for conn in override.values():
                stack.enter_context(conn.execute_wrapper(_between_requests))
            yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in override.values():
            conn.dec_thread_sharing()


def _asgi_tracker() -> Iterator[str]:
    """torrentpier.asgi served by uvicorn in a thread, with its lifespan (the pool closes at shutdown)."""
    from torrentpier.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with uvicorn_serving(application, "uvicorn-e2e", port=port):
        yield f"http://127.0.0.1:{port}"
