"""An announce storm on both fronts and both processes of each: every credit and count is what the rules say (issue 11).

Twelve members each run a peer on 24 torrents (one peer per member and
torrent, so each peer has a snatch of its own). Every peer goes through a
random sequence of 12 announces: started, progress, completion (with and
without `event=completed`), client restarts with lower counters, stops and
rejoins. A quarter of the announces are sent twice at once, to one server of
each front. A peer's own announces go one after the other (its duplicate pair
together); all peers run at once, 64 requests in flight.

What the members must be credited is the specification itself
(tracker.swarm.rules.announce_effects) applied to each peer's sequence, each
duplicate twice: identical duplicates give the same totals in whichever order
the tracker serves them, so the sum does not depend on the interleaving.
"""

import asyncio
import itertools
import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import NamedTuple

from django.conf import settings

from tests.aio import run_in_thread
from tests.drills import harness
from tests.drills.checks import assert_tables_consistent, torrent_counts
from tracker.catalogue.models import Freeleech
from tracker.swarm.rules import AnnounceIn, PeerBefore, SnatchBefore, announce_effects

SIZE = 1_000_000
STEPS = 12
DUPLICATE_SHARE = 0.25
IN_FLIGHT = 64
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Step(NamedTuple):
    event: str
    uploaded: int
    downloaded: int
    left: int
    servers: tuple[int, ...]  # indexes into the stack's servers: one, or two (a duplicate, one per front)


