"""Real clients on their own test hosts: each in a network namespace on one bridge, IPv4 or IPv6.

The tracker is served in the root namespace on the bridge's addresses
(tests/e2e/netns.py), on PostgreSQL as the README deploys it (the ASGI
front, torrentpier.asgi under uvicorn), on SQLite by Django's serial WSGI
server as the other e2e tests. Each client runs in a namespace of its own,
so it announces from, and is handed, a real address of the family under
test, and the two clients of a swarm connect over the bridge.

Every swarm goes the same way: the leecher starts first and waits (one
leecher, no seeder on the tracker); the libtorrent seeder starts, is given
the leecher and connects to it; the leecher completes; both stop. At each
step the tracker's rows (Peer, Snatch, the torrent's seeders, leechers and
completed) must say so, the traffic it credited must be what the clients
count, and no announce may have been refused (neither the client's tracker
status nor the tracker's own request counter shows a failure).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import ipaddress
import json
import selectors
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.test.testcases import QuietWSGIRequestHandler, _StaticFilesHandler

from core.metrics import TRACKER_REQUESTS
from tests.e2e import netns
from tests.e2e.conftest import _SerialWSGIServer
from tests.e2e.swarm import info_hashes, make_torrent, multipart, tool, uvicorn_serving, wait_for, webui_call
from tests.e2e.test_client_rules import _QBT_CONFIG, _TransmissionRpc
from tests.e2e.test_real_clients import downloaded_torrent, register
from tests.factories import UserFactory
from tests.interfaces import interfaces_steady
from tracker.models import Peer, Snatch, Torrent

pytestmark = pytest.mark.e2e
SIZE = 4 * 1024 * 1024 + 4321
STEP = 60.0  # each wait; a whole test stays well under 90 s
PEER_PORT = 6881  # every host has its own ports: the same number everywhere
DUAL = 0  # a client's family: it listens, and announces, on both
ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
AGENT = Path(__file__).with_name("lt_agent.py")


# --- the lab and the tracker on its bridge --------------------------------------------------------------------------


@pytest.fixture
def lab() -> Iterator[netns.Lab]:
    with netns.lab() as built:
        yield built


class Tracker:
    def __init__(self, lab: netns.Lab, port: int, front: str) -> None:
        self.lab, self.port, self.front = lab, port, front

    def url(self, family: int) -> str:
        return f"http://{self.lab.url_host(family)}:{self.port}"

    def named_url(self) -> str:
        """By the name every host resolves to both of the bridge's addresses: a dual-stack client announces over each."""
        return f"http://{netns.TRACKER_NAME}:{self.port}"


@pytest.fixture
def tracker(lab: netns.Lab, transactional_db: Any, settings: Any) -> Iterator[Tracker]:
    """The live tracker, listening on the bridge's IPv4 and IPv6 addresses (one port for both)."""
    settings.ALLOWED_HOSTS = [lab.ipv4, f"[{lab.ipv6}]", netns.TRACKER_NAME, "testserver"]
    serve = _asgi_on if ON_POSTGRES else _wsgi_on
    yield from serve(lab)


def _listening(lab: netns.Lab) -> list[socket.socket]:
    v4 = socket.create_server((lab.ipv4, 0), backlog=128)
    port = v4.getsockname()[1]
    v6 = socket.create_server((lab.ipv6, port), family=socket.AF_INET6, backlog=128)
    return [v4, v6]


def _asgi_on(lab: netns.Lab) -> Iterator[Tracker]:
    """torrentpier.asgi under uvicorn (the deployed front), serving both sockets from one thread."""
    from torrentpier.asgi import application

    sockets = _listening(lab)
    try:
        with uvicorn_serving(application, "uvicorn-netns", sockets=sockets):
            yield Tracker(lab, sockets[0].getsockname()[1], "asgi")
    finally:
        for sock in sockets:
            sock.close()


def _wsgi_on(lab: netns.Lab) -> Iterator[Tracker]:
    """Django's WSGI server on both sockets, one request at a time (the SQLite test database's one connection)."""
    override = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    sockets = _listening(lab)
    app = _StaticFilesHandler(WSGIHandler())
    servers = []
    for sock in sockets:
        server = _SerialWSGIServer(
            sock.getsockname()[:2], QuietWSGIRequestHandler, bind_and_activate=False, ipv6=sock.family == socket.AF_INET6
        )
        server.socket.close()
        server.socket = sock  # already bound and listening
        server.server_name, server.server_port = sock.getsockname()[:2]
        server.setup_environ()
        server.set_app(app)
        servers.append(server)
    stop = threading.Event()

    def serve() -> None:
        for alias, conn in override.items():
            connections[alias] = conn
        with selectors.DefaultSelector() as selector:
            for server in servers:
                selector.register(server, selectors.EVENT_READ)
            while not stop.is_set():
                for key, _ in selector.select(0.2):
                    key.fileobj._handle_request_noblock()

    for conn in override.values():
        conn.inc_thread_sharing()
    thread = threading.Thread(target=serve, name="wsgi-netns", daemon=True)
    thread.start()
    try:
        yield Tracker(lab, sockets[0].getsockname()[1], "wsgi")
    finally:
        stop.set()
        thread.join(timeout=30)
        for server in servers:
            server.server_close()
        for conn in override.values():
            conn.dec_thread_sharing()


def _failed_requests() -> dict[tuple[str, str, str], float]:
    """The tracker's answered requests that were not "ok", by (kind, front, result) (core.metrics)."""
    counts = {}
    for metric in TRACKER_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels["result"] != "ok":
                counts[sample.labels["kind"], sample.labels["front"], sample.labels["result"]] = sample.value
    return counts


def _ok_announces(front: str) -> float:
    for metric in TRACKER_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == {"kind": "announce", "front": front, "result": "ok"}:
                return sample.value
    return 0.0


# --- the clients ----------------------------------------------------------------------------------------------------


