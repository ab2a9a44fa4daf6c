"""Settings for torrentpier, read from environment variables only.

Defaults serve a developer on one machine (SQLite file, in-process cache).
Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and the
tracker tunables.
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from torrentpier.env import env_bool, env_choice, env_int, env_list, env_periods, env_str
from torrentpier.mailconf import from_address, mail_config, site_url

BASE_DIR = Path(__file__).resolve().parent.parent

VERSION = "0.1.0"

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development)")
    SECRET_KEY = "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")


def _parse_networks(name: str, default: list[str] | None = None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a comma-separated list of IP addresses or networks; got {item!r}") from None
    return networks


# Only requests whose REMOTE_ADDR is in one of these networks may tell us the
# client address through X-Forwarded-For.
TRUSTED_PROXIES = _parse_networks("TRUSTED_PROXIES")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "accounts",
    "tracker",
    "web",
    "ops",
]

MIDDLEWARE = [
    # First: the request id and the request's log line cover everything below.
    "core.logs.RequestLogMiddleware",
    # Before anything validates Host: a tracker URL's Host as libtorrent 2.0 writes an IPv6 literal.
    "tracker.announce.middleware.TrackerHostMiddleware",
    # Next, so that it sees (and envelopes) what every other layer answers under /api/.
    "api.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "web.middleware.PageWriteLimitMiddleware",
    "web.middleware.TwoFactorRequiredMiddleware",
    "web.middleware.MembersOnlyMiddleware",
]

ROOT_URLCONF = "torrentpier.urls"
WSGI_APPLICATION = "torrentpier.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db.get("ENGINE") not in ("django.db.backends.sqlite3", "django.db.backends.postgresql") or not _db.get("NAME"):
    # The URL itself is not echoed: it may hold a password.
    raise ImproperlyConfigured(
        f"DATABASE_URL must be sqlite:///path/to/file.sqlite3 or postgres://user@host:5432/dbname; got a {DATABASE_URL.split(':')[0]!r} URL"
    )
# PostgreSQL only (SQLite has its busy timeout); read, and so checked, on either. 0 turns one off.
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 5000, minimum=0)
DB_LOCK_TIMEOUT_MS = env_int("DB_LOCK_TIMEOUT_MS", 2000, minimum=0)
# How Django's PostgreSQL connections are kept, per server process:
# - under WSGI (gthread), one per thread for DB_CONN_MAX_AGE seconds: as many as threads,
#   and while the database is down a request fails at once with a clean error;
# - under ASGI (torrentpier.asgi sets TORRENTPIER_INTERFACE=asgi), in a psycopg pool of
#   DB_POOL_MAX_SIZE (8): Django runs each request's sync code in a thread of its own
#   there, and a persistent connection per such thread leaked, filling PostgreSQL's slots
#   (issue 11). A request waits up to DB_POOL_TIMEOUT seconds for a pooled connection,
#   also while the database is down, so that wait is short.
# DB_POOL_MAX_SIZE set explicitly chooses for either front; 0 is no pool.
SERVER_INTERFACE = env_choice("TORRENTPIER_INTERFACE", "wsgi", {"wsgi", "asgi"})
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 8 if SERVER_INTERFACE == "asgi" else 0, minimum=0)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 3, minimum=1)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE transactions plus a
    # busy timeout make concurrent writers wait instead of failing with
    # "database is locked".
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Checked before use: a connection broken by a database restart is replaced, not handed out.
    _db["CONN_HEALTH_CHECKS"] = True
    # One held lock or one runaway query must not stall every worker thread:
    # each Django connection gives up after these. The ASGI tracker's own pool
    # sets its own, shorter lock_timeout.
    _db_options = _db.setdefault("OPTIONS", {})
    _db_options["options"] = " ".join(
        part
        for part in (
            _db_options.get("options", ""),
            f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
            f"-c lock_timeout={DB_LOCK_TIMEOUT_MS}",
        )
        if part
    )
    if DB_POOL_MAX_SIZE:
        # The pool owns the connections: Django hands each one back at the end of a request.
        _db["CONN_MAX_AGE"] = 0
        _db_options["pool"] = {
            "min_size": min(2, DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": DB_POOL_TIMEOUT,
        }
DATABASES: dict[str, Any] = {"default": _db}

# Read replicas (core/dbrouter.py): PostgreSQL streaming standbys that serve the
# catalogue's list, search and detail reads; everything else reads the primary.
# Each URL becomes an alias replica1, replica2, ... with the primary's options and
# timeouts; the test suite sees one database (TEST MIRROR).
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
DATABASE_REPLICAS: list[str] = []
for _number, _replica_url in enumerate(DATABASE_REPLICA_URLS, start=1):
    if _db["ENGINE"] != "django.db.backends.postgresql" or not _replica_url.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS: replica {_number} must be a postgres:// URL, beside a PostgreSQL DATABASE_URL")
    try:
        _replica = dj_database_url.parse(_replica_url)
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS: replica {_number} is not a valid database URL: {exc}") from None
    _replica_options = {**_db.get("OPTIONS", {}), **_replica.get("OPTIONS", {})}
    # A replica that does not answer is given up quickly: the primary serves instead.
    _replica_options.setdefault("connect_timeout", 3)
    _alias = f"replica{_number}"
    _replica_db: dict[str, Any] = {**_db, "OPTIONS": _replica_options, "TEST": {"MIRROR": "default"}}
    _replica_db.update({key: value for key, value in _replica.items() if key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")})
    DATABASES[_alias] = _replica_db
    DATABASE_REPLICAS.append(_alias)
# Seconds a caller reads the primary after a write (read-your-writes), the lag past
# which a replica is passed over, and how often each process checks that lag.
REPLICA_STICKY_SECONDS = env_int("REPLICA_STICKY_SECONDS", 10, minimum=1)
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 5, minimum=1)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 2, minimum=1)
# The routes (view names) whose GET and HEAD may read a replica.
REPLICA_READ_ROUTES = frozenset(
    f"{namespace}:{name}"
    for namespace, names in (
        ("api", ("torrent-list", "torrent-detail", "torznab")),
        ("v1", ("torrent-list", "torrent-detail", "torznab")),
        ("web", ("browse", "torrent", "feed-torrents-rss", "feed-torrents-atom", "feed-bookmarks-rss", "feed-bookmarks-atom")),
    )
    for name in names
)
if DATABASE_REPLICAS:
    DATABASE_ROUTERS = ["core.dbrouter.ReplicaRouter"]
    # Outside the session middleware, so that a login's session write counts as a write.
    MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"), "core.dbrouter.ReplicaReadsMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# After a failed command, the process leaves that Redis alone for a few seconds
# (core.cache.BackoffConnectionPool) instead of waiting a timeout per command.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1, "pool_class": "core.cache.BackoffConnectionPool"}
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://; got {REDIS_URL!r}")
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",  # Django's, with one client per pool
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "tp"),
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "torrentpier"}}

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The site speaks English only (no LocaleMiddleware, no catalogues of its own): without the
# translation machinery every template filter and form message skips a thread-local lookup of
# the active language, a tenth of the browse page's time.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` puts the files the proxy serves (deploy/nginx/torrentpier.conf).
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

APPEND_SLASH = False

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- API --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer first: DRF takes the first class's WWW-Authenticate header,
        # which keeps a missing login a 401 rather than a 403.
        "accounts.authentication.BearerAuthentication",
        # Personal API keys: `Bearer tpk_...` (which BearerAuthentication leaves alone) or X-Api-Key.
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.SessionAuthentication",
    ],
    # AllowAny, unless SITE_MEMBERS_ONLY (api.permissions); login, registration and the like say AllowAny themselves.
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.OpenUnlessMembersOnly"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.EnvelopeRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        # DRF's form parsers, but a form body is read like the same JSON body (api/parsers.py).
        "api.parsers.FormParser",
        "api.parsers.MultiPartParser",
    ],
    # Lists validate their parameters and build their pages themselves (core.listing, api.pagination).
    "DEFAULT_PAGINATION_CLASS": None,
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.RateLimitThrottle"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.EnvelopeAutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

API_RATE_LIMIT_AUTHENTICATED = env_int("API_RATE_LIMIT_AUTHENTICATED", 60, minimum=1)
API_RATE_LIMIT_ANONYMOUS = env_int("API_RATE_LIMIT_ANONYMOUS", 20, minimum=1)
# A page of the torrent list (API and browse page) is shared this long by the viewers who see the same list
# (tracker.catalogue.selectors.torrent_page): a change of what the lists hold shows at once, the swarm's
# counts in the rows lag by at most this. 0 turns it off (the test suite's default; its own tests turn it on).
TORRENT_LIST_CACHE_SECONDS = env_int("TORRENT_LIST_CACHE_SECONDS", 5, minimum=0)
# A list's count that takes longer than this on PostgreSQL (a common search over a million torrents) is estimated
# from a sample instead, and said to be an estimate (core.counting). 0: always count exactly (the test suite's default).
LIST_COUNT_BUDGET_MS = env_int("LIST_COUNT_BUDGET_MS", 50, minimum=0)
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
# Two-factor login (accounts.twofactor): staff (moderators, admins, is_staff) must turn it on before
# anything but enrolment; the challenge between the password and the code lasts this many seconds.
TWO_FACTOR_REQUIRED_FOR_STAFF = env_bool("TWO_FACTOR_REQUIRED_FOR_STAFF", False)
TWO_FACTOR_CHALLENGE_SECONDS = env_int("TWO_FACTOR_CHALLENGE_SECONDS", 300, minimum=30)
# The name authenticator apps show for the account (empty: the host of TRACKER_ANNOUNCE_URL).
TWO_FACTOR_ISSUER = env_str("TWO_FACTOR_ISSUER").strip()
if ":" in TWO_FACTOR_ISSUER:
    raise ImproperlyConfigured(f"TWO_FACTOR_ISSUER may not hold a colon (it separates issuer and account); got {TWO_FACTOR_ISSUER!r}")
RATELIMIT_USE_CACHE = "default"
# When the cache is unreachable the API keeps serving and logs the failure.
RATELIMIT_FAIL_OPEN = True
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit only needs atomic incr, which Django's RedisCache and
    # LocMemCache provide within what we use them for (one process for LocMem).
    "django_ratelimit.W001",
    "django_ratelimit.E003",
]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_AUTHENTICATION_RULE": "accounts.authentication.user_may_authenticate",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "TorrentPier API",
    "DESCRIPTION": "REST API of the torrentpier BitTorrent tracker.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["api.schema.preprocess_endpoints"],
    # The error envelope's `code` is its own enum, whatever else is called "code".
    "ENUM_NAME_OVERRIDES": {"ErrorCodeEnum": "api.errors.ErrorCode", "InviteStateEnum": "accounts.invites.INVITE_STATES"},
}

# --- Tracker ----------------------------------------------------------------


def _served_address() -> str:
    """http://HOST:PORT as `make run` serves it (HOST and PORT, as the README names them)."""
    host = env_str("HOST", "127.0.0.1") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104  # every address: clients on this machine reach the loopback one
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{env_int('PORT', 8000, minimum=1)}"


