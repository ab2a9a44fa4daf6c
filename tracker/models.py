"""The tracker app's models, for Django and the migrations: the catalogue's and the swarm's tables."""

from tracker.catalogue.models import (
    FROZEN_STATUSES,
    AccessLevel,
    Bookmark,
    Category,
    Comment,
    Forum,
    Freeleech,
    Torrent,
    TorrentFile,
    TorrentStats,
    TorrentStatus,
    TorrentStatusChange,
)
from tracker.swarm.models import SHUFFLE_END, Peer, Snatch, peer_compact, peer_shuffle

__all__ = [
    "FROZEN_STATUSES",
    "SHUFFLE_END",
    "AccessLevel",
    "Bookmark",
    "Category",
    "Comment",
    "Forum",
    "Freeleech",
    "Peer",
    "Snatch",
    "Torrent",
    "TorrentFile",
    "TorrentStats",
    "TorrentStatus",
    "TorrentStatusChange",
    "peer_compact",
    "peer_shuffle",
]