class LibtorrentAgent:
    """tests/e2e/lt_agent.py inside a host: a libtorrent session listening on the host's address of `family` (DUAL: both)."""

    name = "libtorrent"
    scrapes = True  # on request (scrape_tracker)

    def __init__(self, host: netns.Host, family: int, workdir: Path, lab: netns.Lab | None = None) -> None:
        listen = ",".join(
            ([f"{host.ipv4}:{PEER_PORT}"] if family in (4, DUAL) else []) + ([f"[{host.ipv6}]:{PEER_PORT}"] if family in (6, DUAL) else [])
        )
        self.workdir = self.data = workdir
        self.process = netns.Process(
            host,
            [sys.executable, str(AGENT), listen],
            workdir / "agent.log",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.id = ""
        self.version = self.call("version")["version"]

    def call(self, op: str, **arguments: Any) -> dict:
        popen = self.process.popen
        assert popen.stdin is not None and popen.stdout is not None
        popen.stdin.write(json.dumps({"op": op, "id": self.id, **arguments}) + "\n")
        line = popen.stdout.readline()
        assert line, f"the libtorrent agent exited:\n{self.process.tail()}"
        answer = json.loads(line)
        assert "error" not in answer, answer
        return answer

    def add(self, metainfo: bytes, *, seed: bool = False) -> None:
        # seeding: the data is in place, libtorrent checks it and announces as a seeder
        self.id = self.call("add", torrent=base64.b64encode(metainfo).decode(), save_path=str(self.workdir))["id"]

    def status(self) -> dict:
        status = self.call("status")
        assert not status["errors"], status["errors"]  # a refusal or an unreachable tracker
        return status

    def done(self) -> bool:
        return self.status()["is_seeding"]

    def downloaded(self) -> int | None:
        return self.status()["downloaded"]

    def uploaded(self) -> int | None:
        return self.status()["uploaded"]

    def check_scrape(self, *, seeding: bool = False) -> None:
        if not seeding:  # (a seeder's last reply was to its started announce, before the completion)
            # the completed announce's reply says so (each hash's endpoint: complete, incomplete, downloaded). A hybrid
            # announces under both hashes: the tracker can have counted the first before the second's reply is in.
            figures: list[set[tuple[int, ...]]] = []

            def replied() -> bool:
                figures[:] = [set(map(tuple, self.status()["figures"]))]
                return figures[0] == {(2, 0, 1)}

            try:
                wait_for(replied, "libtorrent's completed announces to be answered", timeout=STEP)
            except AssertionError as exc:
                raise AssertionError(f"{exc}: its endpoints' last replies said {figures}") from None
        assert self.call("scrape") == {"complete": 2, "incomplete": 0}

    def remove(self) -> None:
        # libtorrent sends no `stopped` to a tracker whose previous announce is still unanswered
        wait_for(lambda: not self.status()["announcing"], "libtorrent's announces to be answered", timeout=STEP)
        self.call("remove")

    def close(self) -> None:
        if self.process.alive():
            with contextlib.suppress(AssertionError, OSError):
                self.call("quit")
        self.process.stop()


class Transmission:
    """transmission-daemon inside a host, driven over its RPC on the host's IPv4 address (v1 torrents only)."""

    name = "transmission"
    scrapes = True

    def __init__(self, host: netns.Host, family: int, workdir: Path, lab: netns.Lab) -> None:
        daemon = tool("transmission-daemon")
        self.version = subprocess.run([daemon, "--version"], capture_output=True, text=True, check=False).stderr.strip()
        (workdir / "config").mkdir()
        self.data = workdir / "data"
        self.data.mkdir()
        self.workdir = workdir
        rpc_port = 9091
        argv = [
            daemon, "-f", "-g", str(workdir / "config"), "-p", str(rpc_port), "-r", host.ipv4, "-a", lab.ipv4, "-T",
            "-w", str(workdir / "data"), "-P", str(PEER_PORT), "-O", "-Y", "-M", "--log-error",
        ]  # fmt: skip
        if family == 4:
            argv += ["-i", host.ipv4]
        else:
            # Its uTP over IPv6 needs its IPv6 UDP socket, which Transmission 3.00 opens only once it finds a global
            # (2000::/3) address of its own; on the lab's fd77::/16 it has none, so its outgoing uTP connections go
            # nowhere and the TCP retry comes minutes later. A member with a global IPv6 address has both.
            argv += ["-I", host.ipv6, "--no-utp"]
        self.process = netns.Process(host, argv, workdir / "transmission.log")
        self.rpc = _TransmissionRpc(rpc_port)
        self.rpc.url = f"http://{host.ipv4}:{rpc_port}/transmission/rpc"
        wait_for(self.rpc.answers, "transmission-daemon's RPC", timeout=STEP)
        self.id = 0

    def add(self, metainfo: bytes, *, seed: bool = False) -> None:
        # seeding: Transmission finds the data in its download-dir and verifies it before it announces
        added = self.rpc("torrent-add", metainfo=base64.b64encode(metainfo).decode(), **{"download-dir": str(self.data)})
        self.id = added["torrent-added"]["id"]

    def status(self) -> dict:
        fields = ["error", "errorString", "percentDone", "downloadedEver", "uploadedEver", "trackerStats"]
        (status,) = self.rpc("torrent-get", ids=[self.id], fields=fields)["torrents"]
        # a refusal shows as error 2 ("Tracker gave an error: <the reason>")
        assert status["error"] == 0, status
        for stats in status["trackerStats"]:
            assert not stats["hasAnnounced"] or stats["lastAnnounceSucceeded"], stats
        return status

    def done(self) -> bool:
        return self.status()["percentDone"] == 1

    def downloaded(self) -> int | None:
        return self.status()["downloadedEver"]

    def uploaded(self) -> int | None:
        return self.status()["uploadedEver"]

    def check_scrape(self, *, seeding: bool = False) -> None:
        """Transmission scrapes on its own (BEP 48: the announce URL's last segment starts with "announce")."""

        def scraped() -> bool:
            stats = self.status()["trackerStats"]
            assert all(s["lastScrapeSucceeded"] for s in stats if s["hasScraped"]), stats
            return any(s["hasScraped"] for s in stats)

        wait_for(scraped, "Transmission's successful scrape", timeout=STEP)

    def remove(self) -> None:
        self.rpc("torrent-remove", ids=[self.id])

    def close(self) -> None:
        self.process.stop()


class QBittorrent:
    """qbittorrent-nox inside a host, driven over its Web API on the host's IPv4 address (no login from the lab's subnet)."""

    name = "qbittorrent"
    scrapes = False

    def __init__(self, host: netns.Host, family: int, workdir: Path, lab: netns.Lab) -> None:
        qbt = tool("qbittorrent-nox")
        env = {"HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir / "xdg"), "QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
        self.version = subprocess.run([qbt, "--version"], capture_output=True, text=True, env=env, check=False).stdout.strip()
        profile, self.save_path = workdir / "profile", workdir / "data"
        self.data = self.save_path
        (profile / "qBittorrent" / "config").mkdir(parents=True)
        self.save_path.mkdir()
        webui_port = 8080
        config = _QBT_CONFIG.format(peer_port=PEER_PORT, save_path=self.save_path, webui_port=webui_port)
        config = config.replace("Session\\Interface=lo\n", "").replace("Session\\InterfaceName=lo\n", "")
        config = config.replace("WebUI\\Address=127.0.0.1", f"WebUI\\Address={host.ipv4}")
        config += f"WebUI\\AuthSubnetWhitelistEnabled=true\nWebUI\\AuthSubnetWhitelist={lab.ipv4}/32\n"
        (profile / "qBittorrent" / "config" / "qBittorrent.conf").write_text(config)
        self.api = f"http://{host.ipv4}:{webui_port}/api/v2"
        self.process = netns.Process(host, [qbt, f"--profile={profile}", f"--webui-port={webui_port}"], workdir / "qbt.log", env=env)
        wait_for(self._answers, "qbittorrent-nox's Web API", timeout=STEP)
        self.hash = ""

    def call(self, path: str, body: bytes | None = None, content_type: str = "application/x-www-form-urlencoded") -> bytes:
        return webui_call(
            f"{self.api}/{path}", body, content_type, daemon_gone=lambda: None if self.process.alive() else self.process.tail()
        )

    def _answers(self) -> bool:
        assert self.process.alive(), f"qbittorrent-nox exited:\n{self.process.tail()}"
        try:
            return bool(self.call("app/version"))
        except OSError:
            return False

    def add(self, metainfo: bytes, *, seed: bool = False) -> None:
        # seeding: the data is in its save path, which it checks (no resume data) before it announces
        self.hash = info_hashes(metainfo)[0]  # until status() reads its own id
        body, content_type = multipart({"savepath": str(self.save_path)}, {"torrents": ("member.torrent", metainfo)})
        assert self.call("torrents/add", body, content_type) == b"Ok."

    def status(self) -> dict:
        info = json.loads(self.call("torrents/info"))  # its only torrent
        if not info:  # torrents/add answers before the torrent is in
            return {"progress": 0, "downloaded": 0}
        # qBittorrent's id of a hybrid is not its v1 hash (4.5: the v2 hash, truncated)
        self.hash = info[0]["hash"]
        trackers = json.loads(self.call(f"torrents/trackers?hash={self.hash}"))
        refused = [t for t in trackers if t["url"].startswith("http") and t["status"] == 4]
        assert not refused, refused  # status 4: "not working", msg the tracker's reason
        return info[0]

    def done(self) -> bool:
        return self.status()["progress"] == 1

    def downloaded(self) -> int | None:
        return self.status()["downloaded"]

    def uploaded(self) -> int | None:
        return self.status()["uploaded"]

    def check_scrape(self, *, seeding: bool = False) -> None:
        """qBittorrent does not scrape: its tracker list shows the figures of the announce replies.

        Its leecher count stays at 1 after its own completion, where the
        reply said 0 (libtorrent 2.1 shows 0, above): a display quirk of
        qBittorrent 4.5.2 on libtorrent 2.0.8, so only seeds and downloads
        are compared.
        """

        if seeding:
            return  # its last reply was to its started announce, before the leecher completed
        seen: list = []

        def figures() -> bool:
            trackers = [t for t in json.loads(self.call(f"torrents/trackers?hash={self.hash}")) if t["url"].startswith("http")]
            seen[:] = trackers
            return [(t["num_seeds"], t["num_downloaded"]) for t in trackers] == [(2, 1)]

        try:
            wait_for(figures, "qBittorrent to show two seeders and one download from the tracker", timeout=STEP)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its tracker list: {seen}") from None

    def remove(self) -> None:
        self.call("torrents/delete", f"hashes={self.hash}&deleteFiles=false".encode())

    def close(self) -> None:
        self.process.stop()


class Aria2:
    """aria2c inside a host, driven over its JSON-RPC on the host's IPv4 address (`--enable-rpc`, listening in its namespace).

    As a leecher (`seed-time=0`) it stops the download once complete, sending
    `stopped` with left=0 (it sends no `completed`); as a seeder
    (`check-integrity`, `seed-ratio=0.0`: no limit) it hashes the data in place
    and seeds until removed, which sends its `stopped`. Its `uploadLength` is
    what it announces as `uploaded`; it counts no download traffic of its own
    (`completedLength` is the data it has, not what it received).
    """

    name = "aria2"
    scrapes = False
    stops_when_done = True  # as a leecher

    def __init__(self, host: netns.Host, family: int, workdir: Path, lab: netns.Lab) -> None:
        aria2c = tool("aria2c")
        self.version = subprocess.run([aria2c, "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
        self.data = workdir / "data"
        self.data.mkdir()
        rpc_port = 6800
        argv = [
            aria2c, "--enable-rpc", f"--rpc-listen-port={rpc_port}", "--rpc-listen-all=true", f"--dir={self.data}",
            "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
            f"--listen-port={PEER_PORT}", "--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
            f"--disable-ipv6={'true' if family == 4 else 'false'}",
        ]  # fmt: skip
        self.process = netns.Process(host, argv, workdir / "aria2.log")
        self.rpc = f"http://{host.ipv4}:{rpc_port}/jsonrpc"
        wait_for(self._answers, "aria2c's JSON-RPC", timeout=STEP)
        self.gid = ""

    def call(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": "e2e", "method": f"aria2.{method}", "params": list(params)}).encode()
        answer = json.loads(webui_call(self.rpc, body, "application/json", daemon_gone=self._gone, retry=False))
        assert "error" not in answer, answer
        return answer["result"]

    def _gone(self) -> str | None:
        return None if self.process.alive() else self.process.tail()

    def _answers(self) -> bool:
        assert self.process.alive(), f"aria2c exited:\n{self.process.tail()}"
        try:
            return bool(self.call("getVersion"))
        except OSError:
            return False

    def add(self, metainfo: bytes, *, seed: bool = False) -> None:
        options = {"check-integrity": "true", "seed-ratio": "0.0"} if seed else {"seed-time": "0"}
        self.gid = self.call("addTorrent", base64.b64encode(metainfo).decode(), [], options)

    def status(self) -> dict:
        status = self.call("tellStatus", self.gid, ["status", "errorCode", "errorMessage", "completedLength", "uploadLength"])
        # a refusal or an unreachable tracker ends the download in "error" (errorCode, errorMessage)
        assert status["status"] != "error", f"{status}\n{self.process.tail()}"
        return status

    def done(self) -> bool:
        return self.status()["status"] == "complete"

    def downloaded(self) -> int | None:
        return None  # no count of the traffic it received (see above)

    def uploaded(self) -> int | None:
        return int(self.status()["uploadLength"])

    def check_scrape(self, *, seeding: bool = False) -> None:
        pass  # it never scrapes

    def remove(self) -> None:
        if self.status()["status"] == "active":  # a leecher stopped itself on completion
            self.call("remove", self.gid)

    def close(self) -> None:
        self.process.stop()


class RTorrent:
    """rtorrent in daemon mode inside a host, driven over XML-RPC on its SCGI unix socket (a file: reachable from here)."""

    name = "rtorrent"
    scrapes = False

    def __init__(self, host: netns.Host, family: int, workdir: Path, lab: netns.Lab) -> None:
        rtorrent = tool("rtorrent")
        self.workdir, self.socket, self.data = workdir, workdir / "rpc.socket", workdir / "data"
        for d in ("data", "session"):
            (workdir / d).mkdir()
        rc = workdir / "rtorrent.rc"
        rc.write_text(
            "\n".join(
                [
                    f"directory.default.set = {workdir / 'data'}",
                    f"session.path.set = {workdir / 'session'}",
                    f"network.port_range.set = {PEER_PORT}-{PEER_PORT}",
                    "network.port_random.set = no",
                    f"network.bind_address.set = {host.ipv4}" if family == 4 else "",
                    "dht.mode.set = disable",
                    "protocol.pex.set = no",
                    "trackers.use_udp.set = no",
                    "system.daemon.set = true",
                    f"network.scgi.open_local = {self.socket}",
                    f'log.open_file = "main", {workdir / "rtorrent-main.log"}',
                    'log.add_output = "info", "main"',
                    'log.add_output = "tracker_debug", "main"',
                    "",
                ]
            )
        )
        env = {"HOME": str(workdir), "TERM": "dumb"}
        self.process = netns.Process(host, [rtorrent, "-n", "-o", f"import={rc}"], workdir / "rtorrent.log", env=env)
        wait_for(self._answers, "rtorrent's XML-RPC socket", timeout=STEP)
        self.version = f"rtorrent {self.call('system.client_version')} (libtorrent {self.call('system.library_version')})"
        self.hash, self.kicked = "", False

    def call(self, method: str, *params: Any) -> Any:
        """One XML-RPC call over SCGI: a netstring of CGI headers, then the body; the reply has HTTP-style headers."""
        body = xmlrpc.client.dumps(params, method).encode()
        cgi = (("CONTENT_LENGTH", len(body)), ("SCGI", 1), ("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/RPC2"))
        headers = b"".join(f"{k}\0{v}\0".encode() for k, v in cgi)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(10)
            conn.connect(str(self.socket))
            conn.sendall(str(len(headers)).encode() + b":" + headers + b"," + body)
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        return xmlrpc.client.loads(reply.split(b"\r\n\r\n", 1)[1])[0][0]

    def _answers(self) -> bool:
        assert self.process.alive(), f"rtorrent exited:\n{self.process.tail()}"
        try:
            self.call("system.client_version")
        except OSError:
            return False
        return True

    def add(self, metainfo: bytes, *, seed: bool = False) -> None:
        # seeding: the data is in its default directory, which it hashes before it announces
        # (rtorrent 0.9.8 has no BitTorrent v2: a hybrid is its v1 torrent, under the v1 hash)
        self.hash = info_hashes(metainfo)[0].upper()
        torrent_file = self.workdir / "member.torrent"
        torrent_file.write_bytes(metainfo)
        assert self.call("load.start_verbose", "", str(torrent_file)) == 0
        wait_for(lambda: self.hash in self.call("download_list"), "rtorrent to load the torrent", timeout=STEP)

    def status(self) -> dict:
        message = self.call("d.message", self.hash)
        assert not message, message  # "Tracker: [Failure reason \"...\"]" on a refusal, or a connection error
        return {
            "complete": self.call("d.complete", self.hash),
            "downloaded": self.call("d.down.total", self.hash),
            "uploaded": self.call("d.up.total", self.hash),
        }

    def done(self) -> bool:
        if self.status()["complete"] != 1:
            return False
        if not self.kicked:
            # rtorrent queues its `completed` for its next announce (the tracker's interval, 30 minutes away)
            self.call("d.tracker_announce", self.hash)
            self.kicked = True
        return True

    def downloaded(self) -> int | None:
        return self.status()["downloaded"]

    def uploaded(self) -> int | None:
        return self.status()["uploaded"]

    def check_scrape(self, *, seeding: bool = False) -> None:
        pass  # rtorrent 0.9.8 does not scrape on its own

    def remove(self) -> None:
        self.call("d.erase", self.hash)  # closes the torrent: its `stopped` goes out

    def close(self) -> None:
        self.process.stop()


class Deluge:
    """deluged inside a host, driven by deluge-console in the same namespace (Debian's Deluge 2.0.3, libtorrent 2.0.8)."""

    name = "deluge"
    scrapes = False

    def __init__(self, host: netns.Host, family: int, workdir: Path, lab: netns.Lab) -> None:
        self.deluged, self.console = tool("deluged"), tool("deluge-console")
        self.host, self.workdir, self.config, self.data = host, workdir, workdir / "config", workdir / "data"
        self.data.mkdir()
        self.config.mkdir()
        if family == 6:
            # Deluge 2.0.3 hands libtorrent `listen_interfaces` "<listen_interface or 0.0.0.0>:<port>": IPv4 only,
            # and libtorrent 2.0 announces only from its listen sockets (no IPv6 one: "skipping tracker announce
            # (unreachable)"). A bracketed address listens on IPv6; deluge-console cannot set a string (its
            # `config -s` parser calls Python 2's str.decode), so it goes in core.conf, read at start.
            core_conf = '{"file": 1, "format": 1}' + json.dumps({"listen_interface": f"[{host.ipv6}]"})
            (self.config / "core.conf").write_text(core_conf)
        self.env = {"HOME": str(workdir), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.version = subprocess.run([self.deluged, "--version"], capture_output=True, text=True, env=self.env, check=False).stdout.split(
            "\n"
        )[0]
        # -L none: Debian's Deluge 2.0.3 logging breaks on Python 3.11 (findCaller), the daemon works
        argv = [self.deluged, "-d", "-c", str(self.config), "-p", "58846", "-L", "none"]
        self.process = netns.Process(host, argv, workdir / "deluged.log", env=self.env)
        wait_for(lambda: "dht" in self._console("config dht", check=False), "deluged to answer", timeout=STEP)
        settings = [
            "dht false",
            "lsd false",
            "upnp false",
            "natpmp false",
            "utpex false",
            "random_port false",
            f"listen_ports ({PEER_PORT}, {PEER_PORT})",
        ]
        out = self._console(*(f"config -s {setting}" for setting in settings))
        assert out.count("Configuration value successfully updated.") == len(settings), out
        self.id = ""

    def _console(self, *commands: str, check: bool = True) -> str:
        assert self.process.alive(), f"deluged exited:\n{self.process.tail()}"
        script = "; ".join(["connect 127.0.0.1:58846", *commands])
        argv = self.host.argv(self.console, "-L", "none", "-c", str(self.config), script)
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=30, check=False)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def add(self, metainfo: bytes, *, seed: bool = False) -> None:
        # seeding: the data is in place, libtorrent (2.0.8) checks it before it announces
        # Deluge's id of a hybrid is libtorrent's best hash: the v2 hash cut to 40 hex digits (as qBittorrent's)
        v1, v2 = info_hashes(metainfo)
        self.id = v1 if v2 is None else v2[:40]
        torrent_file = self.workdir / "member.torrent"
        torrent_file.write_bytes(metainfo)
        out = self._console(f"add -p {self.data} {torrent_file}")
        assert "Torrent added!" in out, out

    def status(self) -> dict:
        out = self._console(f"info -v {self.id}")
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        tracker_status = fields.get("Tracker status", "")
        # "Announce OK" once it announced; a refusal shows as "Error: <the tracker's reason>". Its listen
        # socket of the other family cannot reach the tracker, and says so ("skipping ... (unreachable)").
        assert "Error" not in tracker_status or tracker_status.endswith("skipping tracker announce (unreachable)"), out
        return fields

    def done(self) -> bool:
        return self.status().get("State", "").startswith("Seeding")  # (no Progress line once seeding)

    def _counters(self) -> dict:
        """The torrent's payload counters from deluged's RPC (deluge-console shows them rounded: "4.0 M")."""
        argv = self.host.argv("/usr/bin/python3", "-c", _DELUGE_COUNTERS, str(self.config), self.id)
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=30, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.splitlines()[-1])

    def downloaded(self) -> int | None:
        return self._counters()["total_payload_download"]

    def uploaded(self) -> int | None:
        return self._counters()["total_payload_upload"]

    def check_scrape(self, *, seeding: bool = False) -> None:
        """Deluge does not scrape: its `Seeds: n (total)` shows the announce replies' swarm."""
        if seeding:
            return  # its last reply was to its started announce, before the leecher completed
        wait_for(lambda: self.status().get("Seeds", "").split(" ")[1] == "(2)", "Deluge to show two seeders from the tracker", timeout=STEP)

    def remove(self) -> None:
        out = self._console(f"pause {self.id}")  # a paused torrent sends its `stopped`
        assert "Error" not in out, out

    def close(self) -> None:
        self.process.stop()


# deluged's own client library (Debian's python3-deluge, which deluge-console runs on), logged in as its local
# client: what `core.get_torrent_status` says of the torrent, as one JSON line
_DELUGE_COUNTERS = """
import json, sys
from twisted.internet import defer, task
import deluge.configmanager
from deluge.common import get_localhost_auth
from deluge.ui.client import client

@defer.inlineCallbacks
def main(reactor, config, torrent_id):
    deluge.configmanager.set_config_dir(config)
    yield client.connect("127.0.0.1", 58846, *get_localhost_auth())
    status = yield client.core.get_torrent_status(torrent_id, ["total_payload_download", "total_payload_upload"])
    print(json.dumps(status))
    yield client.disconnect()

task.react(main, sys.argv[1:])
"""

RTorrentLeecher, DelugeLeecher, LibtorrentLeecher = RTorrent, Deluge, LibtorrentAgent


# --- the swarm ------------------------------------------------------------------------------------------------------


def _counts(torrent: Torrent) -> tuple[int, int, int]:
    torrent.refresh_from_db()
    return torrent.seeders, torrent.leechers, torrent.completed


def _swarm(
    lab: netns.Lab, tracker: Tracker, settings: Any, tmp_path: Path, seeder_class: type, leecher_class: type, *, family: int, kind: str
) -> None:
    """`seeder_class` seeds a new torrent to `leecher_class` over `family`: every step checked against the tracker's rows."""
    failures_before, ok_before = _failed_requests(), _ok_announces(tracker.front)
    seeder_user, leecher_user = UserFactory(), UserFactory()
    for d in ("seed", "leech"):
        (tmp_path / d).mkdir()
    seed_host, leech_host = lab.host("seed"), lab.host("leech")
    url = settings.TRACKER_ANNOUNCE_URL = tracker.url(family)  # the tracker's literal address, IPv6 in brackets
    seeder = leecher = None
    try:
        seeder = seeder_class(seed_host, family, tmp_path / "seed", lab)
        leecher = leecher_class(leech_host, family, tmp_path / "leech", lab)
        for client in (seeder, leecher):
            print(f"{client.name}: {client.version}")  # shown with a failure; the README's compatibility table names these
        # the data, in the seeder's own directory
        name = f"{seeder_class.name}-{leecher_class.name}-{kind}-ipv{family}.bin"
        metainfo, data = make_torrent(seeder.data, name, size=SIZE, v1_only=kind == "v1")
        torrent = register(metainfo, seeder_user, f"e2e netns {name}")
        assert (torrent.info_hash_v2 is not None) == (kind == "hybrid")

        # The leecher first: on the tracker alone, leeching, from its own address.
        leecher.add(downloaded_torrent(torrent, leecher_user, url))
        wait_for(
            lambda: Peer.objects.filter(torrent=torrent, user=leecher_user, is_seeder=False).exists() and not leecher.done(),
            f"{leecher.name}'s started announce",
            timeout=STEP,
        )
        assert Peer.objects.get(torrent=torrent, user=leecher_user).ip == leech_host.address(family)
        wait_for(lambda: _counts(torrent) == (0, 1, 0), "the tracker to count one leecher", timeout=10)

        # The seeder checks its data and announces: the tracker hands it the leecher's address, and it connects over the bridge.
        seeder.add(downloaded_torrent(torrent, seeder_user, url), seed=True)
        wait_for(
            lambda: Peer.objects.filter(torrent=torrent, user=seeder_user, is_seeder=True).exists(),
            f"{seeder.name}'s announce as a seeder",
            timeout=STEP,
        )
        assert Peer.objects.get(torrent=torrent, user=seeder_user).ip == seed_host.address(family)
        wait_for(leecher.done, f"{leecher.name} to download from {seeder.name}", timeout=STEP)
        assert (leecher.data / name).read_bytes() == data.read_bytes()

        # the client's own count of what it downloaded (qBittorrent's Web API refreshes its figures every few seconds)
        def counted() -> bool:
            downloaded = leecher.downloaded()
            return downloaded is None or downloaded >= SIZE

        wait_for(counted, f"{leecher.name}'s download counter", timeout=15)
        client_downloaded = leecher.downloaded()

        wait_for(
            lambda: Snatch.objects.filter(user=leecher_user, torrent=torrent, completed_at__isnull=False).exists(),
            f"{leecher.name}'s completed announce",
            timeout=STEP,
        )
        if not getattr(leecher, "stops_when_done", False):  # aria2 stops at completion: its `stopped` (left=0) completes the snatch
            wait_for(lambda: _counts(torrent) == (2, 0, 1), "the tracker to count two seeders", timeout=STEP)
            # scrape, where the client scrapes; else the announce replies' figures, as the client shows them
            leecher.check_scrape()
            if seeder.scrapes:
                seeder.check_scrape(seeding=True)

        # The leecher stops: its peer is gone, the completion stays.
        leecher.remove()
        wait_for(
            lambda: not Peer.objects.filter(torrent=torrent, user=leecher_user).exists(),
            f"{leecher.name}'s stopped announce",
            timeout=STEP,
        )
        # (on SQLite the test shares the server's connection: it can read an announce's statements half done)
        wait_for(lambda: _counts(torrent) == (1, 0, 1), "the tracker to count one seeder", timeout=10)

        # the seeder's own count of what it uploaded (the leecher is gone: it uploads no more)
        def uploaded_all() -> bool:
            uploaded = seeder.uploaded()
            return uploaded is None or uploaded >= SIZE

        wait_for(uploaded_all, f"{seeder.name}'s upload counter", timeout=15)
        client_uploaded = seeder.uploaded()
        seeder.remove()
        wait_for(lambda: not Peer.objects.filter(torrent=torrent).exists(), f"{seeder.name}'s stopped announce", timeout=STEP)
        wait_for(lambda: _counts(torrent) == (0, 0, 1), "the tracker to count no peers", timeout=10)
    finally:
        for client in (leecher, seeder):
            if client is not None:
                client.close()

    # What the tracker credited is what the clients counted.
    seeder_user.refresh_from_db()
    leecher_user.refresh_from_db()
    if client_uploaded is not None:
        assert seeder_user.uploaded == client_uploaded, (seeder_user.uploaded, client_uploaded)
    assert SIZE <= seeder_user.uploaded <= SIZE * 1.1
    if client_downloaded is not None:
        assert leecher_user.downloaded == client_downloaded, (leecher_user.downloaded, client_downloaded)
    assert SIZE <= leecher_user.downloaded <= SIZE * 1.1
    snatch = Snatch.objects.get(user=leecher_user, torrent=torrent)
    assert snatch.times_completed == 1 and snatch.left == 0

    # No announce (nor scrape) was refused, and the announces went to the front under test.
    assert _failed_requests() == failures_before
    assert _ok_announces(tracker.front) >= ok_before + 4


# --- libtorrent seeds to each client ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
def test_libtorrent_seeds_to_transmission_v1(lab, tracker, settings, tmp_path, family):
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, Transmission, family=family, kind="v1")


@pytest.mark.parametrize(("family", "kind"), [(4, "v1"), (6, "v1"), (4, "hybrid")], ids=["v1-ipv4", "v1-ipv6", "hybrid-ipv4"])
def test_libtorrent_seeds_to_qbittorrent(lab, tracker, settings, tmp_path, family, kind):
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, QBittorrent, family=family, kind=kind)


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
def test_libtorrent_seeds_to_aria2_v1(lab, tracker, settings, tmp_path, family):
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, Aria2, family=family, kind="v1")


@pytest.mark.parametrize(("family", "kind"), [(4, "v1"), (6, "v1"), (4, "hybrid")], ids=["v1-ipv4", "v1-ipv6", "hybrid-ipv4"])
def test_libtorrent_seeds_to_rtorrent(lab, tracker, settings, tmp_path, family, kind):
    """A hybrid too: rTorrent (no BEP 52) leeches it as its v1 torrent; libtorrent reaches it through its v1 announce."""
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, RTorrent, family=family, kind=kind)


