"""Schemathesis over every operation of our own OpenAPI schema, as a guest, a member and a moderator.

The schema is the one /api/schema serves (drf-spectacular, generated in-process); the
requests go through the production WSGI application (`torrentpier.wsgi.application`) on
the test database, which holds a few forums (public, members-only, staff-only), torrents
(approved, unapproved, in a hidden forum) with files, peers and history, comments,
bookmarks and members. Every documented operation is run for each role (/api/schema and
/api/docs are not in the schema), and every response must pass every built-in check: no
500, a documented status code and content type, a body that matches that status's schema
(success or error envelope), the documented headers (X-RateLimit-* on every response,
Retry-After on 429), valid input accepted and invalid input refused, no ignored auth, 405
with Allow for methods an operation does not have.

Bounded for CI: `MAX_EXAMPLES` generated cases (valid and invalid) per operation and role,
the coverage phase's deterministic cases once per operation (as the moderator), all
derandomized with a fixed seed (the same cases on every run), and a per-request deadline.
Nothing is excluded: POST /api/logout gets a fresh login per call (see `Caller.headers`).
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.management.color import no_style
from django.db import close_old_connections, connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.core import NotSet
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.transport import wsgi as wsgi_transport
from werkzeug.datastructures import FileStorage

from accounts.models import User
from tests.factories import PASSWORD, TorrentFactory
from torrentpier.wsgi import application
from tracker.models import Bookmark, Category, Comment, Forum, Torrent, TorrentFile
from tracker.swarm.models import Peer, Snatch

# CI runs these; a deeper or different run locally: TP_SCHEMATHESIS_MAX_EXAMPLES=200 TP_SCHEMATHESIS_SEED=7.
MAX_EXAMPLES = int(os.environ.get("TP_SCHEMATHESIS_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("TP_SCHEMATHESIS_SEED", "20261201"))
# Generous on purpose: a request takes milliseconds; the deadline catches a hang or a runaway query, not jitter.
DEADLINE = timedelta(seconds=10)

# The rows the run works on have fixed small ids, so generated path parameters find them.
KNOWN_IDS = (1, 2, 3, 4)


def _semantic_422(label: str, message: str, details: dict[str, list[str]]) -> bool:
    """Whether a 422 refuses what no JSON Schema can say, as the contract says the operation does.

    positive_data_acceptance expects every schema-valid request to be accepted. A few
    operations also check what a schema cannot express, with their own messages: only
    those 422s are let through (a 422 from the serializer for schema-valid input is still
    a failure: the schema would be wrong).
    """
    if label == "POST /api/register":
        # Django's password validators (too common, too like the username, all digits);
        # usernames mixing scripts or holding invisible characters (accounts.usernames).
        return set(details) <= {"password", "username"}
    if label in ("POST /api/email/confirm", "POST /api/password/reset/confirm"):
        # A mailed link's uid and token must be one we issued, still good; a new password must pass Django's validators.
        return set(details) <= {"token", "new_password"}
    if label in ("POST /api/me/2fa", "POST /api/me/2fa/confirm", "POST /api/me/2fa/disable", "POST /api/me/2fa/recovery-codes"):
        # The password must be the member's own; a code must be a current one of their authenticator.
        return set(details) <= {"password", "code"}
    if label == "POST /api/torrents":
        # The .torrent must be metainfo we accept; `forum` must name a forum that exists.
        return message.startswith("Invalid .torrent file:") or details == {"forum": ["No such forum."]}
    if label == "PATCH /api/torrents/{id}":
        # `forum` must name a forum that exists.
        return list(details) == ["forum"] and all(m.endswith("object does not exist.") for m in details["forum"])
    return False


def _config(*, coverage: bool) -> Any:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # The caller's credentials come from its role (below), not from generated Authorization headers.
                "with-security-parameters": False,
            },
            "phases": {"coverage": {"enabled": coverage}},
        }
    )


def _load_schema(*, coverage: bool) -> Any:
    """The schema as /api/schema?format=json renders it, bound to the WSGI application."""
    document = OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True), renderer_context={})
    loaded = schemathesis.openapi.from_dict(json.loads(document), config=_config(coverage=coverage))
    loaded.app = application
    return loaded


# The coverage phase (every boundary and every kind of wrong value of every parameter, most
# of a run's requests) runs once, as the moderator: the role whose requests get furthest past
# the permission checks into validation. Guests and members get the explicit examples and
# the generated cases (valid and invalid), which is where the role makes a difference.
full_schema = _load_schema(coverage=True)
generated_schema = _load_schema(coverage=False)


def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    """Half of the generated path parameters name rows that exist, so operations also act on real objects."""
    return st.one_of(st.fixed_dictionaries({"id": st.sampled_from(KNOWN_IDS)}), strategy)


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but two kinds of false positive.

    - A 422 for what no schema can say (`_semantic_422`).
    - A form body that "violates `type: object`". A negative case may make the body a number
      or a string. In JSON that is a wrong body (and refused with 422); in a form it is not:
      `176` as urlencoded is the field `176` with no value, and as multipart it is a preamble,
      which RFC 2046 says to ignore. Either way the server receives an empty form, which is
      valid where every field is optional (POST /api/logout, the PATCHes).

    The request is still sent and every other check still applies to its response.
    """
    if isinstance(failure, RejectedPositiveData) and response.status_code == 422:
        error = json.loads(response.content)["error"]
        return not _semantic_422(case.operation.label, error["message"], error["details"])
    body_is_not_a_form = not isinstance(case.body, dict | NotSet)
    return not (isinstance(failure, AcceptedNegativeData) and body_is_not_a_form and (case.media_type or "").startswith(FORM_MEDIA_TYPES))


