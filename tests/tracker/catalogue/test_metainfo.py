"""tracker.catalogue.metainfo: validation of v1/v2/hybrid .torrent files, and what every rejection says."""

import contextlib
import hashlib

import pytest
from fastbencode import bdecode, bencode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.catalogue.metainfo import MetainfoError, magnet_uri, metainfo_for_download, metainfo_parse

PIECE = 16384


def v1_info(**overrides: object) -> dict:
    info = {b"name": b"file.bin", b"piece length": PIECE, b"length": 1000, b"pieces": b"x" * 20}
    info.update({k.encode() if isinstance(k, str) else k: v for k, v in overrides.items()})
    return {k: v for k, v in info.items() if v is not None}


def torrent(info: object, **top: object) -> bytes:
    body = {b"announce": b"http://example/announce", b"info": info}
    body.update({k.encode(): v for k, v in top.items()})
    return bencode(body)


def multi_info(files: list, pieces: int = 1) -> dict:
    return {b"name": b"dir", b"piece length": PIECE, b"files": files, b"pieces": b"x" * 20 * pieces}


def test_a_valid_single_file_v1_torrent_is_described() -> None:
    info = v1_info()
    parsed = metainfo_parse(torrent(info))
    assert parsed.info_hash == hashlib.sha1(bencode(info)).hexdigest()
    assert parsed.info_hash_v2 is None
    assert (parsed.name, parsed.size, parsed.piece_length, parsed.is_private) == ("file.bin", 1000, PIECE, False)
    assert [(f.path, f.size) for f in parsed.files] == [("file.bin", 1000)]


def test_padding_files_are_left_out_of_size_and_files() -> None:
    files = [
        {b"length": 10, b"path": [b"a"]},
        {b"attr": b"p", b"length": PIECE - 10, b"path": [b".pad", b"16374"]},
        {b"length": 5, b"path": [b"sub", b"b"]},
        {b"length": 7, b"path": [b"_____padding_file_0_"]},
    ]
    parsed = metainfo_parse(torrent(multi_info(files, pieces=2)))
    assert parsed.size == 15
    assert [(f.path, f.size) for f in parsed.files] == [("a", 10), ("sub/b", 5)]


def test_force_private_changes_the_hash_and_the_stored_bytes() -> None:
    data = torrent(v1_info())
    parsed = metainfo_parse(data, force_private=True)
    assert parsed.is_private
    assert parsed.raw != data
    stored_info = bdecode(parsed.raw)[b"info"]
    assert stored_info[b"private"] == 1
    assert parsed.info_hash == hashlib.sha1(bencode(stored_info)).hexdigest()
    assert parsed.info_hash != metainfo_parse(data).info_hash


def test_an_already_private_torrent_is_stored_unchanged() -> None:
    data = torrent(v1_info(private=1))
    assert metainfo_parse(data, force_private=True).raw == data


REJECTIONS = [
    (b"", "file", "empty"),
    (b"not bencode at all", "file", "Not valid bencode"),
    (torrent(v1_info()) + b"trailing", "file", "Trailing bytes"),
    (b"li1ee", "file", "dictionary"),
    (b"d4:infoi1ee", "info", "dictionary"),
    (bencode({b"announce": b"x"}), "info", "Missing"),
    (torrent(v1_info(name=None)), "info.name", "Missing"),
    (torrent(v1_info(name=5)), "info.name", "byte string"),
    (torrent(v1_info(name=b"..")), "info.name", "not allowed"),
    (torrent(v1_info(**{"piece length": None})), "info.piece length", "Missing"),
    (torrent(v1_info(**{"piece length": b"16384"})), "info.piece length", "integer"),
    (torrent(v1_info(**{"piece length": 0})), "info.piece length", "at least 1"),
    (torrent(v1_info(pieces=None)), "info.pieces", "Missing"),
    (torrent(v1_info(pieces=b"x" * 19)), "info.pieces", "multiple of 20"),
    (torrent(v1_info(pieces=b"x" * 40)), "info.pieces", "needs 1"),
    (torrent(v1_info(pieces=[b"x"])), "info.pieces", "byte string"),
    (torrent(v1_info(length=None)), "info", "Missing 'length'"),
    (torrent(v1_info(length=-1)), "info.length", "negative"),
    (torrent(v1_info(length=b"1")), "info.length", "integer"),
    (torrent(v1_info(length=0, pieces=b"")), "info", "no content"),
    (torrent(v1_info(files=[{b"length": 1, b"path": [b"a"]}])), "info", "both"),
    (torrent(multi_info([])), "info.files", "non-empty list"),
    (torrent(multi_info(b"nope")), "info.files", "non-empty list"),
    (torrent(multi_info([b"x"])), "info.files[0]", "dictionary"),
    (torrent(multi_info([{b"path": [b"a"]}])), "info.files[0].length", "Missing"),
    (torrent(multi_info([{b"length": -5, b"path": [b"a"]}])), "info.files[0].length", "negative"),
    (torrent(multi_info([{b"length": 1}])), "info.files[0].path", "Missing"),
    (torrent(multi_info([{b"length": 1, b"path": []}])), "info.files[0].path", "non-empty list"),
    (torrent(multi_info([{b"length": 1, b"path": [b"..", b"etc", b"passwd"]}])), "info.files[0].path", "not allowed"),
    (torrent(multi_info([{b"length": 1, b"path": [b"/etc/passwd"]}])), "info.files[0].path", "absolute"),
    (torrent(multi_info([{b"length": 1, b"path": [b"a\\..\\b"]}])), "info.files[0].path", "separator"),
    (torrent(multi_info([{b"length": 1, b"path": [b""]}])), "info.files[0].path", "not allowed"),
    (torrent(multi_info([{b"length": 1, b"path": [7]}])), "info.files[0].path", "byte string"),
    (torrent(v1_info(**{"meta version": 3})), "info.meta version", "Only meta version 2"),
    (torrent({b"name": b"x", b"piece length": PIECE, b"meta version": 2}), "info.file tree", "Missing"),
    (
        torrent({b"name": b"x", b"piece length": 1000, b"meta version": 2, b"file tree": {b"x": {b"": {b"length": 1}}}}),
        "info.piece length",
        "power of two",
    ),
    (
        torrent({b"name": b"x", b"piece length": PIECE, b"meta version": 2, b"file tree": {b"x": {b"": {b"length": 5}}}}),
        "info.file tree/x.pieces root",
        "32 bytes",
    ),
    (
        torrent({b"name": b"x", b"piece length": PIECE, b"meta version": 2, b"file tree": {b"..": {b"": {b"length": 0}}}}),
        "info.file tree/..",
        "not allowed",
    ),
    (
        torrent({b"name": b"x", b"piece length": PIECE, b"meta version": 2, b"file tree": {b"x": {b"": {b"length": -1}}}}),
        "info.file tree/x.length",
        "negative",
    ),
]


