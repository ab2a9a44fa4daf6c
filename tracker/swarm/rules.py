"""The specification of an announce's effects: one pure function, no I/O.

Given the peer as its previous announce left it, the member's snatch of the
torrent and the announce itself, `announce_effects` says what the announce
changes: what is credited to the member, what the snatch records, whether
the download completes, and how the torrent's seeders, leechers and
completed move. Three implementations carry it out:

- the portable path (tracker.swarm.announce), which applies this function;
- the single PostgreSQL statement (tracker.swarm.sql);
- the batch statement (tracker.swarm.batch).

tests/tracker/swarm/test_announce_spec.py feeds random announce sequences
through all three on PostgreSQL and compares the resulting rows and replies,
so a rule changed in one place and not the others fails there. A new rule
that touches crediting starts here, then goes into both statements.

The rules:
- credits are differences from the peer's previous counters; a counter that
  went down means the client restarted, and its new value is credited
  (never a negative);
- a brand-new peer is credited nothing for the counters it starts with
  (UNIT3D's rule): they may come from another tracker or a previous session
  we already credited, and we cannot tell which;
- freeleech scales the download credited to the member (gold nothing, silver
  half, rounded down; a site-wide freeleech event nothing), a double-upload
  event doubles the upload credited; a freeleech token running on the
  torrent or the member's personal freeleech credits no download at all; the
  snatch records the real traffic;
- seed time grows by the time since the previous announce if the peer was
  seeding then, capped at the peer expiry, in whole seconds (rounded);
- a download completes when `left` reaches 0 from above, or, for a peer we
  did not know, on `event=completed` or when the snatch still had bytes
  left (aria2 never sends `completed`); the torrent's `completed` counts
  only a member's first completion;
- a member's first completion freezes the hit-and-run requirement on the
  snatch (tracker.policy.snapshot.hnr_terms); later completions keep it;
- after a credit, the ratio watch starts (the member fell below their band's
  requirement) or ends (they are back above it): tracker.policy.standing;
- a stop removes the peer; a stop of a peer we do not know (or of another
  member's peer_id) changes nothing and is answered as usual;
- the gate (`gate_verdict`) refuses, before anything is written, an announce
  that starts a peer or turns one to leeching when the member is over a
  limit: their peers on the torrent, their download rights, their leech
  slots. A peer already leeching, any seeder's re-announce and a stop pass.
"""

import math
from datetime import datetime
from typing import NamedTuple

from tracker.policy.snapshot import DOWNLOAD_CREDIT_SHARE, AnnouncePolicy
from tracker.policy.standing import Refusal, download_refusal, leech_slots


class PeerBefore(NamedTuple):
    """The peer's figures as its previous announce left them."""

    uploaded: int
    downloaded: int
    left: int
    is_seeder: bool
    last_announce: datetime


class SnatchBefore(NamedTuple):
    """What the member's snatch of the torrent holds before this announce."""

    left: int | None
    times_completed: int


class GateIn(NamedTuple):
    """What the gate judges an announce that starts a peer (or turns it to leeching) by: live figures."""

    seeder: bool  # the announce's own state
    peers_here: int  # the member's other live peers on this torrent
    leeching_here: bool  # ... one of which is leeching (the torrent holds a slot already)
    leeching_elsewhere: int  # other torrents the member leeches now
    uploaded: int  # the member's totals
    downloaded: int
    watch_since: datetime | None
    warnings: int  # active hit-and-run warnings
    now: datetime


class AnnounceIn(NamedTuple):
    """The announce as the rules see it."""

    uploaded: int
    downloaded: int
    left: int
    event: str  # "", "started", "completed" or "stopped"
    is_seeder: bool
    now: datetime
    freeleech: str
    expiry: int  # TRACKER_PEER_EXPIRY: the most seed time one interval may add
    umul: int = 1  # upload multiplier (a double-upload event: 2)
    uncounted: bool = False  # a freeleech token on the torrent or personal freeleech: no download credited
    # The download's share (numerator, denominator) once the site's events are applied:
    # tracker.policy.snapshot.credit_shares, the one source of it. None: the torrent's freeleech alone.
    share: tuple[int, int] | None = None


class Effects(NamedTuple):
    """What one announce changes."""

    recorded: bool  # False: nothing changes (a stop of a peer we did not know)
    credit_up: int  # added to the member's uploaded
    credit_down: int  # added to the member's downloaded (freeleech applied)
    traffic_up: int  # added to the snatch (real traffic)
    traffic_down: int
    seed_time: int  # seconds added to the snatch
    completing: bool  # the snatch counts one more completion
    first_completion: bool  # ... and it is the member's first: the torrent's `completed` grows
    seeders: int  # change of the torrent's seeders: -1, 0 or +1
    leechers: int  # change of the torrent's leechers
    state: bool | None  # the peer afterwards: True seeding, False leeching, None gone