# The base of the announce URL in downloaded .torrent files, magnet links and the profile:
# the served address unless set.
TRACKER_ANNOUNCE_URL = (env_str("TRACKER_ANNOUNCE_URL") or _served_address()).rstrip("/")
TRACKER_ANNOUNCE_INTERVAL = env_int("TRACKER_ANNOUNCE_INTERVAL", 1800, minimum=30)
TRACKER_MIN_INTERVAL = env_int("TRACKER_MIN_INTERVAL", 300, minimum=0)
TRACKER_PEER_EXPIRY = env_int("TRACKER_PEER_EXPIRY", 2 * TRACKER_ANNOUNCE_INTERVAL + 300, minimum=60)
TRACKER_NUMWANT_DEFAULT = env_int("TRACKER_NUMWANT_DEFAULT", 50, minimum=0)
TRACKER_NUMWANT_MAX = env_int("TRACKER_NUMWANT_MAX", 50, minimum=1)
TRACKER_SCRAPE_MAX_HASHES = env_int("TRACKER_SCRAPE_MAX_HASHES", 64, minimum=1)
# Connections each ASGI tracker worker (tracker.announce.asgi) keeps to PostgreSQL.
TRACKER_ASYNC_DB_POOL = env_int("TRACKER_ASYNC_DB_POOL", 10, minimum=1)
# Announces an ASGI tracker worker sends to PostgreSQL at once (tracker.swarm.batch), and how
# many such batches it keeps running; announces that arrive meanwhile wait for the next batch.
TRACKER_ASYNC_BATCH_SIZE = env_int("TRACKER_ASYNC_BATCH_SIZE", 32, minimum=1)
TRACKER_ASYNC_BATCHES = env_int("TRACKER_ASYNC_BATCHES", 2, minimum=1)
TRACKER_ALLOW_IP_PARAM = env_bool("TRACKER_ALLOW_IP_PARAM", False)
TRACKER_FORCE_PRIVATE = env_bool("TRACKER_FORCE_PRIVATE", True)
TRACKER_MAX_TORRENT_SIZE = env_int("TRACKER_MAX_TORRENT_SIZE", 10 * 1024 * 1024, minimum=1024)
# Hosts whose images [img] may show in descriptions and comments (tracker.catalogue.markup), over
# https only; they are added to the CSP's img-src below. Empty (the default): no images, an [img] is a link.
MARKUP_IMAGE_HOSTS = [host.lower() for host in env_list("MARKUP_IMAGE_HOSTS")]
for _host in MARKUP_IMAGE_HOSTS:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", _host):
        raise ImproperlyConfigured(f"MARKUP_IMAGE_HOSTS must list host names (img.example.org); got {_host!r}")