@pytest.mark.parametrize("kind", ["v1", "hybrid"])
def test_libtorrent_seeds_to_deluge_ipv4(lab, tracker, settings, tmp_path, kind):
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, Deluge, family=4, kind=kind)


def test_libtorrent_seeds_to_deluge_v1_ipv6(lab, tracker, settings, tmp_path):
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, Deluge, family=6, kind="v1")


def test_libtorrent_seeds_to_libtorrent_hybrid_ipv6(lab, tracker, settings, tmp_path):
    _swarm(lab, tracker, settings, tmp_path, LibtorrentAgent, LibtorrentAgent, family=6, kind="hybrid")


# --- every client seeds to another ------------------------------------------------------------------------------

# A ring over IPv4 (v1): each client seeds once and leeches once, each time from a different client.
RING = [(Transmission, QBittorrent), (QBittorrent, Aria2), (Aria2, RTorrent), (RTorrent, Deluge), (Deluge, Transmission)]


@pytest.mark.parametrize(("seeder", "leecher"), RING, ids=[f"{s.name}-to-{c.name}" for s, c in RING])
def test_a_client_seeds_to_another_v1_ipv4(lab, tracker, settings, tmp_path, seeder, leecher):
    _swarm(lab, tracker, settings, tmp_path, seeder, leecher, family=4, kind="v1")