NOTHING = Effects(False, 0, 0, 0, 0, 0, False, False, 0, 0, None)


def transfer_credit(*, new: int, previous: int | None) -> int:
    """Bytes to credit for a counter now at `new` that stood at `previous` (None: a brand-new peer)."""
    if previous is None:
        return 0
    return new - previous if new >= previous else new


def download_share(freeleech: str) -> tuple[int, int]:
    """(numerator, denominator) of the download credited under `freeleech`."""
    return DOWNLOAD_CREDIT_SHARE.get(freeleech, (1, 1))


def download_credit(*, delta: int, freeleech: str, uncounted: bool = False, share: tuple[int, int] | None = None) -> int:
    """The part of a download delta that counts against the member (freeleech or the events' `share`, tokens, personal freeleech)."""
    if uncounted:
        return 0
    numerator, denominator = share or download_share(freeleech)
    return delta * numerator // denominator


def gate_verdict(gate: GateIn, policy: AnnouncePolicy) -> Refusal | None:
    """Why an announce that starts a peer (or turns it to leeching) is refused, or None: the announce goes ahead.

    In this order: the member's peers on the torrent (seeders too); for a
    leecher, their download rights (tracker.policy.standing.download_refusal),
    then their leech slots, unless another of their peers already leeches
    this torrent. The SQL function `tracker_gate` (migration 0010) is the
    same, on rows it reads under the member's advisory lock.
    """
    if policy.peers_per_torrent > 0 and gate.peers_here >= policy.peers_per_torrent:
        return Refusal("peers", (gate.peers_here, policy.peers_per_torrent))
    if gate.seeder:
        return None
    refusal = download_refusal(
        uploaded=gate.uploaded, downloaded=gate.downloaded, watch_since=gate.watch_since, now=gate.now,
        bands=policy.ratio_bands, watch_days=policy.watch_days, warnings=gate.warnings, max_warnings=policy.max_warnings,
    )  # fmt: skip
    if refusal is not None or gate.leeching_here:
        return refusal
    slots = leech_slots(
        uploaded=gate.uploaded, downloaded=gate.downloaded, slots_after=policy.slots_after, slots_max=policy.slots_max,
        bands=policy.slot_bands,
    )  # fmt: skip
    if slots is not None and gate.leeching_elsewhere >= slots:
        return Refusal("slots", (gate.leeching_elsewhere, slots))
    return None


def is_completing(*, left: int, prev_left: int | None, event: str, snatch_left: int | None) -> bool:
    """Did this announce finish the download? `left` reached 0, or the client said so."""
    if left != 0:
        return False
    if prev_left is not None:
        return prev_left > 0
    return event == "completed" or (snatch_left is not None and snatch_left > 0)


def seed_time_added(*, peer: PeerBefore | None, now: datetime, expiry: int) -> int:
    """Seconds of seeding since the previous announce (0 unless the peer was seeding), at most `expiry`.

    Rounded to the nearest second, halves up, as PostgreSQL casts the
    statements' numeric seconds to bigint.
    """
    if peer is None or not peer.is_seeder:
        return 0
    return math.floor(min(max((now - peer.last_announce).total_seconds(), 0), expiry) + 0.5)


def announce_effects(*, peer: PeerBefore | None, snatch: SnatchBefore | None, announce: AnnounceIn) -> Effects:
    """What `announce` changes, given the peer's previous figures (None: new) and the member's snatch (None: none yet)."""
    stopped = announce.event == "stopped"
    if stopped and peer is None:
        return NOTHING
    up = transfer_credit(new=announce.uploaded, previous=peer.uploaded if peer else None)
    down = transfer_credit(new=announce.downloaded, previous=peer.downloaded if peer else None)
    completing = is_completing(
        left=announce.left,
        prev_left=peer.left if peer else None,
        event=announce.event,
        snatch_left=snatch.left if snatch else None,
    )
    was = None if peer is None else peer.is_seeder
    state = None if stopped else announce.is_seeder
    return Effects(
        recorded=True,
        credit_up=up * announce.umul,
        credit_down=download_credit(delta=down, freeleech=announce.freeleech, uncounted=announce.uncounted, share=announce.share),
        traffic_up=up,
        traffic_down=down,
        seed_time=seed_time_added(peer=peer, now=announce.now, expiry=announce.expiry),
        completing=completing,
        first_completion=completing and (snatch is None or snatch.times_completed == 0),
        seeders=int(state is True) - int(was is True),
        leechers=int(state is False) - int(was is False),
        state=state,
    )
