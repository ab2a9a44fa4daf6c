"""Helpers for tracker tests: build raw announce and scrape query strings as clients do, and decode replies."""

from typing import Any
from urllib.parse import quote_from_bytes

from fastbencode import bdecode


def peer_id(n: int) -> bytes:
    """A 20-byte peer id in Azureus style, distinct per `n`."""
    return b"-qB4650-" + f"{n:012d}".encode()


def announce_qs(info_hash: bytes | str, pid: bytes, **params: Any) -> str:
    """A raw announce query string with binary values percent-encoded as clients do."""
    if isinstance(info_hash, str):
        info_hash = bytes.fromhex(info_hash)
    fields: dict[str, Any] = {"port": 6881, "uploaded": 0, "downloaded": 0, "left": 1000}
    fields.update(params)
    parts = [f"info_hash={quote_from_bytes(info_hash)}", f"peer_id={quote_from_bytes(pid)}"]
    parts += [f"{k}={quote_from_bytes(v) if isinstance(v, bytes) else v}" for k, v in fields.items() if v is not None]
    return "&".join(parts)


def scrape_qs(*hashes: str | bytes) -> str:
    """A raw scrape query string: one `info_hash` per hash (hex or bytes), percent-encoded."""
    return "&".join(f"info_hash={quote_from_bytes(bytes.fromhex(h) if isinstance(h, str) else h)}" for h in hashes)


def announce(client: Any, passkey: str, info_hash: bytes | str, pid: bytes, *, remote: str = "10.0.0.1", **params: Any) -> dict:
    """GET /announce/<passkey> and return the decoded bencoded reply (asserting the transport rules)."""
    response = client.get(f"/announce/{passkey}?{announce_qs(info_hash, pid, **params)}", REMOTE_ADDR=remote)
    return reply(response)


def reply(response: Any) -> dict:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"
    return bdecode(response.content)