# A ring over IPv6, every client to the tracker's literal address: each seeds once and leeches once.
# (rTorrent seeding to aria2 stalls after the first blocks on either family: a quirk of the two clients, so
# neither ring has that pair.)
RING6 = [(Aria2, QBittorrent), (QBittorrent, Transmission), (Transmission, RTorrent), (RTorrent, Deluge), (Deluge, Aria2)]


@pytest.mark.parametrize(("seeder", "leecher"), RING6, ids=[f"{s.name}-to-{c.name}" for s, c in RING6])
def test_a_client_seeds_to_another_v1_ipv6(lab, tracker, settings, tmp_path, seeder, leecher):
    _swarm(lab, tracker, settings, tmp_path, seeder, leecher, family=6, kind="v1")


# --- one dual-stack peer ----------------------------------------------------------------------------------------


def _alt_address(peer: Peer) -> str | None:
    """The address of the peer's other family, unpacked (`alt_compact`: the address, then the port)."""
    return None if peer.alt_compact is None else str(ipaddress.ip_address(bytes(peer.alt_compact)[:-2]))


DUAL_STACK = [(QBittorrent, Transmission, LibtorrentAgent), (LibtorrentAgent, RTorrent, LibtorrentAgent)]


@pytest.mark.parametrize(("seeder_class", "class4", "class6"), DUAL_STACK, ids=[s.name for s, _, _ in DUAL_STACK])
def test_a_dual_stack_seeder_is_one_peer_reachable_on_both_families(lab, tracker, settings, tmp_path, seeder_class, class4, class6):
    """A seeder announcing over IPv4 and IPv6 (the tracker's name has both addresses) is one peer, handed to each family.

    It announces first and alone, so the leechers, an IPv4-only Transmission
    (Transmission, rTorrent) and an IPv6-only libtorrent that start after it, find it only through
    their own started announces: a tracker that kept only the seeder's last
    address would hand one of them no seeder it can reach.
    """
    failures_before = _failed_requests()
    seeder_user, user4, user6 = UserFactory(), UserFactory(), UserFactory()
    for d in ("seed", "leech4", "leech6"):
        (tmp_path / d).mkdir()
    seed_host = lab.host("seed")
    seeder = leecher4 = leecher6 = None
    try:
        seeder = seeder_class(seed_host, DUAL, tmp_path / "seed", lab)
        print(f"{seeder.name}: {seeder.version}")
        name = f"{seeder.name}-dual-stack.bin"
        metainfo, data = make_torrent(seeder.data, name, size=SIZE, v1_only=True)
        torrent = register(metainfo, seeder_user, f"e2e netns {name}")
        settings.TRACKER_ANNOUNCE_URL = tracker.named_url()  # each member's .torrent names the tracker as it is given
        seeder.add(downloaded_torrent(torrent, seeder_user, tracker.named_url()), seed=True)

        def on_both() -> bool:
            peer = Peer.objects.filter(torrent=torrent, user=seeder_user).first()
            return peer is not None and peer.alt_compact is not None

        wait_for(on_both, f"{seeder.name}'s announces over IPv4 and IPv6", timeout=STEP)
        (peer,) = Peer.objects.filter(torrent=torrent)
        assert {peer.ip, _alt_address(peer)} == {seed_host.ipv4, seed_host.ipv6}
        assert peer.is_seeder and _counts(torrent) == (1, 0, 0)  # one peer, counted once

        leecher4 = class4(lab.host("leech4"), 4, tmp_path / "leech4", lab)
        leecher6 = class6(lab.host("leech6"), 6, tmp_path / "leech6", lab)
        for leecher, user, family in ((leecher4, user4, 4), (leecher6, user6, 6)):
            settings.TRACKER_ANNOUNCE_URL = tracker.url(family)
            leecher.add(downloaded_torrent(torrent, user, tracker.url(family)))
        for leecher in (leecher4, leecher6):
            wait_for(leecher.done, f"{leecher.name} to download from the dual-stack {seeder.name}", timeout=STEP)
            assert (leecher.data / name).read_bytes() == data.read_bytes()
        wait_for(lambda: _counts(torrent) == (3, 0, 2), "the tracker to count three seeders", timeout=STEP)
        assert Peer.objects.filter(torrent=torrent).count() == 3
        assert Peer.objects.get(torrent=torrent, user=user4).ip == lab.hosts[1].ipv4
        assert Peer.objects.get(torrent=torrent, user=user6).ip == lab.hosts[2].ipv6

        counted = []
        for leecher in (leecher4, leecher6):
            wait_for(lambda c=leecher: (c.downloaded() or SIZE) >= SIZE, f"{leecher.name}'s download counter", timeout=15)
            counted.append(leecher.downloaded())
            leecher.remove()
        wait_for(lambda: _counts(torrent) == (1, 0, 2), "the leechers' stopped announces", timeout=STEP)
        wait_for(lambda: (seeder.uploaded() or 2 * SIZE) >= 2 * SIZE, f"{seeder.name}'s upload counter", timeout=15)
        uploaded = seeder.uploaded()
        seeder.remove()
        wait_for(lambda: not Peer.objects.filter(torrent=torrent).exists(), f"{seeder.name}'s stopped announces", timeout=STEP)
        wait_for(lambda: _counts(torrent) == (0, 0, 2), "the tracker to count no peers", timeout=10)
    finally:
        for client in (leecher6, leecher4, seeder):
            if client is not None:
                client.close()

    # Credited once, over either family: what each client counted.
    seeder_user.refresh_from_db()
    assert 2 * SIZE <= seeder_user.uploaded <= 2.2 * SIZE
    assert seeder_user.uploaded == uploaded
    for user, expected in ((user4, counted[0]), (user6, counted[1])):
        user.refresh_from_db()
        assert SIZE <= user.downloaded <= 1.1 * SIZE
        if expected is not None:
            assert user.downloaded == expected, (user.downloaded, expected)
    assert _failed_requests() == failures_before


