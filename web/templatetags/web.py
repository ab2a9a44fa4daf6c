"""Small display filters for the pages."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ratio(value: float | None) -> str:
    """A share ratio for display: '∞' before anything was downloaded."""
    if value is None:
        return "∞"
    return f"{value:.2f}"


@register.filter
def ratio_class(value: float | None) -> str:
    """A CSS class saying whether a ratio is good, fair or poor."""
    if value is None or value >= 1:
        return "good"
    if value >= 0.5:
        return "fair"
    return "poor"


@register.filter
def age(value: datetime | None) -> str:
    """How long ago `value` was, in words: 'just now', '5 minutes ago', '3 days ago'."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"
