"""libtorrent helpers for the end-to-end tests: make a torrent, run sessions, wait with a deadline."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Unpack

import libtorrent as lt
import pytest

if TYPE_CHECKING:
    from libtorrent import settings_pack  # a TypedDict of the stubs only

TIMEOUT = 60.0
# What libtorrent announces with on its defaults: the tracker's client rules check that the two agree.
USER_AGENT = f"libtorrent/{lt.__version__}"  # "libtorrent/2.1.1.0"
FINGERPRINT = lt.generate_fingerprint("LT", *(int(n) for n in lt.__version__.split(".")[:4]))  # "-LT2110-"


def wait_for(condition: Callable[[], bool], what: str, *, sessions: tuple[Any, ...] = (), timeout: float = TIMEOUT) -> None:
    """Poll `condition` (draining the sessions' alerts) until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for session in sessions:
            session.pop_alerts()
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def make_torrent(directory: Path, name: str, *, size: int, v1_only: bool) -> tuple[bytes, Path]:
    """Random data under directory/name and its private .torrent (v1 only, or hybrid v1+v2)."""
    data = directory / name
    data.write_bytes(os.urandom(size))
    creator = lt.create_torrent(lt.list_files(str(data)), 32768, lt.create_torrent.v1_only if v1_only else 0)
    creator.set_priv(True)
    creator.add_tracker("http://127.0.0.1/announce")
    lt.set_piece_hashes(creator, str(directory))
    return lt.bencode(creator.generate()), data


def info_hashes(metainfo: bytes) -> tuple[str, str | None]:
    """(v1 hex, v2 hex or None) as libtorrent computes them."""
    hashes = lt.torrent_info(lt.bdecode(metainfo)).info_hashes()
    v2 = hashes.v2.to_bytes().hex() if hashes.has_v2() else None
    return hashes.v1.to_bytes().hex(), v2


def session(**overrides: Unpack[settings_pack]) -> Any:
    """A libtorrent session fit for a loopback swarm: no DHT/LSD/UPnP/NAT-PMP, many peers per IP.

    It announces as libtorrent does on its defaults (peer_id FINGERPRINT,
    User-Agent USER_AGENT), which the tracker's default client rules allow.
    `overrides` are further settings: "peer_fingerprint" and "user_agent"
    make it announce as another client.
    """
    settings: settings_pack = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.tracker_notification,
        "stop_tracker_timeout": 30,
    }
    settings.update(overrides)
    return lt.session(settings)


class TrackerError(NamedTuple):
    """A tracker_error_alert's contents, copied out (an alert is only valid until the session's next pop_alerts)."""

    url: str
    failure_reason: str  # the tracker's `failure reason`, as the client shows it
    error: str  # the error code's message ("tracker sent a failure message" for a refusal)
    message: str  # the alert's whole line


def tracker_error(handle: Any, ses: Any, what: str, *, sessions: tuple[Any, ...] = (), timeout: float = TIMEOUT) -> TrackerError:
    """Wait for the first tracker_error_alert on `handle` (a torrent of `ses`), draining `sessions` meanwhile."""
    deadline = time.monotonic() + timeout
    seen = []  # the torrent's other alerts, for the failure's message
    while time.monotonic() < deadline:
        for other in sessions:
            if other is not ses:
                other.pop_alerts()
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.tracker_error_alert) and alert.handle == handle:
                return TrackerError(alert.tracker_url(), alert.failure_reason(), alert.error.message(), alert.message())
            if isinstance(alert, lt.torrent_alert) and alert.handle == handle:
                seen.append(f"{type(alert).__name__}: {alert.message()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; the torrent's alerts: {seen[-20:]}")


def add(ses: Any, metainfo: bytes, save_path: Path) -> Any:
    """Add a .torrent (as downloaded, with its own announce URL) to `ses`, saving under `save_path`."""
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(metainfo))
    params.save_path = str(save_path)
    return ses.add_torrent(params)


def announcing(handle: Any) -> bool:
    """Is an announce of `handle` still waiting for the tracker's answer?

    libtorrent sends no `stopped` to an endpoint whose announce is in flight:
    a torrent removed right after its `completed` went out (the tracker may
    have recorded it already) leaves its peer behind until the peer expires.
    """
    return any(ih["updating"] for tracker in handle.trackers() for ep in tracker["endpoints"] for ih in ep["info_hashes"])


def tool(name: str) -> str:
    """The installed program `name`; the test is skipped without it (it fails when REQUIRE_SYSTEM_TOOLS is set)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(f"{name} is required (REQUIRE_SYSTEM_TOOLS is set)")
        pytest.skip(f"{name} is not installed")
    return path


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free now (held open together, so the kernel cannot hand one out twice)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type (qBittorrent's torrents/add takes the .torrent as a file)."""
    boundary = f"----e2e{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        parts.append(f"{head}Content-Type: application/x-bittorrent\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def webui_call(url: str, body: bytes | None, content_type: str, *, daemon_gone: Callable[[], str | None], retry: bool = True) -> bytes:
    """One call to a client's Web API (qBittorrent's): a refused connection is retried for 20 s (the
    daemon re-binds its WebUI when it applies its preferences) unless `daemon_gone()` says the daemon
    exited, which fails the test with what it returned (its log)."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return bytes(response.read())
        except urllib.error.URLError as exc:
            if not retry or not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            gone = daemon_gone()
            if gone is not None:
                raise AssertionError(f"the client's daemon exited:\n{gone}") from exc
            time.sleep(0.2)


@contextlib.contextmanager
def uvicorn_serving(application: Any, name: str, *, port: int = 0, sockets: list[socket.socket] | None = None) -> Iterator[Any]:
    """`application` under uvicorn in a thread (lifespan on), on 127.0.0.1:`port` or on `sockets`,
    started before the block and stopped after it."""
    import uvicorn

    where = {} if sockets else {"host": "127.0.0.1", "port": port}
    server = uvicorn.Server(uvicorn.Config(application, lifespan="on", log_level="warning", **where))
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets} if sockets else {}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
