"""Small display filters for the pages."""

from django import template

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
