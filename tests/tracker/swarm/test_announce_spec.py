"""The three implementations of an announce agree with its specification, on random announce sequences.

tracker.swarm.rules.announce_effects is the specification; the portable path
(announce_portable), the single PostgreSQL statement (announce_statement) and
the batch statement (PG_BATCH) each carry it out. Hypothesis generates
announce sequences (a few members, several peers each and one peer_id two
members fight over, dual-stack clients announcing one peer from an IPv4 and
an IPv6 address, every event, counters that grow, stay or restart, `left`
reaching 0 and coming back, duplicates, freeleech changing on the way, time
jumping past the peer expiry; and the site's rules: a random policy with small
limits, site events, members with freeleech tokens, personal freeleech,
ratio watches and hit-and-run warnings) and feeds each to three twin worlds, one per
implementation: distinct members and torrents, so that the members' totals
can be compared too. A Python model applies `announce_effects` to what it
remembers of the peers and snatches: after every announce (every batch, for
the batch twin) each twin's whole state must be the model's, and every reply
must be the one the model predicts. A rule changed in one implementation and
not the others fails here.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
from django.conf import settings
from django.db import connection, transaction
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from tests.factories import TorrentFactory, UserFactory
from tracker.catalogue.models import Freeleech, Torrent, TorrentStats
from tracker.policy.models import HnrState, HnrWarning, TokenUse
from tracker.policy.snapshot import AnnouncePolicy, credit_shares, hnr_terms
from tracker.policy.standing import watch_since_after
from tracker.swarm.announce import announce_params, announce_portable, announce_statement
from tracker.swarm.batch import batch_args, batch_keys, batch_results, batch_sql
from tracker.swarm.models import Peer, Snatch, peer_compact
from tracker.swarm.rules import AnnounceIn, GateIn, PeerBefore, SnatchBefore, announce_effects, gate_verdict
from tracker.swarm.sql import AnnounceResult

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the single and batch statements are PostgreSQL's; set DATABASE_URL to a PostgreSQL database"
)

BASE = datetime(2030, 1, 1, tzinfo=UTC)  # every announce says when it happens (`now=`): BASE + Step.at seconds
SIZE = 1000  # the torrent's size: `left` lies in [0, SIZE]
SHARED = 3  # peer numbers 0-2 are each member's own; number 3 is the one peer_id every member may claim
IPS = ["10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"]  # both families: replies' peers4 and peers6
PORTS = [6881, 51413, 65535]
FREELEECH = st.sampled_from([Freeleech.NONE, Freeleech.SILVER, Freeleech.GOLD])
ENDS_BATCH = st.integers(0, 3).map(lambda n: n == 0)  # a batch (at most one announce per member here) often fills up
NUMWANT = st.one_of(st.integers(0, 3), st.integers(0, 50))  # often fewer than the swarm has: the window is cut short


def peer_id(user: int, peer: int) -> bytes:
    """The 20-byte peer_id of `user`'s peer number `peer` (the same for every member when `peer` is SHARED)."""
    return b"-SP0001-shared000000" if peer == SHARED else f"-SP0001-u{user:05d}p{peer:05d}".encode()


def expiry() -> int:
    """TRACKER_PEER_EXPIRY: peers silent longer are not handed out, and one interval adds at most this much seed time."""
    return settings.TRACKER_PEER_EXPIRY


class Step(NamedTuple):
    """One announce of a sequence, by position: `user` is an index into the twin's members."""

    user: int
    peer: int
    ip: str
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: str
    numwant: int
    with_peer_ids: bool
    freeleech: str
    at: float  # seconds after BASE
    shuffle: int  # the peer's place in the swarm's order if this announce creates it
    r: int  # where the reply's window of peers starts
    ends_batch: bool  # the batch twin sends its batch after this announce
    v2: bool = False  # under the hybrid's v2 hash: handed only the peers that announced under it

    @property
    def pid(self) -> bytes:
        return peer_id(self.user, self.peer)

    @property
    def is_seeder(self) -> bool:
        """As tracker.announce.protocol says: nothing left, or paused (a BEP 21 partial seed)."""
        return self.left == 0 or self.event == "paused"

    @property
    def now(self) -> datetime:
        return BASE + timedelta(seconds=self.at)