@pytest.mark.parametrize(("data", "field", "fragment"), REJECTIONS)
def test_malformed_torrents_are_rejected_with_a_precise_message(data: bytes, field: str, fragment: str) -> None:
    with pytest.raises(MetainfoError) as caught:
        metainfo_parse(data)
    assert caught.value.field == field
    assert fragment.lower() in caught.value.message.lower()


def test_deeply_nested_input_is_rejected_not_crashed() -> None:
    with pytest.raises(MetainfoError):
        metainfo_parse(b"d4:info" + b"l" * 200_000 + b"e" * 200_000 + b"e")
    deep: dict = {b"": {b"length": 1, b"pieces root": b"r" * 32}}
    for _ in range(10_000):
        deep = {b"d": deep}
    with pytest.raises(MetainfoError):
        metainfo_parse(torrent({b"name": b"x", b"piece length": PIECE, b"meta version": 2, b"file tree": deep}))


def test_a_hybrid_whose_trees_differ_is_rejected() -> None:
    info = v1_info()
    info.update({b"meta version": 2, b"file tree": {b"other": {b"": {b"length": 1000, b"pieces root": b"r" * 32}}}})
    with pytest.raises(MetainfoError, match="differ"):
        metainfo_parse(torrent(info))


def test_download_rewrites_the_announce_and_keeps_the_info_hash() -> None:
    parsed = metainfo_parse(torrent(v1_info(), **{"announce-list": [[b"http://other/announce"]]}))
    out = bdecode(metainfo_for_download(parsed.raw, announce_url="http://t/announce/abc"))
    assert out[b"announce"] == b"http://t/announce/abc"
    assert out[b"announce-list"] == [[b"http://t/announce/abc"]]
    assert hashlib.sha1(bencode(out[b"info"])).hexdigest() == parsed.info_hash


def test_magnet_has_both_hashes_name_size_and_tracker() -> None:
    link = magnet_uri(name="a b", size=5, info_hash="ab" * 20, info_hash_v2="cd" * 32, announce_url="http://t/announce/k")
    assert link == (
        "magnet:?xt=urn:btih:" + "ab" * 20 + "&xt=urn:btmh:1220" + "cd" * 32 + "&dn=a%20b&xl=5&tr=http%3A%2F%2Ft%2Fannounce%2Fk"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_metainfo_error(data: bytes) -> None:
    with contextlib.suppress(MetainfoError):
        metainfo_parse(data)


_leaf = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.binary(max_size=40))
_value = st.recursive(
    _leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.binary(max_size=12), kids, max_size=4),
    max_leaves=20,
)
_info_keys = st.sampled_from(
    [b"name", b"piece length", b"pieces", b"length", b"files", b"path", b"meta version", b"file tree", b"attr", b"", b"private"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_info_keys, _value, max_size=8), st.booleans())
def test_structured_garbage_in_info_never_raises_anything_but_metainfo_error(info: dict, force_private: bool) -> None:
    with contextlib.suppress(MetainfoError):
        metainfo_parse(torrent(info), force_private=force_private)
