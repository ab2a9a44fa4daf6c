"""The operators' site: the catalogue (forums, torrents, comments), the swarm (peers, snatches), the rules and the members."""

from django.contrib import admin

from tracker.admin import catalogue, members, policy, swarm

# The site's name, as the members' pages (templates/base.html) show it.
admin.site.site_header = admin.site.site_title = admin.site.index_title = "TorrentPier administration"

__all__ = ["catalogue", "members", "policy", "swarm"]
