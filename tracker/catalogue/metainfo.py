""".torrent (metainfo) parsing and validation: BEP 3 (v1), BEP 52 (v2) and hybrids.

`metainfo_parse` decides whether uploaded bytes are a torrent we accept and
returns what the catalogue stores: info hashes, total size (padding files
excluded), piece length, file list, private flag and the bytes to keep.
Every rejection is a `MetainfoError` naming the offending field, so the API
can answer 422 with a precise message; nothing in here may raise anything
else on hostile input.

`metainfo_for_download` rewrites the tracker part (announce, announce-list)
for one user and leaves `info` byte-for-byte unchanged, so the info hash of
the downloaded file equals the registered one.
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastbencode import bdecode, bencode

# Bounds that keep a hostile file from costing us more than a real one would.
MAX_FILES = 100_000
MAX_PATH_DEPTH = 64
MAX_PIECE_LENGTH = 1 << 30
MAX_TOTAL_SIZE = 1 << 60
V2_MIN_PIECE_LENGTH = 16 * 1024
LEGACY_PADDING_PREFIX = "_____padding_file_"


class MetainfoError(Exception):
    """The bytes are not a torrent we accept; `field` says where, `message` why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class MetainfoFile:
    """One real (non-padding) file: its path inside the torrent and its size."""

    path: str
    size: int


@dataclass(frozen=True)
class Metainfo:
    """A validated torrent, as the catalogue stores it."""

    raw: bytes
    name: str
    info_hash: str | None
    info_hash_v2: str | None
    size: int
    piece_length: int
    is_private: bool
    files: list[MetainfoFile] = field(default_factory=list)

    @property
    def version(self) -> str:
        """'v1', 'v2' or 'hybrid'."""
        if self.info_hash and self.info_hash_v2:
            return "hybrid"
        return "v2" if self.info_hash_v2 else "v1"


def _decode(data: bytes) -> dict[bytes, Any]:
    if not isinstance(data, bytes | bytearray) or not data:
        raise MetainfoError("file", "The file is empty.")
    try:
        top = bdecode(bytes(data))
    except ValueError as exc:
        message = str(exc)
        if "junk" in message:
            raise MetainfoError("file", "Trailing bytes after the bencoded torrent.") from None
        raise MetainfoError("file", f"Not valid bencode: {message}.") from None
    except (RecursionError, MemoryError, OverflowError, TypeError):
        raise MetainfoError("file", "Not valid bencode: nested too deeply or too large.") from None
    if not isinstance(top, dict):
        raise MetainfoError("file", "The torrent must be a bencoded dictionary.")
    try:
        canonical = bencode(top) == bytes(data)
    except (RecursionError, ValueError, TypeError, OverflowError):
        canonical = False
    if not canonical:
        # fastbencode is strict (sorted keys, no leading zeros), so this only
        # guards the promise that re-encoding `info` gives the hashed bytes.
        raise MetainfoError("file", "The torrent is not in canonical bencode form.")
    return top


def _text(value: Any, where: str) -> str:
    if not isinstance(value, bytes):
        raise MetainfoError(where, "Must be a byte string.")
    return value.decode("utf-8", errors="replace")


