"""What accounts tells the apps above it, without importing them."""

from django.dispatch import Signal

# Sent when what the tracker knows of a member may have changed: their passkey
# (reset), ban or role. `passkey` is the passkey the tracker may have cached
# (the old one after a reset). The tracker connects to it (tracker.swarm.lookups).
tracker_access_changed = Signal()