def _encode_multipart(parts: dict[str, list[Any]]) -> tuple[bytes, str]:
    """Werkzeug's multipart encoding, except that an empty value keeps its blank line.

    Werkzeug writes a part whose value is empty as its headers followed by the next boundary:
    a part with no body at all, which Django's parser (within RFC 2046's grammar) drops, so
    `status=""` or an empty file would reach the server as "not sent". A browser, curl or
    requests writes the blank line and an empty body; so does this.
    """
    boundary = b"st-boundary-0b1c8e5d"
    chunks = []
    for name, values in parts.items():
        for value in values:
            headers = f'Content-Disposition: form-data; name="{name}"'
            if isinstance(value, FileStorage):
                headers += f'; filename="{value.filename}"\r\nContent-Type: {value.content_type or "application/octet-stream"}'
                content = value.stream.read()
            else:
                content = str(value).encode()
            chunks.append(b"\r\n--" + boundary + b"\r\n" + headers.encode() + b"\r\n\r\n" + content)
    chunks.append(b"\r\n--" + boundary + b"--\r\n")
    return b"".join(chunks), f"multipart/form-data; boundary={boundary.decode()}"


@wsgi_transport.WSGI_TRANSPORT.serializer("multipart/form-data")
def _multipart(ctx: Any, value: Any) -> dict[str, Any]:
    prepared: dict[str, Any] = wsgi_transport.multipart_serializer(ctx, value)
    if isinstance(prepared.get("data"), dict):  # fields werkzeug would encode: encode them here
        data, content_type = _encode_multipart(prepared["data"])
        return {"data": data, "content_type": content_type}
    return prepared


for _schema in (full_schema, generated_schema):
    _schema.hook(before_generate_path_parameters)
    _schema.hook(filter_failure)


def _reset_sequences() -> None:
    """Rows were inserted with explicit ids: move PostgreSQL's sequences past them (SQLite does so by itself)."""
    models = [User, Category, Forum, Torrent, Comment, Bookmark]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


