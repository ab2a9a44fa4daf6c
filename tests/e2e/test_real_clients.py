"""Real BitTorrent clients against the live tracker: libtorrent to libtorrent (v1 and hybrid), then aria2c.

The seeder's .torrent is registered through the catalogue's service; every
client then uses the .torrent its user downloaded through the API (their own
passkey in the announce URL). Afterwards the tracker's figures must agree
with what the clients say they transferred.
"""

import os
import shutil
import subprocess

import pytest
from fastbencode import bdecode
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.e2e.swarm import TIMEOUT, add, info_hashes, make_torrent, session, wait_for
from tests.factories import ForumFactory, UserFactory
from tracker.catalogue.services import torrent_register
from tracker.models import Peer, Snatch, Torrent

pytestmark = pytest.mark.e2e
SIZE = 3 * 1024 * 1024 + 12345


def register(metainfo: bytes, uploader, name: str) -> Torrent:
    """Register the seeder's .torrent through the catalogue, as an upload would."""
    return torrent_register(uploader=uploader, forum=ForumFactory(), metainfo_bytes=metainfo, name=name)


def downloaded_torrent(torrent: Torrent, user, tracker_url: str) -> bytes:
    """GET /api/torrents/{id}/download as `user`: the .torrent with their passkey in the announce URL."""
    response = bearer(APIClient(), user).get(f"/api/torrents/{torrent.id}/download")
    assert response.status_code == 200, response.content
    assert bdecode(response.content)[b"announce"] == f"{tracker_url}/announce?uk={user.passkey}".encode()
    return response.content


@pytest.fixture(autouse=True)
def _announce_to_the_live_tracker(tracker_url, settings):
    settings.TRACKER_ANNOUNCE_URL = tracker_url


@pytest.mark.parametrize("kind", ["v1", "hybrid"])
def test_a_libtorrent_leecher_downloads_from_a_libtorrent_seeder(tracker_url, tmp_path, kind):
    seeder_user, leecher_user = UserFactory(), UserFactory()
    (tmp_path / "seed").mkdir()
    (tmp_path / "leech").mkdir()
    metainfo, _ = make_torrent(tmp_path / "seed", f"payload-{kind}.bin", size=SIZE, v1_only=kind == "v1")
    torrent = register(metainfo, seeder_user, f"e2e {kind}")
    assert (torrent.info_hash, torrent.info_hash_v2) == info_hashes(metainfo)
    assert (torrent.info_hash_v2 is not None) == (kind == "hybrid")

    seed_ses, leech_ses = session(), session()
    sessions = (seed_ses, leech_ses)
    seed = add(seed_ses, downloaded_torrent(torrent, seeder_user, tracker_url), tmp_path / "seed")
    wait_for(
        lambda: seed.status().is_seeding and Peer.objects.filter(torrent=torrent, user=seeder_user, is_seeder=True).exists(),
        "the seeder to check its data and announce",
        sessions=sessions,
    )
    leech = add(leech_ses, downloaded_torrent(torrent, leecher_user, tracker_url), tmp_path / "leech")
    wait_for(lambda: leech.status().is_seeding, "the leecher to finish downloading", sessions=sessions)
    wait_for(
        lambda: Snatch.objects.filter(user=leecher_user, torrent=torrent, completed_at__isnull=False).exists(),
        "the leecher's completed announce",
        sessions=sessions,
    )
    assert (tmp_path / "leech" / f"payload-{kind}.bin").read_bytes() == (tmp_path / "seed" / f"payload-{kind}.bin").read_bytes()

    uploaded = seed.status().total_payload_upload
    downloaded = leech.status().total_payload_download
    # removing the torrents sends `stopped` with the final counters
    seed_ses.remove_torrent(seed)
    leech_ses.remove_torrent(leech)
    wait_for(lambda: not Peer.objects.filter(torrent=torrent).exists(), "both stopped announces", sessions=sessions)

    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers, torrent.completed) == (0, 0, 1)
    seeder_user.refresh_from_db()
    leecher_user.refresh_from_db()
    assert leecher_user.downloaded == downloaded, (leecher_user.downloaded, downloaded)
    assert seeder_user.uploaded == uploaded, (seeder_user.uploaded, uploaded)
    assert SIZE <= leecher_user.downloaded <= SIZE * 1.1
    seed_snatch = Snatch.objects.get(user=seeder_user, torrent=torrent)
    assert seed_snatch.completed_at is None and seed_snatch.uploaded == uploaded
    leech_snatch = Snatch.objects.get(user=leecher_user, torrent=torrent)
    assert leech_snatch.times_completed == 1 and leech_snatch.downloaded == downloaded

    history = bearer(APIClient(), leecher_user).get("/api/me/history").json()
    assert history["meta"]["total"] == 1
    assert history["data"][0]["torrent"]["id"] == torrent.id
    assert history["data"][0]["completed_at"] is not None
    assert history["data"][0]["downloaded"] == downloaded


def test_aria2c_downloads_from_a_libtorrent_seeder(tracker_url, tmp_path):
    aria2c = shutil.which("aria2c")
    if aria2c is None:
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail("aria2c is required (REQUIRE_SYSTEM_TOOLS is set): apt-get install aria2")
        pytest.skip("aria2c is not installed")
    seeder_user, aria_user = UserFactory(), UserFactory()
    (tmp_path / "seed").mkdir()
    (tmp_path / "aria").mkdir()
    metainfo, data = make_torrent(tmp_path / "seed", "payload-aria.bin", size=SIZE, v1_only=True)
    torrent = register(metainfo, seeder_user, "e2e aria2")
    seed_ses = session()
    seed = add(seed_ses, downloaded_torrent(torrent, seeder_user, tracker_url), tmp_path / "seed")
    wait_for(
        lambda: seed.status().is_seeding and Peer.objects.filter(torrent=torrent, is_seeder=True).exists(),
        "the seeder to announce",
        sessions=(seed_ses,),
    )
    torrent_file = tmp_path / "aria.torrent"
    torrent_file.write_bytes(downloaded_torrent(torrent, aria_user, tracker_url))

    result = subprocess.run(
        [
            aria2c, f"--dir={tmp_path / 'aria'}", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--seed-time=0", "--listen-port=49152-65000", "--file-allocation=none",
            "--summary-interval=0", "--console-log-level=warn", f"--bt-stop-timeout={int(TIMEOUT)}", "--disable-ipv6=true",
            str(torrent_file),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 30,
        check=False,
    )  # fmt: skip
    seed_ses.pop_alerts()
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "aria" / "payload-aria.bin").read_bytes() == data.read_bytes()
    # aria2 never sends `completed`: it stops with left=0, which completes the snatch
    wait_for(lambda: not Peer.objects.filter(torrent=torrent, user=aria_user).exists(), "aria2's stopped announce", sessions=(seed_ses,))
    snatch = Snatch.objects.get(user=aria_user, torrent=torrent)
    assert snatch.completed_at is not None and snatch.left == 0
    torrent.refresh_from_db()
    assert torrent.completed == 1
    aria_user.refresh_from_db()
    assert SIZE <= aria_user.downloaded <= SIZE * 1.1
    seed_ses.remove_torrent(seed)
    wait_for(lambda: not Peer.objects.filter(torrent=torrent).exists(), "the seeder's stopped announce", sessions=(seed_ses,))
    seeder_user.refresh_from_db()
    assert seeder_user.uploaded >= SIZE
