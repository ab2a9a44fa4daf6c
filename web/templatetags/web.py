"""Small display filters for the pages."""

import re
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from tracker.catalogue.markup import markup_render

register = template.Library()


@register.simple_tag(takes_context=True)
def page_href(context: template.Context, param: str, number: int, anchor: str = "") -> str:
    """A link to page `number` of the list whose page parameter is `param`, keeping the other parameters.

    A page holding several lists (the profile's uploads and history) pages
    each with a parameter of its own; the first page drops the parameter.
    """
    params = context["request"].GET.copy()
    if number > 1:
        params[param] = str(number)
    else:
        params.pop(param, None)
    query = params.urlencode()
    return f"?{query}{'#' + anchor if anchor else ''}" if query else f"{context['request'].path}{'#' + anchor if anchor else ''}"


@register.filter
def markup(text: str | None) -> SafeString:
    """A description's or comment's BBCode as HTML: the sanitizer's output, the API's description_html / text_html."""
    return mark_safe(markup_render(text or ""))  # noqa: S308 - nh3 has cleaned it against the allow-list


_BREAK_AFTER = re.compile(r"([._\-+\]\)])")


@register.filter
def breakable(name: str | None) -> SafeString:
    """A release name that may wrap after its dots, dashes and brackets (<wbr>), never in the middle of a word."""
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", str(conditional_escape(name or ""))))  # noqa: S308 - escaped first; only <wbr> added


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
def age(value: datetime | str | None) -> str:
    """How long ago `value` (a datetime or an ISO 8601 string) was, in words: 'just now', '5 minutes ago'."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def duration(seconds: int | None) -> str:
    """A length of time in the two largest units: '3d 4h', '2h 5m', '45s'."""
    seconds = int(seconds or 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0s"
