"""The rules a new site starts with: written on first use, when the policy row does not exist yet.

A fresh database (or a test database after a flush) has no policy row; the
first read of the policy (tracker.policy.selectors.site_policy) creates it
with the model's defaults and these tables, in one transaction. An operator
who later empties a table keeps it empty: only a missing policy row seeds.
"""

from decimal import Decimal

from tracker.policy.models import GIB

# Gazelle's required-ratio table, by bytes downloaded: nothing for the first 5 GiB.
RATIO_BANDS: list[tuple[int, Decimal]] = [
    (0, Decimal("0.00")),
    (5 * GIB, Decimal("0.15")),
    (10 * GIB, Decimal("0.20")),
    (20 * GIB, Decimal("0.30")),
    (30 * GIB, Decimal("0.40")),
    (40 * GIB, Decimal("0.50")),
    (50 * GIB, Decimal("0.60")),
]

# TorrentPier's leech slots: 1, 2 or 3 torrents at once below a ratio of 0.4, 0.5, 0.6.
LEECH_SLOT_BANDS: list[tuple[Decimal, int]] = [(Decimal("0.40"), 1), (Decimal("0.50"), 2), (Decimal("0.60"), 3)]