TRACKER_REQUIRE_APPROVAL = env_bool("TRACKER_REQUIRE_APPROVAL", False)
# GET /metrics (ops.metrics): to these client addresses, or to whoever sends this bearer token.
METRICS_ALLOWED_IPS = _parse_networks("METRICS_ALLOWED_IPS", default=["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = env_str("METRICS_TOKEN")
# The scheduler's periods in seconds (ops.scheduler; `manage.py run_jobs`, which `make run` starts too).
JOB_PERIODS = env_periods("JOB_PERIODS", {"expire_peers": 300, "hnr": 900, "bonus": 3600, "standing": 3600, "recount": 3600})
# Every page and every API read needs a login (how most private trackers run); guests see only
# login, registration, password reset and email confirmation (web.middleware, api.permissions).
SITE_MEMBERS_ONLY = env_bool("SITE_MEMBERS_ONLY", False)
# Who may open an account (accounts.invites): anyone (open), only with an invite code (invite), nobody (closed).
# REGISTRATION_OPEN=0, the older switch, still closes registration where REGISTRATION_MODE is not set.
_registration_open = env_bool("REGISTRATION_OPEN", True)
REGISTRATION_MODE = env_choice("REGISTRATION_MODE", "open" if _registration_open else "closed", {"open", "invite", "closed"})
if not _registration_open and REGISTRATION_MODE != "closed":
    raise ImproperlyConfigured(f"REGISTRATION_OPEN=0 contradicts REGISTRATION_MODE={REGISTRATION_MODE}; unset REGISTRATION_OPEN")
# Days an invite code stays good; failed invite codes a client (IP) may try per minute.
INVITE_EXPIRY_DAYS = env_int("INVITE_EXPIRY_DAYS", 7, minimum=1)
INVITE_FAILURE_LIMIT = env_int("INVITE_FAILURE_LIMIT", 5, minimum=1)
# Moderators and admins send invites without spending any (members spend one each).
INVITES_UNLIMITED_FOR_STAFF = env_bool("INVITES_UNLIMITED_FOR_STAFF", True)
DATA_UPLOAD_MAX_MEMORY_SIZE = TRACKER_MAX_TORRENT_SIZE + 1024 * 1024

# --- Email (accounts.emails) --------------------------------------------------
# Where mail goes (torrentpier.mailconf): EMAIL_URL, or EMAIL_HOST and the other
# EMAIL_* variables, else the console, so that `make run` prints the mails. Django 6.1
# says it in MAILERS; its EMAIL_* settings are deprecated and must not be set beside it.
MAILERS = {"default": mail_config().mailer()}
DEFAULT_FROM_EMAIL = from_address("DEFAULT_FROM_EMAIL", env_str("DEFAULT_FROM_EMAIL") or "TorrentPier <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The base of the links in mails: the announce URL's base (by default the served address) unless set.
SITE_URL = site_url("SITE_URL", env_str("SITE_URL") or TRACKER_ANNOUNCE_URL)
# Unconfirmed members may log in but neither download .torrent files nor upload.
EMAIL_CONFIRMATION_REQUIRED = env_bool("EMAIL_CONFIRMATION_REQUIRED", True)
# Seconds a mailed link works: a confirmation link, a password reset link (Django's setting).
EMAIL_CONFIRMATION_TIMEOUT = env_int("EMAIL_CONFIRMATION_TIMEOUT", 3 * 24 * 3600, minimum=60)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=60)
# Per hour: mails asked for (password resets per address and per IP, confirmation mails per member
# and per IP), and tries of a mailed link per IP.
EMAIL_SEND_LIMIT = env_int("EMAIL_SEND_LIMIT", 5, minimum=1)
EMAIL_LINK_ATTEMPT_LIMIT = env_int("EMAIL_LINK_ATTEMPT_LIMIT", 20, minimum=1)

LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
# One JSON object per line in production, plain text under DEBUG (core.logs); each line carries
# the request id and user id of the request it was logged in, and secrets are masked.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain" if DEBUG else "json", {"json", "plain"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logs.ContextFilter"}},
    "formatters": {
        "plain": {"()": "core.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "core.logs.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False}},
}

# --- Pages ------------------------------------------------------------------
# The pages load nothing from elsewhere and run no inline script or style:
# every asset is served by the project. /api/docs relaxes this for Swagger UI
# (api/urls.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", *(f"https://{host}" for host in MARKUP_IMAGE_HOSTS)],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if not DEBUG:
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    # Announce and scrape are never redirected: a client that was handed an http:// URL
    # would not follow the redirect (the tracker's own fronts skip this middleware too).
    SECURE_REDIRECT_EXEMPT = [r"^(announce|scrape)(/|$)", r"^bt/"]
    SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
# Behind a proxy that terminates TLS: believe its X-Forwarded-Proto (the proxy must set
# it on every request, overwriting what the client sent), so that Django knows a
# request came over HTTPS (Secure cookies, the HTTPS redirect, CSRF's origin check).
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
