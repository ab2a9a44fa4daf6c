"""GET /metrics: the Prometheus text of every process (core.metrics), and the catalogue's totals.

Served only to a client address in METRICS_ALLOWED_IPS (default loopback)
or with `Authorization: Bearer <METRICS_TOKEN>`; anyone else gets 404, as
if there were nothing here. With PROMETHEUS_MULTIPROC_DIR set (gunicorn),
the numbers are summed over the files of every process that writes there:
both fronts' workers when they share the directory.

The totals (torrents, peers, seeders, leechers, members) come from the
maintained counts, read at most once a minute (cached): scraping the
endpoint never counts a table.
"""

import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.models import User
from core.cache import cache_get, cache_set
from core.net import client_ip
from tracker.models import Torrent, TorrentStats

TOTALS_KEY = "ops:metrics:totals"
TOTALS_SECONDS = 60


def catalogue_totals() -> dict[str, int]:
    """Torrents, seeders, leechers, peers and members now: from the maintained counts, cached for a minute."""
    cached = cache_get(TOTALS_KEY)
    if cached is not None:
        return dict(cached)
    sums = TorrentStats.objects.aggregate(seeders=Sum("seeders"), leechers=Sum("leechers"))
    totals = {
        "torrents": Torrent.objects.aggregate(n=Count("pk"))["n"],
        "seeders": int(sums["seeders"] or 0),
        "leechers": int(sums["leechers"] or 0),
        "members": User.objects.filter(is_active=True).count(),
    }
    totals["peers"] = totals["seeders"] + totals["leechers"]
    cache_set(TOTALS_KEY, totals, TOTALS_SECONDS)
    return totals


class _TotalsCollector:
    """The catalogue's totals as gauges, for the scrape that asks."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        totals = catalogue_totals()
        for name, help_text in (
            ("torrents", "Registered torrents."),
            ("peers", "Live peers (seeders and leechers)."),
            ("seeders", "Live seeders."),
            ("leechers", "Live leechers."),
            ("members", "Active member accounts."),
        ):
            help_text += " Read from the maintained counts, at most a minute old."
            yield GaugeMetricFamily(f"torrentpier_{name}", help_text, value=totals[name])


_totals = CollectorRegistry(auto_describe=False)
_totals.register(_TotalsCollector())  # type: ignore[arg-type]


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        addr = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(addr in net for net in settings.METRICS_ALLOWED_IPS)


@never_cache
def metrics(request: HttpRequest, *args: Any) -> HttpResponse:
    """The Prometheus text format: every process's numbers, then the catalogue's totals."""
    if not _allowed(request):
        raise Http404
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return HttpResponse(body + generate_latest(_totals), content_type=CONTENT_TYPE_LATEST)