def plan_peer(rng: random.Random, fronts: dict[str, list[int]]) -> list[Step]:
    """A peer's announces, in the order it sends them."""
    steps: list[Step] = []
    up, down, left = rng.randrange(0, 5000), 0, SIZE  # a brand-new peer's starting counters are not credited
    alive = False

    def add(event: str) -> None:
        if rng.random() < DUPLICATE_SHARE:
            servers: tuple[int, ...] = (rng.choice(fronts["wsgi"]), rng.choice(fronts["asgi"]))
        else:
            servers = (rng.choice(fronts["wsgi"] + fronts["asgi"]),)
        steps.append(Step(event, up, down, left, servers))

    add("started")
    alive = True
    while len(steps) < STEPS:
        roll = rng.random()
        if not alive:  # rejoins: a new peer again, counters carried on or started over
            if rng.random() < 0.5:
                up, down = 0, 0
            add("started")
            alive = True
        elif roll < 0.12:  # the client restarted: lower counters
            up, down = rng.randrange(0, up // 2 + 1), rng.randrange(0, down // 2 + 1)
            add(rng.choice(["", "started"]))
        elif roll < 0.22:
            up += rng.randrange(0, 4000)
            add("stopped")
            alive = False
        else:
            before = left
            up += rng.randrange(0, 8000)
            if left:
                got = min(left, rng.randrange(SIZE // 8, SIZE // 2))
                down, left = down + got, left - got
            add("completed" if left == 0 and before > 0 and rng.random() < 0.6 else "")
    return steps


class Expected(NamedTuple):
    credited: dict[int, tuple[int, int]]  # user id -> (uploaded, downloaded)
    snatches: dict[tuple[int, int], tuple[int, int, int]]  # (user, torrent) -> (uploaded, downloaded, times_completed)
    torrents: dict[int, tuple[int, int, int]]  # torrent id -> (seeders, leechers, completed)


def expected_by_the_rules(plan: list[tuple[int, int, list[Step]]], torrent_ids: list[int]) -> Expected:
    up: Counter[int] = Counter()
    down: Counter[int] = Counter()
    snatches: dict[tuple[int, int], tuple[int, int, int]] = {}
    torrents = {tid: [0, 0, 0] for tid in torrent_ids}
    for user_id, torrent_id, steps in plan:
        peer: PeerBefore | None = None
        snatch: SnatchBefore | None = None
        for step in steps:
            for _ in step.servers:  # a duplicate is applied twice
                announce = AnnounceIn(
                    step.uploaded, step.downloaded, step.left, step.event, step.left == 0, NOW, Freeleech.NONE, settings.TRACKER_PEER_EXPIRY
                )
                effects = announce_effects(peer=peer, snatch=snatch, announce=announce)
                if not effects.recorded:
                    continue
                up[user_id] += effects.credit_up
                down[user_id] += effects.credit_down
                s_up, s_down, s_done = snatches.get((user_id, torrent_id), (0, 0, 0))
                snatches[(user_id, torrent_id)] = (s_up + effects.traffic_up, s_down + effects.traffic_down, s_done + effects.completing)
                snatch = SnatchBefore(step.left, s_done + effects.completing)
                counts = torrents[torrent_id]
                counts[0] += effects.seeders
                counts[1] += effects.leechers
                counts[2] += effects.first_completion
                peer = None if effects.state is None else PeerBefore(step.uploaded, step.downloaded, step.left, effects.state, NOW)
    users = {user_id for user_id, _, _ in plan}
    return Expected({u: (up[u], down[u]) for u in users}, snatches, {t: (c[0], c[1], c[2]) for t, c in torrents.items()})


async def storm(stack: harness.Stack, plan: list[tuple[str, str, bytes, list[Step]]]) -> tuple[Counter[str], list[str], Counter[str]]:
    gate = asyncio.Semaphore(IN_FLIGHT)
    outcomes: Counter[str] = Counter()
    per_server: Counter[str] = Counter()
    problems: list[str] = []

    async def send(index: int, target: str) -> None:
        server = stack.servers[index]
        async with gate:
            try:
                reply = await harness.http_get(server.port, target)
            except TimeoutError:
                outcomes["timeout"] += 1
                problems.append(f"{server.name}: no answer within {harness.CLIENT_TIMEOUT}s")
                return
            except OSError as exc:
                outcomes["broken"] += 1
                problems.append(f"{server.name}: {exc!r}")
                return
        outcome, detail = harness.tracker_outcome(reply)
        outcomes[outcome] += 1
        per_server[server.name] += 1
        if outcome != "ok":
            problems.append(f"{server.name}: {outcome} {detail}")

    async def run_peer(passkey: str, info_hash: str, pid: bytes, steps: list[Step]) -> None:
        for step in steps:
            target = harness.announce_target(
                passkey, info_hash, pid, uploaded=step.uploaded, downloaded=step.downloaded, left=step.left, event=step.event
            )
            await asyncio.gather(*(send(index, target) for index in step.servers))

    await asyncio.gather(*(run_peer(*peer) for peer in plan))
    return outcomes, problems, per_server


def test_an_announce_storm_credits_exactly_what_the_rules_say(drill_stack, drill_figures):
    group = drill_stack.groups["storm"]
    rng = random.Random(11)
    fronts = {front: [i for i, s in enumerate(drill_stack.servers) if s.front == front] for front in ("wsgi", "asgi")}
    peers: list[tuple[str, str, bytes, list[Step]]] = []
    plan: list[tuple[int, int, list[Step]]] = []
    for m, (user_id, passkey) in enumerate(group.members):
        for t, (torrent_id, info_hash) in enumerate(group.torrents):
            steps = plan_peer(rng, fronts)
            peers.append((passkey, info_hash, harness.peer_id("st", m * 100 + t), steps))
            plan.append((user_id, torrent_id, steps))
    expected = expected_by_the_rules(plan, [tid for tid, _ in group.torrents])

    started = time.monotonic()
    outcomes, problems, per_server = run_in_thread(storm(drill_stack, peers))
    seconds = time.monotonic() - started

    steps_sent = [step for _, _, steps in plan for step in steps]
    sent = sum(len(step.servers) for step in steps_sent)
    duplicated = sum(len(step.servers) for _, _, steps in plan for step in steps if len(step.servers) > 1)
    assert outcomes["ok"] == sent, (outcomes, problems[:20])

    user_ids = [uid for uid, _ in group.members]
    torrent_ids = [tid for tid, _ in group.torrents]
    credited = {
        uid: (up, down)
        for uid, up, down in drill_stack.sql("SELECT id, uploaded, downloaded FROM accounts_user WHERE id = ANY(%s)", [user_ids])
    }
    snatches = {
        (uid, tid): (up, down, done)
        for uid, tid, up, down, done in drill_stack.sql(
            "SELECT user_id, torrent_id, uploaded, downloaded, times_completed FROM tracker_snatch WHERE torrent_id = ANY(%s)",
            [torrent_ids],
        )
    }
    counts = torrent_counts(drill_stack, torrent_ids)
    differences = (
        [f"user {u}: credited {credited[u]}, rules {expected.credited[u]}" for u in user_ids if credited[u] != expected.credited[u]]
        + [f"snatch {k}: {snatches.get(k)}, rules {v}" for k, v in expected.snatches.items() if snatches.get(k) != v]
        + [f"torrent {t}: {counts[t]}, rules {expected.torrents[t]}" for t in torrent_ids if counts[t] != expected.torrents[t]]
    )
    drill_figures["storm"] = {
        "announces sent": sent,
        "peers": len(plan),
        "members": len(user_ids),
        "torrents": len(torrent_ids),
        "announces (steps)": len(steps_sent),
        "steps sent twice at once": f"{sum(len(step.servers) > 1 for step in steps_sent) / len(steps_sent):.0%}",
        "requests in a duplicate pair": f"{duplicated / sent:.0%}",
        "events": dict(Counter(step.event or "(none)" for _, _, steps in plan for step in steps)),
        "restarts with lower counters": sum(
            1 for _, _, steps in plan for a, b in itertools.pairwise(steps) if b.uploaded < a.uploaded and a.event != "stopped"
        ),
        "completions (rules)": sum(c for _, _, c in expected.torrents.values()),
        "per server": dict(per_server),
        "errors": sent - outcomes["ok"],
        "differences": len(differences),
        "seconds": round(seconds, 1),
        "announces/s": round(sent / seconds),
    }
    assert not differences, differences[:20]
    assert_tables_consistent(drill_stack, torrent_ids)
