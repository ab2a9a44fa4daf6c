"""Small display filters for the pages."""

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote as urlquote

from django import template
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
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


@register.simple_tag(takes_context=True)
def browse_rows(context: template.Context, rows: Any) -> SafeString:
    """The browse table's rows (web/views/torrents.py BrowseRow), written in Python.

    The same markup the template's loop wrote, at a thirtieth of its cost:
    the template engine resolved some forty lookups and filters per row,
    most of the browse page's time. Everything from the torrent is escaped
    by format_html.
    A row already written (a guest's rows, shared with the page: web.views.torrents.browse) is passed through.
    """
    member = context["user"].is_authenticated
    csrf = str(context.get("csrf_token") or "")
    written = (row if isinstance(row, str) else browse_row(row, member=member, csrf=csrf) for row in rows)
    return mark_safe("".join(written))  # noqa: S308 - format_html escaped each part


def browse_row(row: Any, *, member: bool, csrf: str) -> str:
    """One row of the browse table; a member's has their actions (csrf: the token their forms carry)."""
    torrent = row.torrent
    forum = torrent.forum
    uploader = torrent.uploader.username
    badges = SafeString()
    if torrent.freeleech != "none":
        label = torrent.get_freeleech_display()
        badges += format_html('<span class="badge badge--{}" title="{}">{}</span> ', torrent.freeleech, label, capfirst(torrent.freeleech))
    if torrent.status != "approved":
        badges += format_html('<span class="badge badge--warn">{}</span> ', torrent.get_status_display())
    if member:
        by = format_html(
            '<a href="{}">{}</a> <a href="?uploader={}" title="Only {}\'s torrents" aria-label="Only {}\'s torrents">⌕</a>',
            reverse("web:user", args=[uploader]),
            uploader,
            urlquote(uploader),
            uploader,
            uploader,
        )
    else:
        by = format_html('<a href="?uploader={}">{}</a>', urlquote(uploader), uploader)
    seeders, leechers = torrent.seeders, torrent.leechers
    created = timezone.localtime(torrent.created_at)  # as the template's date filter has it
    cells = format_html(
        '<td><a class="torrent-name" href="{}">{}</a> {}<span class="torrent-meta"> '
        '<a class="badge badge--forum" href="?category={}">{}</a> <a class="badge badge--forum" href="?forum={}">{}</a> · by {}</span></td>'
        '<td class="num" data-label="Size">{}</td>'
        '<td class="num seeders{}" data-label="Seeders">{}</td>'
        '<td class="num leechers{}" data-label="Leechers">{}</td>'
        '<td class="num" data-label="Completed">{}</td>'
        '<td class="num" data-label="Added"><time datetime="{}" title="{} UTC">{}</time></td>',
        reverse("web:torrent", args=[torrent.pk]),
        breakable(torrent.name),
        badges,
        forum.category_id,
        forum.category.name,
        torrent.forum_id,
        forum.name,
        by,
        filesizeformat(torrent.size),
        "" if seeders else " zero",
        seeders,
        "" if leechers else " zero",
        leechers,
        torrent.completed,
        date_format(created, "c"),
        date_format(created, "j M Y H:i"),
        age(created),
    )
    if member:
        download = (
            format_html(
                '<a class="button button--small" href="{}" download title="Download .torrent">.torrent</a>',
                reverse("web:torrent-download", args=[torrent.pk]),
            )
            if row.may_download
            else ""
        )
        if row.bookmarked:
            action, button = "remove", '★<span class="visually-hidden"> Remove the bookmark</span>'
            title = "Remove the bookmark"
        else:
            action, button, title = "add", '☆<span class="visually-hidden"> Bookmark</span>', "Bookmark"
        cells += format_html(
            '<td class="row-actions" data-label="Actions">{}'
            ' <a class="button button--ghost button--small" href="{}" title="Magnet link">Magnet</a>'
            ' <form method="post" action="{}"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="action" value="{}">'
            '<button type="submit" class="button button--ghost button--small" title="{}">{}</button></form></td>',
            download,
            row.magnet or "",
            reverse("web:torrent-bookmark", args=[torrent.pk]),
            csrf,
            action,
            title,
            mark_safe(button),  # noqa: S308 - our own constant markup
        )
    return format_html("<tr>{}</tr>", cells)
