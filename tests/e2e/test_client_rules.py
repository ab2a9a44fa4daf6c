"""The site's rules as a real client meets them: libtorrent announcing to the live tracker on the default policy.

A refused announce must reach the member as their client shows it: the
tracker's `failure reason`, word for word, in libtorrent's tracker alert
(tracker.policy.clients.client_verdict for the client rules,
tracker.policy.standing.Refusal.reason for leech slots and peer limits).
Clients the rules allow swarm as before (test_real_clients.py); here their
peer rows must carry libtorrent's real User-Agent, and the real Transmission
and qBittorrent, when installed, swarm on their own peer_id and User-Agent.
"""

import base64
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from accounts.models import User
from tests.e2e.swarm import (
    FINGERPRINT,
    USER_AGENT,
    TrackerError,
    add,
    announcing,
    free_ports,
    make_torrent,
    multipart,
    session,
    tool,
    tracker_error,
    wait_for,
    webui_call,
)
from tests.e2e.test_real_clients import downloaded_torrent, register
from tests.factories import UserFactory
from tracker.models import Peer, Snatch

pytestmark = pytest.mark.e2e
SIZE = 256 * 1024 + 777
GIB = 1024**3


@pytest.fixture(autouse=True)
def _announce_to_the_live_tracker(tracker_url, settings):
    settings.TRACKER_ANNOUNCE_URL = tracker_url


def _refused(alert: TrackerError, reason: str, url: str) -> None:
    """`alert` is the tracker's refusal with `reason` (a failure message, not a network error) from `url`."""
    assert alert.failure_reason == reason, alert
    assert alert.error == "tracker sent a failure message", alert  # libtorrent's words for a `failure reason` reply
    assert alert.url == url, alert
    assert reason in alert.message, alert


@pytest.mark.parametrize(
    ("fingerprint", "user_agent", "reason"),
    [
        ("-BC0170-", "BitComet/1.70", "Client banned: BitComet 1.70 (this tracker's client rules)"),
        (
            "-qB4100-",
            "qBittorrent/4.1.0",
            "Client not allowed: qBittorrent 4.1.0 is older than 4.3 (this tracker's client rules)",
        ),
        # The e2e helper's former User-Agent: libtorrent's peer_id with a User-Agent naming another program.
        (
            FINGERPRINT,
            "torrentpier-e2e/1.0",
            "User-Agent does not match the peer_id: the peer_id says libtorrent 2.1.1, the User-Agent says 'torrentpier-e2e/1.0'",
        ),
    ],
    ids=["denied", "too-old", "ua-mismatch"],
)
def test_a_refused_client_shows_the_trackers_reason(tracker_url, tmp_path, fingerprint, user_agent, reason):
    member = UserFactory()
    metainfo, _ = make_torrent(tmp_path, "payload.bin", size=SIZE, v1_only=True)
    torrent = register(metainfo, UserFactory(), "e2e refused client")
    (tmp_path / "client").mkdir()

    ses = session(peer_fingerprint=fingerprint, user_agent=user_agent)
    handle = add(ses, downloaded_torrent(torrent, member, tracker_url), tmp_path / "client")
    alert = tracker_error(handle, ses, "the tracker's refusal")

    _refused(alert, reason, f"{tracker_url}/announce?uk={member.passkey}")
    assert not Peer.objects.filter(torrent=torrent).exists()
    assert not Snatch.objects.filter(torrent=torrent).exists()


