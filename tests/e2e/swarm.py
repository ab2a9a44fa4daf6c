"""libtorrent helpers for the end-to-end tests: make a torrent, run sessions, wait with a deadline."""

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libtorrent as lt

TIMEOUT = 60.0


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


def session() -> Any:
    """A libtorrent session fit for a loopback swarm: no DHT/LSD/UPnP/NAT-PMP, many peers per IP."""
    return lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "allow_multiple_connections_per_ip": True,
            "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.tracker_notification,
            "user_agent": "torrentpier-e2e/1.0",
            "stop_tracker_timeout": 30,
        }
    )


def add(ses: Any, metainfo: bytes, save_path: Path) -> Any:
    """Add a .torrent (as downloaded, with its own announce URL) to `ses`, saving under `save_path`."""
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(metainfo))
    params.save_path = str(save_path)
    return ses.add_torrent(params)
