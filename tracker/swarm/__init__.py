"""The swarm: peers and snatches, the announce's rules and their SQL, the lookups and their cache keys."""