def test_a_member_over_their_leech_slots_is_refused_and_a_seeder_is_not(tracker_url, tmp_path):
    """Ratio 0.10 after 10 GiB: one leech slot (the default bands), taken by a torrent nobody seeds yet."""
    member, uploader = UserFactory(), UserFactory()
    # Both below every slot band; the uploader too, to show that seeding needs no slot.
    User.objects.filter(pk__in=[member.pk, uploader.pk]).update(downloaded=10 * GIB, uploaded=GIB)
    for d in ("a-seed", "b-seed", "member", "uploader"):
        (tmp_path / d).mkdir()
    meta_a, _ = make_torrent(tmp_path / "a-seed", "a.bin", size=SIZE, v1_only=True)
    meta_b, _ = make_torrent(tmp_path / "b-seed", "b.bin", size=SIZE, v1_only=True)
    first = register(meta_a, UserFactory(), "e2e slot holder")
    second = register(meta_b, uploader, "e2e second torrent")

    member_ses, uploader_ses = session(), session()
    sessions = (member_ses, uploader_ses)
    # The first torrent has no seeder: both leech it and stay leeching, each holding their one slot.
    holder = add(member_ses, downloaded_torrent(first, member, tracker_url), tmp_path / "member")
    add(uploader_ses, downloaded_torrent(first, uploader, tracker_url), tmp_path / "uploader")
    wait_for(
        lambda: Peer.objects.filter(torrent=first, is_seeder=False).count() == 2,
        "both leechers of the first torrent to announce",
        sessions=sessions,
    )
    assert set(Peer.objects.filter(torrent=first).values_list("user_agent", flat=True)) == {USER_AGENT}

    seed = add(uploader_ses, downloaded_torrent(second, uploader, tracker_url), tmp_path / "b-seed")
    wait_for(
        lambda: seed.status().is_seeding and Peer.objects.filter(torrent=second, user=uploader, is_seeder=True).exists(),
        "the uploader's seeder to be accepted",
        sessions=sessions,
    )
    leech = add(member_ses, downloaded_torrent(second, member, tracker_url), tmp_path / "member")
    alert = tracker_error(leech, member_ses, "the member's refused leech", sessions=sessions)

    _refused(
        alert,
        "No leech slot free: you are leeching 1 torrents and your ratio allows 1 at once; "
        "finish or stop one, or raise your ratio (seeding is always allowed)",
        f"{tracker_url}/announce?uk={member.passkey}",
    )
    assert list(Peer.objects.filter(torrent=second).values_list("user_id", "is_seeder", "user_agent")) == [(uploader.pk, True, USER_AGENT)]
    assert leech.status().total_payload_download == 0
    assert User.objects.filter(pk=member.pk, downloaded=10 * GIB, uploaded=GIB).exists()

    # Stopping the slot holder frees the slot: the member's next announce of the second torrent goes through.
    member_ses.remove_torrent(holder)
    wait_for(lambda: not Peer.objects.filter(torrent=first, user=member).exists(), "the slot holder's stop", sessions=sessions)
    leech.force_reannounce()
    wait_for(lambda: leech.status().is_seeding, "the member to download the second torrent", sessions=sessions)
    # the tracker counts the member's completion; they seed now, with no slot
    wait_for(
        lambda: Peer.objects.filter(torrent=second, user=member, is_seeder=True).exists(),
        "the member's completed announce",
        sessions=sessions,
    )
    assert (tmp_path / "member" / "b.bin").read_bytes() == (tmp_path / "b-seed" / "b.bin").read_bytes()
    _stop_all(sessions)


def test_a_members_fourth_client_on_a_torrent_is_refused(tracker_url, tmp_path):
    """The default policy: 3 peers per member per torrent; the fourth client sees the limit."""
    member = UserFactory()
    metainfo, _ = make_torrent(tmp_path, "payload.bin", size=SIZE, v1_only=True)
    torrent = register(metainfo, UserFactory(), "e2e peer limit")
    clients = [session() for _ in range(4)]
    handles = []
    for i, ses in enumerate(clients[:3]):
        (tmp_path / f"c{i}").mkdir()
        handles.append(add(ses, downloaded_torrent(torrent, member, tracker_url), tmp_path / f"c{i}"))
    wait_for(lambda: Peer.objects.filter(torrent=torrent, user=member).count() == 3, "three clients", sessions=tuple(clients))

    (tmp_path / "c3").mkdir()
    fourth = add(clients[3], downloaded_torrent(torrent, member, tracker_url), tmp_path / "c3")
    alert = tracker_error(fourth, clients[3], "the fourth client's refusal", sessions=tuple(clients))

    _refused(
        alert,
        "Peer limit reached: you have 3 clients on this torrent, the limit is 3",
        f"{tracker_url}/announce?uk={member.passkey}",
    )
    assert Peer.objects.filter(torrent=torrent, user=member).count() == 3
    _stop_all(tuple(clients))


