"""The operators' site: the catalogue (forums, torrents, comments) and the swarm (peers, snatches)."""

from tracker.admin import catalogue, swarm

__all__ = ["catalogue", "swarm"]
