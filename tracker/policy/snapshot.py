"""What the announce reads of the site's rules: one picklable snapshot, cached beside the passkey and torrent lookups.

The snapshot rides in the lookups the announce already makes
(tracker.swarm.lookups: the same Redis MGET; the ASGI worker's memory, checked
by the statement's generation), so the rules cost no extra round trip. Any
change of a rule invalidates it at once (the policy models' signals call
lookups_invalidate). Time windows (site events) are kept whole and judged at
the announce's own `now`.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from tracker.catalogue.models import Freeleech
from tracker.policy.models import ClientRule, SitePolicy
from tracker.policy.standing import hundredths

if TYPE_CHECKING:
    from tracker.policy.clients import ClientRuleSpec

logger = logging.getLogger(__name__)

# Freeleech scales the download credit by a fraction (numerator, denominator); the statements take both numbers.
DOWNLOAD_CREDIT_SHARE: dict[str, tuple[int, int]] = {Freeleech.GOLD: (0, 1), Freeleech.SILVER: (1, 2)}


class AnnouncePolicy(NamedTuple):
    """The rules as the announce applies them (tracker.policy.models.SitePolicy and its tables).

    Pickled into the shared cache under tracker.swarm.lookups.policy_cache_key:
    change the key's version with these fields.
    """

    client_mode: str
    client_rules: tuple["ClientRuleSpec", ...]
    blocked_ports: tuple[tuple[int, int], ...]  # inclusive ranges
    events: tuple[tuple[str, datetime, datetime], ...]  # (kind, starts_at, ends_at) not over when read
    peers_per_torrent: int
    slots_after: int
    slots_max: int
    slot_bands: tuple[tuple[int, int], ...]  # (ratio_below hundredths, slots)
    ratio_bands: tuple[tuple[int, int], ...]  # (min_downloaded, required hundredths)
    watch_days: int
    max_warnings: int
    hnr_seed: int  # seconds; 0: no hit-and-run rule
    hnr_within: int  # seconds
    hnr_ratio_pct: int
    hnr_exempt_freeleech: bool
    hnr_exempt_below: int
    hnr_exempt_uploader: bool


def ports_parse(text: str) -> tuple[tuple[int, int], ...]:
    """ "411-413, 1214" -> ((411, 413), (1214, 1214)); ValueError on anything else (the admin form shows it)."""
    ranges = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"{part!r} is not a port or a range of ports (like 6346-6347)") from None
        if not 1 <= lo <= hi <= 65535:
            raise ValueError(f"{part!r} is not a range within 1-65535")
        ranges.append((lo, hi))
    return tuple(sorted(ranges))


def port_blocked(policy: AnnouncePolicy, port: int) -> bool:
    return any(lo <= port <= hi for lo, hi in policy.blocked_ports)


def event_active(policy: AnnouncePolicy, kind: str, now: datetime) -> bool:
    return any(k == kind and starts <= now < ends for k, starts, ends in policy.events)


def credit_shares(policy: AnnouncePolicy | None, freeleech: str, now: datetime) -> tuple[int, int, int]:
    """(download numerator, download denominator, upload multiplier) for a torrent's freeleech and the site's events now."""
    dmul, ddiv = DOWNLOAD_CREDIT_SHARE.get(freeleech, (1, 1))
    umul = 1
    if policy is not None:
        if event_active(policy, "freeleech", now):
            dmul, ddiv = 0, 1
        if event_active(policy, "double_upload", now):
            umul = 2
    return dmul, ddiv, umul


def hnr_terms(
    policy: AnnouncePolicy | None, *, size: int, uploader: bool, download_counted: bool, now: datetime
) -> tuple[int | None, int | None, datetime | None]:
    """The hit-and-run requirement a download completing now would be frozen with: (seconds, ratio hundredths, due).

    (None, None, None): no requirement (the rule is off, or the download is exempt).
    `download_counted`: False when the torrent's freeleech or a site event
    counts the download as nothing.
    """
    if policy is None or policy.hnr_seed <= 0:
        return None, None, None
    if (
        (policy.hnr_exempt_uploader and uploader)
        or size < policy.hnr_exempt_below
        or (policy.hnr_exempt_freeleech and not download_counted)
    ):
        return None, None, None
    return policy.hnr_seed, policy.hnr_ratio_pct, now + timedelta(seconds=policy.hnr_within)


def snapshot_build(
    p: SitePolicy, *, ratio_bands: Iterable[tuple[int, Decimal]], slot_bands: Iterable[tuple[Decimal, int]],
    rules: Iterable[ClientRule], events: Iterable[tuple[str, datetime, datetime]],
) -> AnnouncePolicy:  # fmt: skip
    """The snapshot of a SitePolicy row and its tables' rows (ClientRule objects for `rules`)."""
    from tracker.policy.clients import ClientRuleSpec

    specs = []
    for rule in rules:
        if not rule.enabled:
            continue
        specs.append(
            ClientRuleSpec(
                name=rule.name,
                prefix=rule.prefix,
                min_version=_version(rule.min_version),
                max_version=_version(rule.max_version),
                user_agent=rule.user_agent,
                allow=rule.allow,
            )
        )
    try:
        ports = ports_parse(p.blocked_ports)
    except ValueError as exc:  # the admin form refuses such text; a row written around it keeps the defaults
        default = SitePolicy._meta.get_field("blocked_ports").get_default()
        logger.warning("blocked ports %r unreadable (%s); the announce blocks the default ports %s", p.blocked_ports, exc, default)
        ports = ports_parse(default)
    return AnnouncePolicy(
        client_mode=p.client_mode,
        client_rules=tuple(specs),
        blocked_ports=ports,
        events=tuple(events),
        peers_per_torrent=p.peers_per_torrent,
        slots_after=p.leech_slots_after,
        slots_max=p.leech_slots_max,
        slot_bands=tuple(sorted((hundredths(b), int(s)) for b, s in slot_bands)),
        ratio_bands=tuple(sorted((int(m), hundredths(r)) for m, r in ratio_bands)),
        watch_days=p.ratio_watch_days,
        max_warnings=p.hnr_max_warnings,
        hnr_seed=p.hnr_seed_hours * 3600,
        hnr_within=p.hnr_within_days * 86400,
        hnr_ratio_pct=hundredths(p.hnr_ratio),
        hnr_exempt_freeleech=p.hnr_exempt_freeleech,
        hnr_exempt_below=p.hnr_exempt_below,
        hnr_exempt_uploader=p.hnr_exempt_uploader,
    )


def _version(text: str) -> tuple[int, ...] | None:
    from tracker.policy.clients import version_parse

    if not text:
        return None
    try:
        return version_parse(text)
    except ValueError:
        return None
