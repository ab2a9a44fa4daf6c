"""Differential test: our metainfo parser against libtorrent on real v1, v2 and hybrid torrents."""

import os
import warnings
from pathlib import Path

import libtorrent as lt
import pytest

from tracker.catalogue.metainfo import metainfo_parse

KINDS = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}


def _make_files(root: Path, layout: dict[str, int]) -> Path:
    for rel, size in layout.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return root


def _libtorrent_bytes(target: Path, flags: int, piece_size: int = 16384) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fs = lt.file_storage()
        lt.add_files(fs, str(target))
        creator = lt.create_torrent(fs, piece_size, flags=flags)
        lt.set_piece_hashes(creator, str(target.parent))
        return lt.bencode(creator.generate())


def _libtorrent_view(data: bytes) -> tuple[str | None, str | None, int, list[tuple[str, int]], int]:
    """(v1 hex, v2 hex, real size, real files relative to the torrent folder, number of padding files)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        info = lt.torrent_info(data)
        hashes = info.info_hashes()
        files = info.files()
        real, pads = [], 0
        for i in range(files.num_files()):
            if files.file_flags(i) & lt.file_storage.flag_pad_file:
                pads += 1
                continue
            path = files.file_path(i)
            # libtorrent prefixes a multi-file torrent's paths with its folder name; we do not.
            path = path.split("/", 1)[1] if "/" in path else path
            real.append((path, files.file_size(i)))
    v1 = str(hashes.v1) if hashes.has_v1() else None
    v2 = str(hashes.v2) if hashes.has_v2() else None
    return v1, v2, sum(size for _, size in real), real, pads


LAYOUTS = {
    "single": {"movie.mkv": 100_003},
    "multi": {"a.bin": 40_000, "sub/b.txt": 70_000, "sub/deeper/c": 5, "z-last.dat": 16_384},
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_info_hashes_size_and_files_equal_libtorrents(tmp_path: Path, kind: str, layout: str) -> None:
    if layout == "single":
        _make_files(tmp_path, LAYOUTS[layout])
        target = tmp_path / "movie.mkv"
    else:
        target = _make_files(tmp_path / "album", LAYOUTS[layout])
    data = _libtorrent_bytes(target, KINDS[kind])
    v1, v2, size, files, pads = _libtorrent_view(data)

    parsed = metainfo_parse(data)

    assert parsed.info_hash == v1
    assert parsed.info_hash_v2 == v2
    assert parsed.size == size == sum(LAYOUTS[layout].values())
    assert sorted((f.path, f.size) for f in parsed.files) == sorted(files)
    assert parsed.version == kind
    if kind == "hybrid" and layout == "multi":
        assert pads > 0, "the hybrid multi-file torrent should carry padding files"


@pytest.mark.parametrize("kind", list(KINDS))
def test_forced_private_hash_equals_libtorrents_hash_of_the_stored_file(tmp_path: Path, kind: str) -> None:
    target = _make_files(tmp_path / "pack", {"one": 20_000, "two": 30_000})
    data = _libtorrent_bytes(target, KINDS[kind])

    parsed = metainfo_parse(data, force_private=True)

    v1, v2, _, _, _ = _libtorrent_view(parsed.raw)
    original_v1, original_v2, _, _, _ = _libtorrent_view(data)
    assert parsed.is_private
    assert (parsed.info_hash, parsed.info_hash_v2) == (v1, v2)
    assert (v1, v2) != (original_v1, original_v2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert lt.torrent_info(parsed.raw).priv()