# A ring of hybrids over IPv4 among the clients that load them (not Transmission 3, nor aria2 1.36: see
# below and the README): rTorrent seeds and leeches a hybrid as its v1 torrent, under the v1 hash only.
HYBRID_RING = [(QBittorrent, Deluge), (Deluge, RTorrent), (RTorrent, QBittorrent)]


@pytest.mark.parametrize(("seeder", "leecher"), HYBRID_RING, ids=[f"{s.name}-to-{c.name}" for s, c in HYBRID_RING])
def test_a_client_seeds_a_hybrid_to_another_ipv4(lab, tracker, settings, tmp_path, seeder, leecher):
    _swarm(lab, tracker, settings, tmp_path, seeder, leecher, family=4, kind="hybrid")


def test_transmission_cannot_load_a_hybrid_torrent(lab, tracker, settings, tmp_path):
    """A client limit, not the tracker's: Transmission 3.00 (no BEP 52) refuses a hybrid v1+v2 .torrent outright."""
    settings.TRACKER_ANNOUNCE_URL = tracker.url(4)
    uploader, member = UserFactory(), UserFactory()
    (tmp_path / "seed").mkdir()
    (tmp_path / "leech").mkdir()
    metainfo, _ = make_torrent(tmp_path / "seed", "hybrid.bin", size=SIZE, v1_only=False)
    torrent = register(metainfo, uploader, "e2e netns transmission hybrid")
    transmission = Transmission(lab.host("leech"), 4, tmp_path / "leech", lab)
    try:
        encoded = base64.b64encode(downloaded_torrent(torrent, member, tracker.url(4))).decode()
        with pytest.raises(AssertionError) as refused:
            transmission.rpc("torrent-add", metainfo=encoded, **{"download-dir": str(tmp_path / "leech" / "data")})
        assert "'result': 'invalid or corrupt torrent file'" in str(refused.value)
        assert transmission.rpc("torrent-get", fields=["id"])["torrents"] == []
    finally:
        transmission.close()
    assert not Peer.objects.filter(torrent=torrent).exists()