class Member(NamedTuple):
    """A member's standing before the first announce (tracker.policy): what the rules read of them."""

    freeleech_until: datetime | None = None  # personal freeleech
    token_until: datetime | None = None  # a freeleech token on the torrent
    watch_since: datetime | None = None  # ratio watch
    warnings: int = 0  # active hit-and-run warnings


class Scenario(NamedTuple):
    """What one example runs: a torrent with `users` members announcing `steps`."""

    users: int
    freeleech: str  # the torrent's when it is created (each Step says the one it announces under)
    counts: tuple[int, int, int]  # the torrent's seeders, leechers and completed before the first announce
    steps: list[Step]
    policy: AnnouncePolicy | None = None  # None: no rules at all
    members: tuple[Member, ...] = ()


def _moment() -> st.SearchStrategy[datetime]:
    """A time around the scenario's announces (they begin at BASE and rarely run past a few hours)."""
    return st.integers(-3 * 86400, 4 * 3600).map(lambda seconds: BASE + timedelta(seconds=seconds))


@st.composite
def policies(draw: st.DrawFn) -> AnnouncePolicy:
    """Rules with limits a short scenario reaches: few peers, few slots, a ratio band the counters cross, short watches."""
    events = draw(st.lists(st.tuples(st.sampled_from(["freeleech", "double_upload"]), _moment(), st.integers(1, 4 * 3600)), max_size=2))
    slot_bands = draw(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 1)), max_size=2, unique_by=lambda band: band[0]))
    return AnnouncePolicy(
        client_mode="off", client_rules=(), blocked_ports=(),
        events=tuple((kind, start, start + timedelta(seconds=length)) for kind, start, length in events),
        peers_per_torrent=draw(st.integers(0, 3)),
        slots_after=draw(st.sampled_from([0, 2**33])),
        slots_max=draw(st.integers(0, 1)),
        slot_bands=tuple(sorted(slot_bands)),
        ratio_bands=((0, 0), (draw(st.sampled_from([1, 2**33])), draw(st.integers(1, 300)))),
        watch_days=draw(st.integers(0, 1)),
        max_warnings=draw(st.integers(0, 2)),
        hnr_seed=draw(st.sampled_from([0, 3600])),
        hnr_within=86400,
        hnr_ratio_pct=draw(st.integers(0, 200)),
        hnr_exempt_freeleech=draw(st.booleans()),
        hnr_exempt_below=draw(st.sampled_from([0, 2 * SIZE])),
        hnr_exempt_uploader=True,
    )  # fmt: skip


@st.composite
def members(draw: st.DrawFn) -> Member:
    maybe = st.one_of(st.none(), _moment())
    return Member(draw(maybe), draw(maybe), draw(maybe), draw(st.integers(0, 2)))


def _counter(previous: int) -> st.SearchStrategy[int]:
    """A client's next counter: the same, grown, or (a restart) lower."""
    stay_or_grow = st.one_of(st.just(previous), st.integers(previous + 1, previous + 2**34))
    return st.one_of(stay_or_grow, st.integers(0, previous - 1)) if previous else stay_or_grow