def test_an_allowed_libtorrent_announces_with_its_real_user_agent(tracker_url, tmp_path):
    """libtorrent on its defaults is let in, and its peer rows keep what it sent: peer_id and User-Agent agree."""
    seeder_user, leecher_user = UserFactory(), UserFactory()
    (tmp_path / "seed").mkdir()
    (tmp_path / "leech").mkdir()
    # v1 only: libtorrent sends a hybrid torrent's v1 and v2 announces at once; on the concurrent ASGI front the
    # other hash's older `started` can land after `completed` and turn the peer back to leeching (an announce issue).
    metainfo, data = make_torrent(tmp_path / "seed", "payload.bin", size=SIZE, v1_only=True)
    torrent = register(metainfo, seeder_user, "e2e real user agent")
    seed_ses, leech_ses = session(), session()
    sessions = (seed_ses, leech_ses)
    assert seed_ses.get_settings()["user_agent"] == USER_AGENT  # the helper leaves libtorrent's own

    add(seed_ses, downloaded_torrent(torrent, seeder_user, tracker_url), tmp_path / "seed")
    wait_for(lambda: Peer.objects.filter(torrent=torrent, is_seeder=True).exists(), "the seeder's announce", sessions=sessions)
    leech = add(leech_ses, downloaded_torrent(torrent, leecher_user, tracker_url), tmp_path / "leech")
    wait_for(lambda: leech.status().is_seeding, "the leecher to finish downloading", sessions=sessions)
    wait_for(
        lambda: Peer.objects.filter(torrent=torrent, user=leecher_user, is_seeder=True).exists(),
        "the leecher's completed announce",
        sessions=sessions,
    )

    rows = list(Peer.objects.filter(torrent=torrent).order_by("user_id").values_list("user_id", "peer_id", "user_agent"))
    assert [(user_id, agent) for user_id, _, agent in rows] == [(seeder_user.pk, USER_AGENT), (leecher_user.pk, USER_AGENT)]
    assert all(bytes(peer_id).startswith(FINGERPRINT.encode()) for _, peer_id, _ in rows), rows
    assert (tmp_path / "leech" / "payload.bin").read_bytes() == data.read_bytes()
    _stop_all(sessions)


def _stop_all(sessions: tuple) -> None:
    """Remove every torrent (each sends `stopped`) and wait until the tracker has no peers left."""
    handles = [handle for ses in sessions for handle in ses.get_torrents()]
    # libtorrent sends no `stopped` to a tracker whose previous announce is still unanswered
    wait_for(lambda: not any(map(announcing, handles)), "the clients' announces to be answered", sessions=sessions)
    for ses in sessions:
        for handle in ses.get_torrents():
            ses.remove_torrent(handle)
    wait_for(lambda: not Peer.objects.exists(), "every client's stopped announce", sessions=sessions)