def test_aria2_announces_a_hybrid_under_a_wrong_hash_and_is_told_what_to_do(lab, tracker, settings, tmp_path):
    """A client bug, not the tracker's: aria2 1.36 announces a hybrid under a hash that is neither of its own
    (it hashes the info dictionary as it re-encodes it, and mangles the v2 part). The tracker knows no such
    torrent, and its refusal, which aria2 logs, tells the member what to do about it."""
    settings.TRACKER_ANNOUNCE_URL = tracker.url(4)
    failures_before = _failed_requests()
    metainfo, _ = make_torrent(tmp_path, "hybrid.bin", size=SIZE, v1_only=False)
    torrent = register(metainfo, UserFactory(), "e2e netns aria2 hybrid")
    (tmp_path / "leech").mkdir()
    aria2 = Aria2(lab.host("leech"), 4, tmp_path / "leech", lab)
    try:
        aria2.add(downloaded_torrent(torrent, UserFactory(), tracker.url(4)))
        reason = "Tracker returned failure reason: Torrent not registered: download its .torrent from the site again; if this is a hybrid"
        wait_for(lambda: reason in aria2.process.tail(20000), "aria2 to log the tracker's refusal", timeout=STEP)
        assert "your client may hash it wrongly (aria2 does): try another client" in aria2.process.tail(20000)
        announced = aria2.call("tellStatus", aria2.gid, ["infoHash"])["infoHash"]
        assert announced not in {torrent.info_hash, torrent.info_hash_v2[:40]}
    finally:
        aria2.close()
    assert not Peer.objects.filter(torrent=torrent).exists()
    refused = {key: n - failures_before.get(key, 0) for key, n in _failed_requests().items() if n != failures_before.get(key, 0)}
    assert set(refused) == {("announce", tracker.front, "torrent")}


