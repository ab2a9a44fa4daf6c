"""The operators' site: the catalogue (forums, torrents, comments) and the swarm (peers, snatches)."""

from tracker.admin import catalogue, policy, swarm

__all__ = ["catalogue", "policy", "swarm"]
