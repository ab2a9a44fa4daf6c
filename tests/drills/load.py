"""A steady load for the fault drills: peers announcing on every server, API calls beside them, every outcome recorded.

Each peer (one per member and torrent of the drill's group) first joins
(`started` with zero counters, repeated until it is recorded), then announces
again and again with counters that only grow, on a random server each time.
So whatever the fault did to the announces in between (refused, rolled back,
or committed with the reply lost), the peer's last recorded announce says
what the member must have been credited in all: its final counters, once.
`settle` sends each peer's final announce until it is recorded; then
`credit_differences` compares.
"""

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.drills import harness

SIZE = 1_000_000


@dataclass
class Peer:
    user_id: int
    passkey: str
    torrent_id: int
    info_hash: str
    pid: bytes
    uploaded: int = 0
    downloaded: int = 0
    left: int = SIZE

    def target(self, event: str = "") -> str:
        return harness.announce_target(
            self.passkey, self.info_hash, self.pid, uploaded=self.uploaded, downloaded=self.downloaded, left=self.left, event=event
        )


@dataclass
class Outcome:
    at: float  # time.monotonic() when the reply (or the timeout) came
    kind: str  # "announce", "hello", "torrents"
    server: str
    outcome: str  # "ok", "failure"/"error" (clean), "timeout", "broken"
    detail: str
    seconds: float


@dataclass
class Load:
    stack: harness.Stack
    group: str
    servers: list[harness.Server] | None = None
    pause: float = 0.1  # seconds between a peer's announces
    api_pause: float = 0.2
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    outcomes: list[Outcome] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.servers = self.servers or self.stack.servers
        group = self.stack.groups[self.group]
        for m, (user_id, passkey) in enumerate(group.members):
            for t, (torrent_id, info_hash) in enumerate(group.torrents):
                self.peers.append(Peer(user_id, passkey, torrent_id, info_hash, harness.peer_id(self.group, m * 100 + t)))
        self._stop = asyncio.Event()

    async def _get(self, kind: str, server: harness.Server, target: str) -> Outcome:
        started = time.monotonic()
        try:
            reply = await harness.http_get(server.port, target)
        except TimeoutError:
            result = Outcome(time.monotonic(), kind, server.name, "timeout", "", time.monotonic() - started)
        except OSError as exc:
            result = Outcome(time.monotonic(), kind, server.name, "broken", repr(exc), time.monotonic() - started)
        else:
            outcome, detail = (harness.tracker_outcome if kind == "announce" else harness.api_outcome)(reply)
            result = Outcome(time.monotonic(), kind, server.name, outcome, detail, reply.seconds)
        self.outcomes.append(result)
        return result

    async def _until_recorded(self, peer: Peer, event: str = "", attempts: int = 60) -> None:
        for _ in range(attempts):
            server = self.rng.choice(self.servers or [])
            if (await self._get("announce", server, peer.target(event))).outcome == "ok":
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"peer {peer.pid!r} was never recorded")

    async def join(self) -> None:
        """Every peer's `started`, each repeated until recorded: the baseline of the credits is zero."""
        await asyncio.gather(*(self._until_recorded(peer, "started") for peer in self.peers))

    async def _run_peer(self, peer: Peer) -> None:
        while not self._stop.is_set():
            peer.uploaded += self.rng.randrange(1, 50_000)
            if peer.left:
                got = min(peer.left, self.rng.randrange(1, SIZE // 20))
                peer.downloaded, peer.left = peer.downloaded + got, peer.left - got
            await self._get("announce", self.rng.choice(self.servers or []), peer.target())
            await asyncio.sleep(self.pause * self.rng.uniform(0.5, 1.5))

    async def _run_api(self, server: harness.Server) -> None:
        while not self._stop.is_set():
            await self._get("hello", server, "/api/hello")
            await self._get("torrents", server, "/api/torrents?per_page=5")
            await asyncio.sleep(self.api_pause)

    async def run(self, fault: Any) -> dict[str, float]:
        """Load all servers while `fault()` (a coroutine function returning its own timings) runs; then stop the load."""
        self._stop.clear()
        tasks = [asyncio.create_task(self._run_peer(peer)) for peer in self.peers]
        tasks += [asyncio.create_task(self._run_api(server)) for server in self.servers or []]
        try:
            return await fault()
        finally:
            self._stop.set()
            await asyncio.gather(*tasks)

    async def settle(self) -> None:
        """Each peer's next announce after the fault, until recorded: it credits whatever the fault left uncredited."""
        await asyncio.gather(*(self._until_recorded(peer) for peer in self.peers))

    def credit_differences(self) -> list[str]:
        """Members whose credited totals are not their peers' final counters (the first announce of each was at zero)."""
        expected: Counter[tuple[int, str]] = Counter()
        for peer in self.peers:
            expected[(peer.user_id, "up")] += peer.uploaded
            expected[(peer.user_id, "down")] += peer.downloaded
        ids = sorted({peer.user_id for peer in self.peers})
        rows = self.stack.sql("SELECT id, uploaded, downloaded FROM accounts_user WHERE id = ANY(%s)", [ids])
        return [
            f"user {uid}: credited {(up, down)}, sent {(expected[(uid, 'up')], expected[(uid, 'down')])}"
            for uid, up, down in rows
            if (up, down) != (expected[(uid, "up")], expected[(uid, "down")])
        ]

    def expected_counts(self) -> dict[int, tuple[int, int, int]]:
        """torrent id -> (seeders, leechers, completed) once every peer's final announce is recorded."""
        counts: dict[int, list[int]] = {}
        for peer in self.peers:
            c = counts.setdefault(peer.torrent_id, [0, 0, 0])
            c[0 if peer.left == 0 else 1] += 1
            c[2] += peer.left == 0
        return {t: (c[0], c[1], c[2]) for t, c in counts.items()}

    def summary(self, start: float, end: float) -> dict[str, Any]:
        """Outcomes by kind in the window [start, end) of time.monotonic()."""
        window = [o for o in self.outcomes if start <= o.at < end]
        table: dict[str, Counter[str]] = {}
        for o in window:
            table.setdefault(o.kind, Counter())[o.outcome] += 1
        return {kind: dict(counter) for kind, counter in sorted(table.items())}

    def bad(self, start: float = 0.0) -> list[Outcome]:
        """Replies that were not a clean answer: a hang (no reply within the client's timeout) or anything but the contract."""
        return [o for o in self.outcomes if o.at >= start and o.outcome in ("timeout", "broken")]

    def recovered_after(self, moment: float, kinds: tuple[str, ...] = ("announce", "torrents")) -> float:
        """Seconds from `moment` until every server answered each of `kinds` successfully (and then kept doing so)."""
        latest = 0.0
        for server in self.servers or []:
            for kind in kinds:
                mine = [o for o in self.outcomes if o.server == server.name and o.kind == kind and o.at >= moment]
                failed = [o.at for o in mine if o.outcome != "ok"]
                ok = [o.at for o in mine if o.outcome == "ok" and (not failed or o.at > max(failed))]
                assert ok, f"{server.name} never answered {kind} successfully after the fault"
                latest = max(latest, min(ok) - moment)
        return latest