_PROBE = """
import socket, sys
for family, address in ((socket.AF_INET, sys.argv[1]), (socket.AF_INET6, sys.argv[2]), (socket.AF_INET, "192.0.2.2")):
    with socket.socket(family) as s:
        s.settimeout(5)
        print(s.connect_ex((address, int(sys.argv[3]))))
"""


def test_a_lab_host_reaches_the_bridge_on_both_families_and_nothing_else(tmp_path):
    """The hosts reach the root namespace's servers on the bridge, IPv4 and IPv6, and have no route out."""
    with netns.lab() as built:
        host = built.host("probe")
        servers = _listening(built)  # the tracker's two sockets: one port on both of the bridge's addresses
        port = servers[0].getsockname()[1]
        try:
            probe = host.argv(sys.executable, "-c", _PROBE, built.ipv4, built.ipv6, str(port))
            result = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
        finally:
            for server in servers:
                server.close()
        assert result.returncode == 0, result.stderr
        # connected, connected, and "Network is unreachable" for an address off the lab (no default route)
        assert result.stdout.split() == ["0", "0", str(errno.ENETUNREACH)], result.stdout


def test_a_lab_is_torn_down_even_when_the_test_fails(tmp_path):
    with pytest.raises(RuntimeError, match="the test failed"), netns.lab() as built:
        host = built.host("doomed")
        sleeper = netns.Process(host, ["sleep", "600"], tmp_path / "sleep.log")
        raise RuntimeError("the test failed")
    assert sleeper.popen.poll() is not None  # stopped, by its own pid
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert not any(line.startswith(host.name) for line in listed)
    assert subprocess.run(["ip", "link", "show", built.bridge], capture_output=True, check=False).returncode != 0
    assert not (netns.ETC_NETNS / host.name).exists()


def test_a_lab_changes_no_interface_while_a_browser_test_runs():
    """tests/interfaces.py: a lab is built only once the shared holder (a browser test of a suite run beside) lets go."""
    with netns.lab():  # (skips, or fails under CI, where namespaces are not permitted)
        pass
    holding, release, built = threading.Event(), threading.Event(), []

    def browser_test() -> None:
        with interfaces_steady(changing=False):
            holding.set()
            release.wait(30)

    def build() -> None:
        with netns.lab() as lab:
            built.append(lab.bridge)

    threads = [threading.Thread(target=browser_test), threading.Thread(target=build)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    time.sleep(1.5)  # a lab takes well under a second to build
    assert not built
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(built) == 1


def test_without_namespaces_a_lab_skips_and_under_ci_fails(monkeypatch):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    skipped = "network namespaces are not available: creating network namespaces needs root"
    with pytest.raises(pytest.skip.Exception, match=skipped), netns.lab():
        pass
    monkeypatch.setenv("CI", "true")
    failed = "network namespaces are required under CI: creating network namespaces needs root"
    with pytest.raises(pytest.fail.Exception, match=failed), netns.lab():
        pass