def _seconds() -> st.SearchStrategy[float]:
    """Time between two announces: half the time short (the swarm stays live, in tenths of a second: clients'
    clocks are not whole seconds), else exactly around the peer expiry (which caps seed time and ends a peer's
    liveness), far past it, or backwards (clock skew).
    """
    rare = [st.sampled_from([expiry() - 1, expiry(), expiry() + 1]), st.integers(expiry(), 3 * expiry()), st.integers(-90, -1)]
    short = st.integers(0, 6000).map(lambda tenths: tenths / 10)
    return st.integers(0, 5).flatmap(lambda n: rare[n] if n < len(rare) else short)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A torrent's starting figures and a sequence of announces by 2-3 members, with their clients' counters."""
    users = draw(st.integers(2, 3))
    size = draw(st.one_of(st.integers(1, 8), st.integers(12, 30)))  # long ones too: swarms of many live peers
    shuffles = draw(st.lists(st.integers(0, 999), min_size=size, max_size=size, unique=True))  # no ties in the swarm's order
    freeleech = draw(FREELEECH)
    counts = (draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    clients: dict[tuple[int, int], tuple[int, int, int]] = {}  # (user, peer): its uploaded, downloaded, left
    at = 0
    steps: list[Step] = []
    for shuffle in shuffles:
        kind = draw(st.integers(0, 7)) if steps else 7
        if kind == 0:  # the same announce again (a client's retry)
            step = steps[-1]._replace(shuffle=shuffle, ends_batch=draw(ENDS_BATCH))
        elif kind == 1:  # a dual-stack client: the same peer announces again at once from the other address family
            last = steps[-1]
            uploaded, downloaded, left = clients[last.user, last.peer]
            at += draw(st.integers(0, 20).map(lambda tenths: tenths / 10))
            step = last._replace(
                ip=draw(st.sampled_from(IPS[2:] if ":" not in last.ip else IPS[:2])), uploaded=draw(_counter(uploaded)),
                downloaded=draw(_counter(downloaded)), at=at, shuffle=shuffle, r=draw(st.integers(0, 1000)), ends_batch=draw(ENDS_BATCH),
                v2=draw(st.booleans()),  # (a hybrid's twin announce, under the other hash, too)
            )  # fmt: skip
            clients[step.user, step.peer] = (step.uploaded, step.downloaded, step.left)
        else:
            user, peer = draw(st.integers(0, users - 1)), draw(st.integers(0, SHARED))
            uploaded, downloaded, left = clients.get((user, peer), (0, 0, SIZE))
            event = draw(st.sampled_from(["", "started", "completed", "stopped", "paused"]))
            at += draw(_seconds())
            freeleech = draw(st.one_of(st.just(freeleech), FREELEECH))
            step = Step(
                user=user, peer=peer, ip=draw(st.sampled_from(IPS)), port=draw(st.sampled_from(PORTS)),
                uploaded=draw(_counter(uploaded)), downloaded=draw(_counter(downloaded)),
                left=draw(st.one_of(st.just(0), st.just(left), st.integers(0, SIZE))), event=event,
                numwant=0 if event == "stopped" else draw(NUMWANT),  # tracker.announce.protocol: a stop wants none
                with_peer_ids=draw(st.booleans()), freeleech=freeleech, at=at, shuffle=shuffle,
                r=draw(st.one_of(st.integers(0, 1000), st.sampled_from(shuffles))),  # exactly at a peer's place, too
                ends_batch=draw(ENDS_BATCH), v2=draw(st.booleans()),
            )  # fmt: skip
            clients[user, peer] = (step.uploaded, step.downloaded, step.left)
        steps.append(step)
    policy = draw(st.one_of(st.none(), policies()))
    standing = tuple(draw(members()) for _ in range(users)) if policy else ()
    return Scenario(users, freeleech, counts, steps, policy, standing)


# What the model and the database are compared on, field by field.


class PeerRow(NamedTuple):
    peer_id: bytes
    user: int
    ip: str
    port: int
    compact: bytes
    alt_compact: bytes | None  # a dual-stack peer's address in the other family, and when it last announced from it
    alt_announce: datetime | None
    shuffle: int
    v2: bool  # announced under the hybrid's v2 hash at least once
    uploaded: int
    downloaded: int
    left: int
    is_seeder: bool
    last_announce: datetime
    prev_uploaded: int | None
    prev_downloaded: int | None
    prev_left: int | None
    prev_is_seeder: bool | None
    prev_announce: datetime | None


class SnatchRow(NamedTuple):
    user: int
    uploaded: int
    downloaded: int
    left: int | None
    seed_time: int
    is_seeding: bool
    is_leeching: bool
    first_announce: datetime
    last_announce: datetime
    completed_at: datetime | None
    times_completed: int
    hnr_seed: int | None
    hnr_ratio_pct: int | None
    hnr_due: datetime | None
    hnr_state: str


def gated(peer: "PeerRow | None", s: Step, policy: AnnouncePolicy | None) -> bool:
    """Does `s` go through the gate? It starts a peer, or turns a seeder into a leecher (a live peer of its own
    re-announcing as before, a stop, and a peer_id another member's peer holds do not)."""
    if policy is None or s.event == "stopped":
        return False
    if peer is None:
        return True
    if peer.user != s.user:
        return False
    return not (peer.last_announce >= s.now - timedelta(seconds=expiry()) and (not peer.is_seeder or s.is_seeder))


class Model:
    """The specification's world: the peers and snatches announces leave, the members' totals and the torrent's counts.

    Each announce goes through rules.announce_effects with the peer's previous
    figures and the snatch as remembered here; the totals and counts are the
    sums of the effects.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.peers: dict[bytes, PeerRow] = {}
        self.snatches: dict[int, SnatchRow] = {}
        self.policy = scenario.policy
        self.members = scenario.members or tuple(Member() for _ in range(scenario.users))
        self.totals = [(0, 0, m.watch_since) for m in self.members]
        self.counts = scenario.counts
        self.last_refusal = ""  # the gate's refusal of the last announce ("" if none)

    def announce(self, s: Step) -> bool:
        """Apply `s`; False if it was refused: its peer_id is another member's peer's (a stop of it changes nothing),
        or the gate refused it (`last_refusal` says why)."""
        self.last_refusal = ""
        peer, snatch = self.peers.get(s.pid), self.snatches.get(s.user)
        if peer is not None and peer.user != s.user:
            return s.event == "stopped"
        member = self.members[s.user]
        if gated(peer, s, self.policy):
            assert self.policy is not None
            live = s.now - timedelta(seconds=expiry())
            mine = [p for p in self.peers.values() if p.user == s.user and p.peer_id != s.pid and p.last_announce >= live]
            up, down, since = self.totals[s.user]
            refusal = gate_verdict(
                GateIn(s.is_seeder, len(mine), any(not p.is_seeder for p in mine), 0, up, down, since, member.warnings, s.now), self.policy
            )
            if refusal is not None:
                self.last_refusal = refusal.code()
                return False
        dmul, ddiv, umul = credit_shares(self.policy, s.freeleech, s.now)
        uncounted = any(until is not None and until > s.now for until in (member.freeleech_until, member.token_until))
        e = announce_effects(
            peer=PeerBefore(peer.uploaded, peer.downloaded, peer.left, peer.is_seeder, peer.last_announce) if peer else None,
            snatch=SnatchBefore(snatch.left, snatch.times_completed) if snatch else None,
            announce=AnnounceIn(
                s.uploaded, s.downloaded, s.left, s.event, s.is_seeder, s.now, s.freeleech, expiry(),
                umul=umul, uncounted=uncounted, share=(dmul, ddiv),
            ),
        )  # fmt: skip
        if not e.recorded:
            return True
        figures = dict(
            ip=s.ip, port=s.port, compact=peer_compact(s.ip, s.port), uploaded=s.uploaded, downloaded=s.downloaded, left=s.left,
            is_seeder=s.is_seeder, last_announce=s.now,
        )  # fmt: skip
        if s.event == "stopped":
            del self.peers[s.pid]
        elif peer is None:
            self.peers[s.pid] = PeerRow(
                s.pid,
                s.user,
                shuffle=s.shuffle,
                v2=s.v2,
                alt_compact=None,
                alt_announce=None,
                **figures,
                **dict.fromkeys(PeerRow._fields[-5:]),
            )
        else:
            # From the other address family (a dual-stack client): the stored address becomes the other one.
            alt = {"alt_compact": peer.compact, "alt_announce": peer.last_announce} if len(figures["compact"]) != len(peer.compact) else {}
            self.peers[s.pid] = peer._replace(
                **figures, **alt, v2=peer.v2 or s.v2, prev_uploaded=peer.uploaded, prev_downloaded=peer.downloaded, prev_left=peer.left,
                prev_is_seeder=peer.is_seeder, prev_announce=peer.last_announce,
            )  # fmt: skip
        up, down, since = self.totals[s.user]
        if e.credit_up or e.credit_down:
            up, down = up + e.credit_up, down + e.credit_down
            bands = self.policy.ratio_bands if self.policy else ()
            since = watch_since_after(uploaded=up, downloaded=down, watch_since=since, now=s.now, bands=bands)
        self.totals[s.user] = (up, down, since)
        completed_at = s.now if e.completing else None
        if snatch is None:
            snatch = SnatchRow(s.user, 0, 0, None, 0, False, False, s.now, s.now, completed_at, 0, None, None, None, "")
        if e.completing and snatch.times_completed == 0:  # the hit-and-run requirement, frozen at the first completion
            seed, ratio, due = hnr_terms(self.policy, size=SIZE, uploader=False, download_counted=dmul > 0, now=s.now)
            state = HnrState.PENDING if seed is not None else HnrState.NONE
            snatch = snatch._replace(hnr_seed=seed, hnr_ratio_pct=ratio, hnr_due=due, hnr_state=state)
        self.snatches[s.user] = snatch._replace(
            uploaded=snatch.uploaded + e.traffic_up, downloaded=snatch.downloaded + e.traffic_down, left=s.left,
            seed_time=snatch.seed_time + e.seed_time, is_seeding=e.state is True, is_leeching=e.state is False,
            last_announce=s.now, completed_at=snatch.completed_at or completed_at,
            times_completed=snatch.times_completed + e.completing,
        )  # fmt: skip
        seeders, leechers, completed = self.counts
        self.counts = (seeders + e.seeders, leechers + e.leechers, completed + e.first_completion)
        return True

    def state(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "totals": self.totals,
            "peers": sorted(self.peers.values()),
            "snatches": sorted(self.snatches.values()),
        }


def selection(peers: dict[bytes, PeerRow], s: Step) -> tuple[bytes, bytes]:
    """The peers (packed v4, v6) a reply to `s` carries from swarm `peers`: the statements' window, computed in Python.

    Up to `numwant` live peers other than the announcing one (leechers only for
    a seeder; under the v2 hash, only peers that announced under it), in
    shuffle order starting at `r` and wrapping round. Each comes
    in the list of its address's family, and a dual-stack one also in the
    other family's list with its other address, if that announced within the expiry.
    """
    live = s.now - timedelta(seconds=expiry())
    candidates = [
        p
        for p in peers.values()
        if p.peer_id != s.pid and p.last_announce >= live and not (s.is_seeder and p.is_seeder) and (p.v2 or not s.v2)
    ]
    chosen = sorted(candidates, key=lambda p: (p.shuffle < s.r, p.shuffle))[: s.numwant]
    tail = (lambda p: p.peer_id) if s.with_peer_ids else (lambda p: b"")
    addresses = [[p.compact] + ([p.alt_compact] if p.alt_compact is not None and p.alt_announce >= live else []) for p in chosen]  # type: ignore[operator]
    lists = tuple(
        b"".join(a + tail(p) for p, mine in zip(chosen, addresses, strict=True) for a in mine if len(a) == size) for size in (6, 18)
    )
    return lists[0], lists[1]


class Twin(NamedTuple):
    """One implementation's world: its own members and torrent."""

    users: list[User]
    torrent: Torrent

    policy: AnnouncePolicy | None = None

    @classmethod
    def create(cls, scenario: Scenario) -> "Twin":
        seeders, leechers, completed = scenario.counts
        torrent = TorrentFactory(size=SIZE, freeleech=scenario.freeleech, seeders=seeders, leechers=leechers, completed=completed)
        users = [UserFactory() for _ in range(scenario.users)]
        for user, member in zip(users, scenario.members, strict=False):
            User.objects.filter(pk=user.pk).update(freeleech_until=member.freeleech_until, ratio_watch_since=member.watch_since)
            if member.token_until is not None:
                TokenUse.objects.create(user=user, torrent=torrent, created_at=BASE - timedelta(days=5), expires_at=member.token_until)
            for _ in range(member.warnings):
                HnrWarning.objects.create(user=user, created_at=BASE - timedelta(days=5), expires_at=BASE + timedelta(days=3650))
        return cls(users, torrent, scenario.policy)

    def params(self, s: Step) -> dict[str, Any]:
        """announce_params of `s` in this world, with the Step's shuffle and r instead of random ones (so replies compare)."""
        params = announce_params(
            user_id=self.users[s.user].id, torrent_id=self.torrent.id, freeleech=s.freeleech, peer_id=s.pid, ip=s.ip,
            port=s.port, uploaded=s.uploaded, downloaded=s.downloaded, left=s.left, event=s.event, is_seeder=s.is_seeder,
            numwant=s.numwant, now=s.now, with_peer_ids=s.with_peer_ids, policy=self.policy, torrent_size=SIZE, v2=s.v2,
        )  # fmt: skip
        return params | {"shuffle": s.shuffle, "r": s.r}

    def state(self) -> dict[str, Any]:
        """Everything announces change in this world, members named by position, in the Model's terms."""
        position = {u.id: n for n, u in enumerate(self.users)}
        peers = Peer.objects.filter(torrent=self.torrent).values_list("peer_id", "user_id", *PeerRow._fields[2:])
        snatches = Snatch.objects.filter(torrent=self.torrent).values_list("user_id", *SnatchRow._fields[1:])
        totals = User.objects.in_bulk([u.id for u in self.users])
        return {
            "counts": TorrentStats.objects.filter(pk=self.torrent.pk).values_list("seeders", "leechers", "completed").get(),
            "totals": [(totals[u.id].uploaded, totals[u.id].downloaded, totals[u.id].ratio_watch_since) for u in self.users],
            "peers": sorted(
                PeerRow(bytes(pid), position[user], str(ip), port, bytes(compact), None if alt is None else bytes(alt), *rest)
                for pid, user, ip, port, compact, alt, *rest in peers
            ),
            "snatches": sorted(SnatchRow(position[user], *rest) for user, *rest in snatches),
        }


def run_batch(batch: list[dict[str, Any]]) -> list[AnnounceResult]:
    """PG_BATCH on the test's own connection (psycopg's RawCursor takes its $n placeholders)."""
    from psycopg import RawCursor

    connection.ensure_connection()
    with RawCursor(connection.connection) as cursor:
        cursor.execute(batch_sql(batch), batch_args(batch))
        return batch_results(cursor.fetchall(), len(batch))


def assert_reply(
    reply: AnnounceResult, *, accepted: bool, counts: tuple[int, int, int], peers: tuple[bytes, bytes], what: str, refused: str = ""
) -> None:
    """A reply is the model's: accepted or refused alike (by the gate, for the same reason); if accepted, the counts
    and the packed peers.

    (A refused announce's counts and peers are not compared: the caller
    answers it with a failure, and the implementations fill them differently.)
    """
    assert reply.refused == refused, f"{what}: refused"
    assert reply.accepted == accepted or refused, f"{what}: accepted"
    if accepted:
        assert (reply.seeders, reply.leechers, reply.completed) == counts, f"{what}: counts"
        assert (reply.peers4, reply.peers6) == peers, f"{what}: peers"


def assert_state(twin: Twin, model: Model, *, what: str) -> None:
    """The twin's rows are the model's, part by part (the torrent's counts, the members' totals, the peers, the snatches)."""
    rows, expected = twin.state(), model.state()
    for part in expected:
        assert rows[part] == expected[part], f"{what}: {part}"


def check(scenario: Scenario) -> None:
    """Run `scenario` through the model and the three twins, comparing replies and states as it goes.

    The portable and single twins announce one by one, so each reply carries
    the counts after its announce and peers from the swarm before it (the
    announcing peer is never handed out, so before and after are the same).
    The batch twin sends consecutive announces together, never two with the
    same batch_keys in one batch; its replies carry the counts after the
    whole batch and peers from the swarm as it was before the batch.
    """
    model = Model(scenario)
    portable, single, batched = (Twin.create(scenario) for _ in range(3))
    pending: list[tuple[Step, bool, str]] = []  # the batch twin's next batch: announces, whether the model accepted them, why not
    before_batch: dict[bytes, PeerRow] = {}  # the swarm as the batch twin's next batch finds it

    def send_batch() -> None:
        replies = run_batch([batched.params(s) for s, *_ in pending])
        for n, ((s, accepted, refused), reply) in enumerate(zip(pending, replies, strict=True)):
            peers = selection(before_batch, s)
            assert_reply(reply, accepted=accepted, counts=model.counts, peers=peers, refused=refused, what=f"batch announce {n}: {s}")
        assert_state(batched, model, what=f"batch twin after {[s for s, *_ in pending]}")
        pending.clear()

    for n, s in enumerate(scenario.steps):
        keys = set(batch_keys(batched.params(s)))
        if pending and keys & {k for p, *_ in pending for k in batch_keys(batched.params(p))}:
            send_batch()
        if not pending:
            before_batch = dict(model.peers)
        peers = selection(model.peers, s)
        accepted = model.announce(s)
        for twin, implementation in ((portable, announce_portable), (single, announce_statement)):
            what = f"{implementation.__name__}, announce {n}: {s}"
            reply = implementation(twin.params(s))
            assert_reply(reply, accepted=accepted, counts=model.counts, peers=peers, refused=model.last_refusal, what=what)
            assert_state(twin, model, what=what)
        pending.append((s, accepted, model.last_refusal))
        if s.ends_batch:
            send_batch()
    if pending:
        send_batch()


@pytest.mark.django_db
@hypothesis_settings(max_examples=150, deadline=None, database=None)
@given(scenarios())
def test_every_implementation_leaves_the_state_and_gives_the_replies_the_specification_says(scenario: Scenario) -> None:
    """The portable path, the single statement and batches agree with rules.announce_effects, row for row and reply for reply."""
    with transaction.atomic():  # each example in a savepoint, rolled back: the next one starts from an empty swarm
        check(scenario)
        transaction.set_rollback(True)


def _step(**fields: Any) -> Step:
    """A Step with plain defaults: member 0's first own peer, seeding, at BASE."""
    defaults = dict(
        user=0, peer=0, ip=IPS[0], port=PORTS[0], uploaded=0, downloaded=0, left=0, event="started", numwant=50,
        with_peer_ids=False, freeleech=Freeleech.NONE, at=0, shuffle=1, r=0, ends_batch=True,
    )  # fmt: skip
    return Step(**defaults | fields)


# Found by the test above: the statements rounded fractional seconds of seeding, the rules truncated them.


@pytest.mark.django_db
def test_a_fractional_second_of_seeding_counts_alike_everywhere() -> None:
    """A seeder announcing again 1.6 s, then 2.5 s later (clients' clocks are not whole seconds) gets the same seed time everywhere."""
    steps = [_step(), _step(event="", at=1.6, shuffle=2), _step(event="", at=4.1, shuffle=3)]
    check(Scenario(1, Freeleech.NONE, (0, 0, 0), steps))
