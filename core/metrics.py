"""The numbers the tracker exports in the Prometheus format (prometheus-client), defined once for every layer.

Under gunicorn every worker of both fronts writes its numbers to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; the
variable must be set before the process starts), and `/metrics` sums them
across every process that shares the directory. Without it (`make run`,
the tests) the numbers live in the process, which is then the only one.

Recording costs a dictionary lookup and an addition (an mmap write in
multiprocess mode): cheap enough for the announce path, which the
announce benchmark measures.
"""

from prometheus_client import Counter, Gauge, Histogram

# --- the tracker -----------------------------------------------------------
TRACKER_REQUESTS = Counter(
    "torrentpier_tracker_requests",
    "Announces and scrapes answered, by kind, front and result (ok, or the class of the failure reason).",
    ["kind", "front", "result"],
)
ANNOUNCE_SECONDS = Histogram(
    "torrentpier_announce_duration_seconds",
    "Time from an announce's arrival to its reply, by front.",
    ["front"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ANNOUNCE_BATCH_SIZE = Histogram(
    "torrentpier_announce_batch_size",
    "Announces per statement on the ASGI front's fast path (PostgreSQL).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
ANNOUNCE_RETRIES = Counter(
    "torrentpier_announce_retries",
    "Announce statements run again, by front and reason (deadlock, gate conflict, batch split).",
    ["front", "reason"],
)
DB_POOL_CONNECTIONS = Gauge(
    "torrentpier_db_pool_connections",
    "Database connections in each process's pool, by pool and state (summed over the live processes).",
    ["pool", "state"],
    multiprocess_mode="livesum",
)

# --- the API and the site ----------------------------------------------------
HTTP_REQUESTS = Counter(
    "torrentpier_http_requests",
    "Requests to the API and the pages, by method, route (the URL pattern) and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "torrentpier_http_request_duration_seconds",
    "Time to answer a request to the API or the pages, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RATE_LIMITED = Counter(
    "torrentpier_rate_limited",
    "Requests refused by the rate limit, by who was counted (member or guest).",
    ["caller"],
)
LOGIN_FAILURES = Counter(
    "torrentpier_login_failures",
    "Failed logins, by reason (a wrong password or code, or a lock-out that checked nothing).",
    ["reason"],
)