def _user(pk: int, username: str, **extra: Any) -> User:
    user = User(id=pk, username=username, email=f"{username}@example.test", **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def catalogue(db: Any) -> dict[str, User]:
    """A small tracker: ids 1-4 of each kind, so the generated `{id}`s hit rows that exist."""
    member = _user(1, "st-member")
    moderator = _user(2, "st-moderator", role="moderator")
    other = _user(3, "st-other")
    _user(4, "st-banned", is_banned=True)
    software = Category.objects.create(id=1, name="Software")
    Category.objects.create(id=2, name="Empty")
    Category.objects.create(id=3, name="Staff")
    public = Forum.objects.create(id=1, category=software, name="Linux")
    members = Forum.objects.create(id=2, category=software, name="Members", view_level=1)
    staff = Forum.objects.create(id=3, category_id=3, name="Staff", view_level=2, upload_level=2, download_level=2)
    Forum.objects.create(id=4, category=software, name="Talk", allows_torrents=False)
    approved = TorrentFactory(id=1, forum=public, uploader=member, name="ubuntu-24.04", seeders=1, leechers=1, completed=3)
    unapproved = TorrentFactory(id=2, forum=public, uploader=other, name="pending", status="not_approved")
    TorrentFactory(id=3, forum=staff, uploader=moderator, name="staff-only")
    TorrentFactory(id=4, forum=members, uploader=other, name="members-only", freeleech="gold")
    TorrentFile.objects.create(torrent=approved, path="ubuntu/disk.iso", size=900)
    TorrentFile.objects.create(torrent=approved, path="ubuntu/README", size=100)
    Comment.objects.create(id=1, torrent=approved, author=member, text="Seeding.")
    Comment.objects.create(id=2, torrent=approved, author=other, text="Thanks!")
    Comment.objects.create(id=3, torrent=unapproved, author=other, text="Waiting.")
    Comment.objects.create(id=4, torrent=approved, author=moderator, text="Approved.")
    Bookmark.objects.create(id=1, user=member, torrent=approved)
    Bookmark.objects.create(id=2, user=moderator, torrent=approved)
    now = timezone.now()
    Peer.objects.create(torrent=approved, user=other, peer_id=b"-qB4650-000000000001", ip="192.0.2.7", port=6881, last_announce=now)
    Peer.objects.create(
        torrent=approved, user=member, peer_id=b"-TR4050-000000000002", ip="2001:db8::2", port=51413, is_seeder=True, last_announce=now
    )
    Snatch.objects.create(user=member, torrent=approved, uploaded=10, is_seeding=True, first_announce=now, last_announce=now)
    Snatch.objects.create(user=other, torrent=approved, downloaded=5, left=0, first_announce=now, last_announce=now, completed_at=now)
    _reset_sequences()
    return {"member": member, "moderator": moderator, "other": other}


@contextmanager
def _test_transaction_kept() -> Iterator[None]:
    """Keep the test's database connection through a request, as Django's test client does.

    The WSGI handler closes "old" connections at the start and end of each request; inside
    the test's transaction that would close (PostgreSQL: hand back to the pool) the very
    connection the test runs in. django.test.Client disconnects the same receivers, and
    connects them again after each of its requests (so this wraps each call, not the test).
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _call_and_validate(case: Any, caller: "Caller") -> None:
    headers = caller.headers(case)  # may log in, through Django's test client
    with _test_transaction_kept():
        case.call_and_validate(headers=headers)


def _token(user: User) -> str:
    response = APIClient().post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]["token"]


@dataclass
class Caller:
    role: str
    user: User | None
    token: str | None

    def headers(self, case: Any) -> dict[str, str]:
        if self.user is None:
            return {}
        if case.operation.method.upper() == "POST" and case.operation.path == "/api/logout":
            # Logging out ends the caller's session (and may revoke its tokens): each logout
            # gets a token of its own, so it always logs out a live login and the next call
            # still has one. POST /api/logout is tested like every other operation.
            return {"Authorization": f"Bearer {_token(self.user)}"}
        return {"Authorization": f"Bearer {self.token}"}


def _caller(role: str, users: dict[str, User], settings: Any) -> Caller:
    # The WSGI test client (werkzeug) sends `Host: localhost`.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    user = users.get(role)
    return Caller(role=role, user=user, token=_token(user) if user is not None else None)


@pytest.fixture(params=["guest", "member"])
def guest_or_member(request: pytest.FixtureRequest, catalogue: dict[str, User], settings: Any) -> Caller:
    return _caller(request.param, catalogue, settings)


@pytest.fixture
def moderator_caller(catalogue: dict[str, User], settings: Any) -> Caller:
    return _caller("moderator", catalogue, settings)


# The fixtures are set up once per operation and role, not per generated case: on purpose, the
# cases of one operation share its rows (a DELETE leaves the next cases a 404), as a real run would.
RUN_SETTINGS = hypothesis.settings(deadline=DEADLINE, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])


@full_schema.parametrize()
@RUN_SETTINGS
def test_every_operation_keeps_the_contract_for_a_moderator(case: Any, moderator_caller: Caller) -> None:
    _call_and_validate(case, moderator_caller)


@generated_schema.parametrize()
@RUN_SETTINGS
def test_every_operation_keeps_the_contract_for_a_guest_and_a_member(case: Any, guest_or_member: Caller) -> None:
    _call_and_validate(case, guest_or_member)
