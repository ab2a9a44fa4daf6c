"""Reads of the site's rules: the policy row (created with the defaults on first use) and the announce's snapshot."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from tracker.policy import defaults
from tracker.policy.models import ClientRule, LeechSlotBand, RatioBand, SiteEvent, SitePolicy
from tracker.policy.snapshot import AnnouncePolicy, snapshot_build


def site_policy() -> SitePolicy:
    """The policy row; on a database without one, created with the shipped defaults (tracker.policy.defaults)."""
    policy = SitePolicy.objects.filter(pk=1).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            policy = SitePolicy.objects.create(pk=1)
            RatioBand.objects.bulk_create(RatioBand(min_downloaded=m, required_ratio=r) for m, r in defaults.RATIO_BANDS)
            LeechSlotBand.objects.bulk_create(LeechSlotBand(ratio_below=b, slots=s) for b, s in defaults.LEECH_SLOT_BANDS)
            ClientRule.objects.bulk_create(ClientRule(**rule) for rule in default_client_rules())
            return policy
    except IntegrityError:  # another request created it meanwhile
        return SitePolicy.objects.get(pk=1)


def default_client_rules() -> list[dict[str, object]]:
    """The shipped client rules (tracker.policy.clients.DEFAULT_RULES) as ClientRule fields."""
    from tracker.policy.clients import DEFAULT_RULES

    fields = {f.name for f in ClientRule._meta.concrete_fields}
    return [{k: v for k, v in rule.items() if k in fields} for rule in DEFAULT_RULES]


def announce_policy(now: datetime | None = None) -> AnnouncePolicy:
    """The announce's snapshot of the rules (tracker.policy.snapshot), read from the database."""
    moment = now or timezone.now()
    policy = site_policy()
    return snapshot_build(
        policy,
        ratio_bands=RatioBand.objects.values_list("min_downloaded", "required_ratio"),
        slot_bands=LeechSlotBand.objects.values_list("ratio_below", "slots"),
        rules=ClientRule.objects.filter(enabled=True).order_by("id"),
        events=SiteEvent.objects.filter(ends_at__gt=moment).values_list("kind", "starts_at", "ends_at"),
    )