# Real clients the default rules must let in, as they announce on their own defaults (peer_id and User-Agent).
@contextmanager
def _daemon(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run `argv` for the block, its output in `log`; stopped (then killed) afterwards, by its own pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _seeded(tmp_path: Path, uploader, tracker_url: str, name: str):
    """A v1 torrent `name` registered by `uploader` and seeded by a libtorrent session: (torrent, data, session, handle)."""
    (tmp_path / "seed").mkdir()
    metainfo, data = make_torrent(tmp_path / "seed", f"{name}.bin", size=SIZE, v1_only=True)
    torrent = register(metainfo, uploader, f"e2e {name}")
    ses = session()
    handle = add(ses, downloaded_torrent(torrent, uploader, tracker_url), tmp_path / "seed")
    wait_for(
        lambda: handle.status().is_seeding and Peer.objects.filter(torrent=torrent, is_seeder=True).exists(),
        "the seeder's announce",
        sessions=(ses,),
    )
    return torrent, data, ses, handle


class _TransmissionRpc:
    """transmission-daemon's JSON RPC, with its session-id handshake (409, then the X-Transmission-Session-Id it names)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/transmission/rpc"
        self.session_id = ""

    def __call__(self, method: str, **arguments) -> dict:
        body = json.dumps({"method": method, "arguments": arguments}).encode()
        for _ in range(2):
            request = urllib.request.Request(self.url, data=body, headers={"X-Transmission-Session-Id": self.session_id})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    reply = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code != 409:
                    raise
                self.session_id = exc.headers["X-Transmission-Session-Id"]
                continue
            assert reply["result"] == "success", reply
            return reply["arguments"]
        raise AssertionError("transmission-daemon kept refusing the session id")

    def answers(self) -> bool:
        try:
            self("session-get")
        except OSError:
            return False
        return True


def test_transmission_seeds_under_the_default_rules(tracker_url, tmp_path):
    """Transmission 3.00 on its defaults (peer_id -TR3000-, User-Agent "Transmission/3.00") is allowed and swarms.

    Transmission seeds and libtorrent leeches: Transmission never connects to
    a loopback address a tracker gives it (it counts 127/8 as martian), but
    accepts connections from one.
    """
    daemon = tool("transmission-daemon")
    uploader, member = UserFactory(), UserFactory()
    for d in ("seed", "tr-config", "leech"):
        (tmp_path / d).mkdir()
    metainfo, data = make_torrent(tmp_path / "seed", "transmission.bin", size=SIZE, v1_only=True)
    torrent = register(metainfo, uploader, "e2e transmission")
    rpc_port, peer_port = free_ports(2)
    argv = [
        daemon, "-f", "-g", str(tmp_path / "tr-config"), "-p", str(rpc_port), "-r", "127.0.0.1", "-T",
        "-w", str(tmp_path / "seed"), "-P", str(peer_port), "-i", "127.0.0.1", "-O", "-Y", "-M", "--no-utp",
        "--log-error",
    ]  # fmt: skip
    rpc = _TransmissionRpc(rpc_port)
    leech_ses = session()
    with _daemon(argv, tmp_path / "transmission.log"):
        wait_for(rpc.answers, "transmission-daemon's RPC")
        seed_torrent = base64.b64encode(downloaded_torrent(torrent, uploader, tracker_url)).decode()
        added = rpc("torrent-add", metainfo=seed_torrent, **{"download-dir": str(tmp_path / "seed")})["torrent-added"]

        def announced() -> bool:
            (status,) = rpc("torrent-get", ids=[added["id"]], fields=["error", "errorString", "trackerStats"])["torrents"]
            # a tracker's refusal shows here: error 2 (tracker error), errorString "Tracker gave an error: ..."
            assert status["error"] == 0, status
            return any(t["hasAnnounced"] and t["lastAnnounceSucceeded"] for t in status["trackerStats"])

        wait_for(announced, "Transmission's accepted announce")

        def scraped() -> bool:
            (status,) = rpc("torrent-get", ids=[added["id"]], fields=["trackerStats"])["torrents"]
            return any(t["hasScraped"] and t["lastScrapeSucceeded"] and t["seederCount"] == 1 for t in status["trackerStats"])

        # Transmission scrapes only an announce URL whose last segment starts with "announce" (BEP 48 read strictly).
        wait_for(scraped, "Transmission's successful scrape")
        peer_id, user_agent = Peer.objects.filter(torrent=torrent, user=uploader, is_seeder=True).values_list("peer_id", "user_agent").get()
        assert (bytes(peer_id)[:8], user_agent) == (b"-TR3000-", "Transmission/3.00")

        leech = add(leech_ses, downloaded_torrent(torrent, member, tracker_url), tmp_path / "leech")
        wait_for(lambda: leech.status().is_seeding, "libtorrent to download from Transmission", sessions=(leech_ses,))
        wait_for(
            lambda: Peer.objects.filter(torrent=torrent, user=member, is_seeder=True).exists(),
            "the leecher's completed announce",
            sessions=(leech_ses,),
        )
        assert (tmp_path / "leech" / "transmission.bin").read_bytes() == data.read_bytes()
        rpc("torrent-remove", ids=[added["id"]])
        wait_for(lambda: not Peer.objects.filter(torrent=torrent, user=uploader).exists(), "Transmission's stop", sessions=(leech_ses,))
    _stop_all((leech_ses,))
    uploader.refresh_from_db()
    assert uploader.uploaded >= SIZE  # Transmission's stop reported what it seeded


_QBT_CONFIG = """\
[LegalNotice]
Accepted=true

[BitTorrent]
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\Port={peer_port}
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\DefaultSavePath={save_path}

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\\UPnP=false
WebUI\\Address=127.0.0.1
WebUI\\Port={webui_port}
WebUI\\LocalHostAuth=false
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
"""


def test_qbittorrent_downloads_under_the_default_rules(tracker_url, tmp_path):
    """qBittorrent 4.5 on its defaults (peer_id -qB4520-, User-Agent "qBittorrent/4.5.2") is allowed and swarms."""
    qbt = tool("qbittorrent-nox")
    uploader, member = UserFactory(), UserFactory()
    torrent, data, seed_ses, _ = _seeded(tmp_path, uploader, tracker_url, "qbittorrent")
    profile, save_path = tmp_path / "qbt-profile", tmp_path / "qbt-data"
    (profile / "qBittorrent" / "config").mkdir(parents=True)
    save_path.mkdir()
    webui_port, peer_port = free_ports(2)
    (profile / "qBittorrent" / "config" / "qBittorrent.conf").write_text(
        _QBT_CONFIG.format(peer_port=peer_port, save_path=save_path, webui_port=webui_port)
    )
    api = f"http://127.0.0.1:{webui_port}/api/v2"

    log = tmp_path / "qbittorrent.log"
    running: list[subprocess.Popen] = []  # the daemon, once started

    def call(path: str, body: bytes | None = None, content_type: str = "application/x-www-form-urlencoded", retry: bool = True) -> bytes:
        """One Web API call; a refused connection is retried while the daemon runs (it re-binds its WebUI
        when it applies its preferences), and a daemon that exited fails the test with its log."""

        def gone() -> str | None:
            if running and running[0].poll() is not None:
                return f"qbittorrent-nox ({running[0].returncode}) during {path}:\n" + log.read_text(errors="replace")[-2000:]
            return None

        return webui_call(f"{api}/{path}", body, content_type, daemon_gone=gone, retry=retry)

    def answers() -> bool:
        try:
            return bool(call("app/version", retry=False))
        except OSError:
            return False

    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "QT_QPA_PLATFORM": "offscreen"}
    argv = [qbt, f"--profile={profile}", f"--webui-port={webui_port}"]
    with _daemon(argv, log, env=env) as process:
        running.append(process)
        wait_for(answers, "qbittorrent-nox's Web API", sessions=(seed_ses,))
        body, content_type = multipart(
            {"savepath": str(save_path)}, {"torrents": ("member.torrent", downloaded_torrent(torrent, member, tracker_url))}
        )
        assert call("torrents/add", body, content_type) == b"Ok."

        def done() -> bool:
            info = json.loads(call(f"torrents/info?hashes={torrent.info_hash}"))
            if not info:
                return False
            trackers = json.loads(call(f"torrents/trackers?hash={torrent.info_hash}"))
            refused = [t["msg"] for t in trackers if t["url"].startswith(tracker_url) and t["status"] == 4]
            assert not refused, refused  # status 4: "not working", msg the tracker's reason
            return info[0]["progress"] == 1

        wait_for(done, "qBittorrent to download", sessions=(seed_ses,))
        wait_for(
            lambda: Snatch.objects.filter(user=member, torrent=torrent, completed_at__isnull=False).exists(),
            "qBittorrent's completed announce",
            sessions=(seed_ses,),
        )
        peer_id, user_agent = Peer.objects.filter(torrent=torrent, user=member).values_list("peer_id", "user_agent").get()
        assert (bytes(peer_id)[:8], user_agent) == (b"-qB4520-", "qBittorrent/4.5.2")
        assert (save_path / "qbittorrent.bin").read_bytes() == data.read_bytes()
        call("torrents/delete", f"hashes={torrent.info_hash}&deleteFiles=false".encode())
        wait_for(lambda: not Peer.objects.filter(torrent=torrent, user=member).exists(), "qBittorrent's stop", sessions=(seed_ses,))
    _stop_all((seed_ses,))