def _int(container: dict[bytes, Any], key: bytes, where: str, *, minimum: int = 0, maximum: int = MAX_TOTAL_SIZE) -> int:
    if key not in container:
        raise MetainfoError(where, "Missing.")
    value = container[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise MetainfoError(where, "Must be an integer.")
    if value < minimum:
        raise MetainfoError(where, "Must not be negative." if minimum == 0 else f"Must be at least {minimum}.")
    if value > maximum:
        raise MetainfoError(where, f"Must be at most {maximum}.")
    return value


def _component(raw: Any, where: str) -> str:
    """One path component; refuse anything that could escape the download directory."""
    name = _text(raw, where)
    if name in ("", ".", ".."):
        raise MetainfoError(where, f"Path component {name!r} is not allowed.")
    if "/" in name or "\\" in name or "\x00" in name:
        raise MetainfoError(where, f"Path component {name!r} contains a separator or NUL (absolute or nested path).")
    return name


def _name(info: dict[bytes, Any]) -> str:
    if b"name" not in info:
        raise MetainfoError("info.name", "Missing.")
    return _component(info[b"name"], "info.name")


def _v1_files(info: dict[bytes, Any], name: str) -> tuple[list[MetainfoFile], int]:
    """(real files, total length including padding) of a v1 info dict.

    A single file is listed under the torrent's name; the files of a
    multi-file torrent by their path inside the torrent's folder.
    """
    has_length, has_files = b"length" in info, b"files" in info
    if has_length and has_files:
        raise MetainfoError("info", "Has both 'length' and 'files'.")
    if not has_length and not has_files:
        raise MetainfoError("info", "Missing 'length' (single file) or 'files' (multiple files).")
    if has_length:
        length = _int(info, b"length", "info.length")
        return [MetainfoFile(name, length)], length
    entries = info[b"files"]
    if not isinstance(entries, list) or not entries:
        raise MetainfoError("info.files", "Must be a non-empty list.")
    if len(entries) > MAX_FILES:
        raise MetainfoError("info.files", f"More than {MAX_FILES} files.")
    files: list[MetainfoFile] = []
    total = 0
    for i, entry in enumerate(entries):
        where = f"info.files[{i}]"
        if not isinstance(entry, dict):
            raise MetainfoError(where, "Must be a dictionary.")
        length = _int(entry, b"length", f"{where}.length")
        parts = entry.get(b"path")
        if not isinstance(parts, list) or not parts:
            raise MetainfoError(f"{where}.path", "Missing or not a non-empty list.")
        if len(parts) > MAX_PATH_DEPTH:
            raise MetainfoError(f"{where}.path", f"Deeper than {MAX_PATH_DEPTH} components.")
        path = "/".join(_component(p, f"{where}.path") for p in parts)
        attr = entry.get(b"attr", b"")
        is_padding = (isinstance(attr, bytes) and b"p" in attr) or path.rsplit("/", 1)[-1].startswith(LEGACY_PADDING_PREFIX)
        total += length
        if total > MAX_TOTAL_SIZE:
            raise MetainfoError("info.files", "Total size too large.")
        if not is_padding:
            files.append(MetainfoFile(path, length))
    return files, total


def _v2_files(info: dict[bytes, Any]) -> list[MetainfoFile]:
    """The files of a BEP 52 `file tree`, in tree (sorted path) order."""
    tree = info.get(b"file tree")
    if not isinstance(tree, dict) or not tree:
        raise MetainfoError("info.file tree", "Missing or not a non-empty dictionary.")
    files: list[MetainfoFile] = []
    # Iterative walk: a hostile tree may be nested far deeper than Python's stack.
    stack: list[tuple[dict[bytes, Any], list[str]]] = [(tree, [])]
    while stack:
        node, prefix = stack.pop()
        for key in sorted(node, reverse=True):
            value = node[key]
            where = "info.file tree/" + "/".join([*prefix, key.decode("utf-8", "replace")])
            if not isinstance(value, dict):
                raise MetainfoError(where, "Must be a dictionary.")
            if key == b"":
                raise MetainfoError(where, "A file entry must be inside a named directory entry.")
            component = _component(key, where)
            if b"" in value:
                if len(value) != 1:
                    raise MetainfoError(where, "A file entry must not also be a directory.")
                leaf = value[b""]
                if not isinstance(leaf, dict):
                    raise MetainfoError(where, "File entry must be a dictionary.")
                length = _int(leaf, b"length", f"{where}.length")
                if length > 0:
                    root = leaf.get(b"pieces root")
                    if not isinstance(root, bytes) or len(root) != 32:
                        raise MetainfoError(f"{where}.pieces root", "Must be 32 bytes for a non-empty file.")
                files.append(MetainfoFile("/".join([*prefix, component]), length))
                if len(files) > MAX_FILES:
                    raise MetainfoError("info.file tree", f"More than {MAX_FILES} files.")
            else:
                if len(prefix) + 1 >= MAX_PATH_DEPTH:
                    raise MetainfoError(where, f"Deeper than {MAX_PATH_DEPTH} components.")
                if not value:
                    raise MetainfoError(where, "Empty directory.")
                stack.append((value, [*prefix, component]))
    files.sort(key=lambda f: f.path.split("/"))
    return files


def _check_v1_pieces(info: dict[bytes, Any], piece_length: int, total: int) -> None:
    pieces = info.get(b"pieces")
    if not isinstance(pieces, bytes):
        raise MetainfoError("info.pieces", "Must be a byte string.")
    if len(pieces) % 20:
        raise MetainfoError("info.pieces", "Length must be a multiple of 20.")
    expected = -(-total // piece_length)
    if len(pieces) // 20 != expected:
        raise MetainfoError("info.pieces", f"Has {len(pieces) // 20} hashes; the total length needs {expected}.")


def _is_v2(info: dict[bytes, Any]) -> bool:
    if b"meta version" not in info:
        return False
    version = info[b"meta version"]
    if version != 2 or isinstance(version, bool):
        raise MetainfoError("info.meta version", "Only meta version 2 is supported.")
    return True


def metainfo_parse(data: bytes, *, force_private: bool = False) -> Metainfo:
    """Validate `data` as a v1, v2 or hybrid torrent and describe it.

    With `force_private`, `info.private` is set to 1 first: the info hashes
    and the returned `raw` bytes are those of the changed torrent.
    """
    top = _decode(data)
    if b"info" not in top:
        raise MetainfoError("info", "Missing.")
    info = top[b"info"]
    if not isinstance(info, dict):
        raise MetainfoError("info", "Must be a dictionary.")
    name = _name(info)
    piece_length = _int(info, b"piece length", "info.piece length", minimum=1, maximum=MAX_PIECE_LENGTH)
    is_v2 = _is_v2(info)
    is_v1 = b"pieces" in info or b"length" in info or b"files" in info or not is_v2
    if is_v1 and b"pieces" not in info:
        raise MetainfoError("info.pieces", "Missing.")
    if is_v2:
        if piece_length < V2_MIN_PIECE_LENGTH or piece_length & (piece_length - 1):
            raise MetainfoError("info.piece length", "Must be a power of two of at least 16 KiB for a v2 torrent.")
        layers = top.get(b"piece layers", {})
        if not isinstance(layers, dict):
            raise MetainfoError("piece layers", "Must be a dictionary.")
    files: list[MetainfoFile]
    if is_v1:
        files, v1_total = _v1_files(info, name)
        _check_v1_pieces(info, piece_length, v1_total)
    if is_v2:
        v2_files = _v2_files(info)
        if not is_v1:
            files = v2_files
        elif _hybrid_key(files, name, single=b"length" in info) != _hybrid_key(v2_files, name, single=False):
            raise MetainfoError("info", "The v1 file list and the v2 file tree of this hybrid torrent differ.")
    size = sum(f.size for f in files)
    if size == 0:
        raise MetainfoError("info", "The torrent has no content (total size 0).")
    private = info.get(b"private") == 1
    raw = bytes(data)
    if force_private and not private:
        info[b"private"] = 1
        private = True
        raw = bencode(top)
    encoded_info = bencode(info)
    return Metainfo(
        raw=raw,
        name=name,
        info_hash=hashlib.sha1(encoded_info).hexdigest() if is_v1 else None,
        info_hash_v2=hashlib.sha256(encoded_info).hexdigest() if is_v2 else None,
        size=size,
        piece_length=piece_length,
        is_private=private,
        files=files,
    )


def _hybrid_key(files: list[MetainfoFile], name: str, *, single: bool) -> list[tuple[str, int]]:
    """Comparable (path, size) list: a v2 single file is the tree entry named like the torrent."""
    if single:
        return [(name, files[0].size)]
    return sorted((f.path, f.size) for f in files)


def metainfo_for_download(raw: bytes, *, announce_url: str) -> bytes:
    """`raw` with `announce` = `announce_url` and `announce-list` = [[announce_url]]; `info` untouched."""
    top = bdecode(raw)
    top[b"announce"] = announce_url.encode()
    top[b"announce-list"] = [[announce_url.encode()]]
    return bencode(top)


def magnet_uri(*, name: str, size: int, info_hash: str | None, info_hash_v2: str | None, announce_url: str | None = None) -> str:
    """A magnet link (BEP 9 / BEP 52): btih and/or btmh, dn, xl, and tr when given."""
    parts = []
    if info_hash:
        parts.append(f"xt=urn:btih:{info_hash}")
    if info_hash_v2:
        parts.append(f"xt=urn:btmh:1220{info_hash_v2}")
    parts.append(f"dn={quote(name, safe='')}")
    parts.append(f"xl={size}")
    if announce_url:
        parts.append(f"tr={quote(announce_url, safe='')}")
    return "magnet:?" + "&".join(parts)
