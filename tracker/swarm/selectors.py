"""Reads of the swarm: scrape figures, peer lists and snatch history."""

from datetime import datetime
from typing import Any, NamedTuple, Protocol

from django.db.models import Q, QuerySet

from accounts.models import User
from core.listing import ListSpec
from tracker.catalogue.access import user_level
from tracker.catalogue.models import Torrent
from tracker.catalogue.selectors import torrent_visible_q
from tracker.policy.clients import client_label
from tracker.swarm.models import Peer, Snatch

# The lists of the swarm's API: a torrent's peers (paged only) and a member's history.
PEER_LIST = ListSpec()
HISTORY_LIST = ListSpec(
    sorts={
        "last_announce": "last_announce", "first_announce": "first_announce", "uploaded": "uploaded",
        "downloaded": "downloaded", "seed_time": "seed_time", "completed_at": "completed_at",
    },
    default_sort="last_announce",
    default_order="desc",
)  # fmt: skip


class Scraper(Protocol):
    """Who scrapes, as the tracker knows them (tracker.swarm.lookups.AnnounceUser): an id and an access level."""

    @property
    def id(self) -> int: ...

    @property
    def level(self) -> int: ...


def torrent_scrape(*, info_hashes: list[bytes], user: Scraper) -> dict[bytes, tuple[int, int, int]]:
    """BEP 48 figures per requested 20-byte hash: (complete, downloaded, incomplete).

    Unknown hashes are left out, and so are torrents `user` may not see (the
    catalogue's rule: forums above their level; not approved, unless theirs
    or they moderate), exactly as if they were not registered.
    """
    wanted = {h.hex(): h for h in info_hashes}
    rows = (
        Torrent.objects.filter(Q(info_hash__in=wanted) | Q(info_hash_v2_short__in=wanted))
        .filter(torrent_visible_q(level=user.level, user_id=user.id))
        .values_list("info_hash", "info_hash_v2_short", "stats__seeders", "stats__completed", "stats__leechers")
    )
    files: dict[bytes, tuple[int, int, int]] = {}
    for v1, v2_short, seeders, completed, leechers in rows:
        for hex_hash in (v1, v2_short):
            if hex_hash in wanted:
                # No counts row (a bulk load before recount_torrents): zeros, as the announce answers.
                files[wanted[hex_hash]] = (seeders or 0, completed or 0, leechers or 0)
    return files


def torrent_peers(*, torrent: Torrent) -> QuerySet[Peer]:
    """The live peers of `torrent`: seeders first, then by progress and upload."""
    return Peer.objects.filter(torrent=torrent).select_related("user").order_by("-is_seeder", "left", "-uploaded", "id")


def peers_visible_to(viewer: Any) -> bool:
    """May `viewer` list a (visible) torrent's peers? Members may; guests may not (the API answers them 401).

    The API's peer list and the torrent page both ask this, so the page never
    shows a guest what the API refuses them.
    """
    return bool(getattr(viewer, "is_authenticated", False)) and bool(getattr(viewer, "can_log_in", True))


class PeerView(NamedTuple):
    """One peer as a viewer may see it: the name hidden if the member asks, the address for moderators only."""

    id: int
    user: dict[str, Any] | None
    client: str
    is_seeder: bool
    uploaded: int
    downloaded: int
    left: int
    progress: float
    last_seen: datetime
    ip: str | None
    port: int | None


def peer_view(peer: Peer, *, viewer: Any, size: int) -> PeerView:
    """`peer` as `viewer` may see it (the API's peer list and the torrent page both show this)."""
    moderator = bool(getattr(viewer, "is_moderator", False))
    shown = moderator or not peer.user.hide_in_peers or peer.user_id == viewer.pk
    return PeerView(
        id=peer.pk,
        user={"id": peer.user_id, "username": peer.user.username} if shown else None,
        client=peer_client_name(bytes(peer.peer_id)),
        is_seeder=peer.is_seeder,
        uploaded=peer.uploaded,
        downloaded=peer.downloaded,
        left=peer.left,
        progress=peer_progress(left=peer.left, size=size),
        last_seen=peer.last_announce,
        ip=peer.ip if moderator else None,
        port=peer.port if moderator else None,
    )


def peer_progress(*, left: int, size: int) -> float:
    """Percent done, from `left` and the torrent's size."""
    if size <= 0:
        return 100.0 if left == 0 else 0.0
    return round(max(0.0, min(100.0, 100.0 * (size - left) / size)), 1)


def snatch_history(*, user: User, filters: dict[str, bool], viewer: Any = None) -> QuerySet[Snatch]:
    """`user`'s snatches of torrents `viewer` (by default `user`) may see, newest activity first,
    narrowed by seeding / leeching / completed.

    The rows follow the catalogue's visibility rule for the viewer: a member
    sees their own snatches of the torrents they may see now (not of one
    that went back to moderation, unless they uploaded it, nor of a forum
    since closed to them); a moderator looking at anyone's history sees every
    row of the forums open to moderators.
    """
    viewer = user if viewer is None else viewer
    visible = torrent_visible_q(level=user_level(viewer), user_id=viewer.pk, through="torrent__")
    qs = Snatch.objects.filter(visible, user=user).select_related("torrent")
    if "seeding" in filters:
        qs = qs.filter(is_seeding=filters["seeding"])
    if "leeching" in filters:
        qs = qs.filter(is_leeching=filters["leeching"])
    if "completed" in filters:
        qs = qs.filter(completed_at__isnull=not filters["completed"])
    return qs.order_by("-last_announce", "-id")


def peer_client_name(peer_id: bytes) -> str:
    """A readable client name and version from a peer id (`-qB4650-...` -> qBittorrent 4.6.5), else "unknown"."""
    return client_label(peer_id)
