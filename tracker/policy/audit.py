"""The rules' audit trail: every change of a rule or of a member's standing by staff, with who, what and why."""

from typing import Any

from django.db.models import Model
from django.utils import timezone

from tracker.policy.models import PolicyChange


def audit_record(*, actor: Any, action: str, target: str, changes: dict[str, Any] | None = None, reason: str = "") -> PolicyChange:
    """Write one row of the trail. `changes`: {field: [before, after]}, values as JSON (str() for the rest)."""
    safe = {k: [_json(v) for v in pair] for k, pair in (changes or {}).items()}
    return PolicyChange.objects.create(
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target=target[:200],
        changes=safe,
        reason=reason[:200],
    )


def field_changes(before: Model | None, after: Model) -> dict[str, list[Any]]:
    """{field: [before, after]} for the concrete fields that differ (all of them when `before` is None)."""
    changes = {}
    for field in after._meta.concrete_fields:
        if field.primary_key:
            continue
        new = getattr(after, field.attname)
        old = getattr(before, field.attname) if before is not None else None
        if before is None or old != new:
            changes[field.name] = [old, new]
    return changes


def _json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
