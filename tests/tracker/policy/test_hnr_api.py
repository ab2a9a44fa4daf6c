"""The hit-and-run API: who may call what, the lists' contents and filters, visibility, pardons, clears and query counts."""

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.policy.test_hnr import HOUR, hnr_snatch, now
from tracker.models import AccessLevel, TorrentStatus
from tracker.policy.models import HnrState, HnrWarning, PolicyChange

pytestmark = pytest.mark.django_db

ROLES = ["guest", "member", "other_member", "moderator"]


@pytest.fixture
def world(user: Any, moderator: Any) -> dict[str, Any]:
    """A member with a failed snatch and its active warning; another member; a moderator; a client for each."""
    t = now()
    snatch = hnr_snatch(user=user, state=HnrState.FAILED, due=t - timedelta(days=3))
    warning = HnrWarning.objects.create(
        user=user, snatch=snatch, torrent_name=snatch.torrent.name, created_at=t, expires_at=t + timedelta(days=30)
    )
    other = UserFactory()
    clients = {
        "guest": APIClient(),
        "member": bearer(APIClient(), user),
        "other_member": bearer(APIClient(), other),
        "moderator": bearer(APIClient(), moderator),
    }
    return {"user": user, "snatch": snatch, "warning": warning, "clients": clients}


# (method, path, {role: status}); the paths name the member's own id, snatch and warning.
TABLE = [
    ("get", "/api/me/hnr", {"guest": 401, "member": 200, "other_member": 200, "moderator": 200}),
    ("get", "/api/users/{user}/hnr", {"guest": 401, "member": 200, "other_member": 403, "moderator": 200}),
    ("get", "/api/users/{unknown}/hnr", {"guest": 401, "member": 404, "other_member": 404, "moderator": 404}),
    ("get", "/api/me/warnings", {"guest": 401, "member": 200, "other_member": 200, "moderator": 200}),
    ("get", "/api/users/{user}/warnings", {"guest": 401, "member": 200, "other_member": 403, "moderator": 200}),
    ("get", "/api/hnr/members", {"guest": 401, "member": 403, "other_member": 403, "moderator": 200}),
    ("post", "/api/snatches/{snatch}/pardon", {"guest": 401, "member": 403, "other_member": 403, "moderator": 200}),
    ("post", "/api/snatches/{unknown}/pardon", {"guest": 401, "member": 403, "other_member": 403, "moderator": 404}),
    ("post", "/api/warnings/{warning}/clear", {"guest": 401, "member": 403, "other_member": 403, "moderator": 200}),
    ("post", "/api/warnings/{unknown}/clear", {"guest": 401, "member": 403, "other_member": 403, "moderator": 404}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "expected"), TABLE, ids=[f"{m.upper()} {p}" for m, p, _ in TABLE])
def test_who_may_call_what(world: dict[str, Any], role: str, method: str, path: str, expected: dict[str, int]) -> None:
    url = path.format(user=world["user"].pk, snatch=world["snatch"].pk, warning=world["warning"].pk, unknown=2**40)
    body = {"reason": "checked"} if method == "post" else None
    response = getattr(world["clients"][role], method)(url, body, format="json")
    assert response.status_code == expected[role], response.content
    payload = response.json()
    assert payload["success"] is (response.status_code == 200)
    if expected[role] == 200 and method == "get":
        assert "meta" in payload


def test_the_trailing_slash_and_v1_answer_too(world: dict[str, Any]) -> None:
    client = world["clients"]["member"]
    assert client.get("/api/me/hnr/").status_code == 200
    assert client.get("/api/v1/me/warnings").status_code == 200


def test_my_list_shows_each_requirement_with_what_is_left(user: Any, user_client: APIClient) -> None:
    t = now()
    torrent = TorrentFactory(size=2000)
    snatch = hnr_snatch(user=user, torrent=torrent, completed=t - timedelta(days=1), seed_time=10 * HOUR, uploaded=500)
    hnr_snatch(user=user, state=HnrState.NONE)  # exempt: not listed
    hnr_snatch(state=HnrState.PENDING)  # someone else's
    data = user_client.get("/api/me/hnr").json()["data"]
    assert len(data) == 1
    entry = data[0]
    assert entry["id"] == snatch.pk
    assert entry["torrent"] == {"id": torrent.pk, "name": torrent.name}
    assert entry["state"] == "pending"
    assert (entry["seed_time"], entry["seed_required"], entry["seed_remaining"]) == (10 * HOUR, 72 * HOUR, 62 * HOUR)
    assert (entry["uploaded"], entry["ratio"], entry["ratio_required"]) == (500, 0.25, 1.0)
    assert 13 * 86400 - 60 <= entry["time_left"] <= 13 * 86400
    assert entry["warning"] is None
    assert entry["due"] and entry["grace_ends"] and entry["completed_at"]


def test_the_state_filter(user: Any, user_client: APIClient) -> None:
    t = now()
    pending = hnr_snatch(user=user)
    overdue = hnr_snatch(user=user, due=t - timedelta(hours=1))
    met_not_recorded = hnr_snatch(user=user, seed_time=72 * HOUR)
    met = hnr_snatch(user=user, state=HnrState.MET)
    failed = hnr_snatch(user=user, state=HnrState.FAILED)
    pardoned = hnr_snatch(user=user, state=HnrState.PARDONED)

    def ids(state: str) -> set[int]:
        response = user_client.get("/api/me/hnr", {"state": state})
        assert response.status_code == 200, response.content
        return {e["id"] for e in response.json()["data"]}

    assert ids("pending") == {pending.pk}
    assert ids("overdue") == {overdue.pk}
    assert ids("met") == {met.pk, met_not_recorded.pk}
    assert ids("failed") == {failed.pk}
    assert ids("pardoned") == {pardoned.pk}
    assert ids("") == {s.pk for s in (pending, overdue, met_not_recorded, met, failed, pardoned)}
    states = {e["id"]: e["state"] for e in user_client.get("/api/me/hnr").json()["data"]}
    assert states[met_not_recorded.pk] == "met" and states[overdue.pk] == "overdue"
    response = user_client.get("/api/me/hnr", {"state": "lost"})
    assert response.status_code == 422
    assert "state" in response.json()["error"]["details"]


def test_sorts_are_whitelisted(user: Any, user_client: APIClient) -> None:
    t = now()
    late = hnr_snatch(user=user, completed=t - timedelta(days=5), due=t + timedelta(days=9))
    early = hnr_snatch(user=user, completed=t - timedelta(days=1), due=t + timedelta(days=2))
    assert [e["id"] for e in user_client.get("/api/me/hnr").json()["data"]] == [early.pk, late.pk]
    by_completion = user_client.get("/api/me/hnr", {"sort": "completed_at", "order": "desc"}).json()["data"]
    assert [e["id"] for e in by_completion] == [early.pk, late.pk]
    assert [e["id"] for e in user_client.get("/api/me/hnr", {"sort": "due", "order": "desc"}).json()["data"]] == [late.pk, early.pk]
    assert user_client.get("/api/me/hnr", {"sort": "seed_time"}).status_code == 422


def test_pagination(user: Any, user_client: APIClient) -> None:
    for _ in range(3):
        hnr_snatch(user=user)
    body = user_client.get("/api/me/hnr", {"per_page": 2, "page": 2}).json()
    assert len(body["data"]) == 1
    assert body["meta"] == {"current_page": 2, "per_page": 2, "total": 3, "total_pages": 2}


def test_a_snatch_of_a_torrent_the_viewer_may_not_see_is_left_out(user: Any, user_client: APIClient, moderator_client: APIClient) -> None:
    visible = hnr_snatch(user=user)
    staff_only = hnr_snatch(user=user, torrent=TorrentFactory(forum=ForumFactory(view_level=AccessLevel.MODERATOR)))
    unapproved = hnr_snatch(user=user, torrent=TorrentFactory(status=TorrentStatus.NOT_APPROVED))
    admin_only = hnr_snatch(user=user, torrent=TorrentFactory(forum=ForumFactory(view_level=AccessLevel.ADMIN)))
    mine = [e["id"] for e in user_client.get("/api/me/hnr").json()["data"]]
    assert mine == [visible.pk]
    theirs = {e["id"] for e in moderator_client.get(f"/api/users/{user.pk}/hnr").json()["data"]}
    assert theirs == {visible.pk, staff_only.pk, unapproved.pk}
    # and a moderator cannot pardon what they may not see
    assert moderator_client.post(f"/api/snatches/{admin_only.pk}/pardon", {"reason": "x"}, format="json").status_code == 404
    assert moderator_client.post(f"/api/snatches/{staff_only.pk}/pardon", {"reason": "x"}, format="json").status_code == 200


def test_pardon_answers_the_new_state_and_clears_the_warning(world: dict[str, Any], moderator: Any) -> None:
    client = world["clients"]["moderator"]
    response = client.post(f"/api/snatches/{world['snatch'].pk}/pardon", {"reason": "tracker was down"}, format="json")
    assert response.status_code == 200, response.content
    entry = response.json()["data"]
    assert (entry["id"], entry["state"]) == (world["snatch"].pk, "pardoned")
    assert entry["warning"] == {"id": world["warning"].pk, "active": False}
    warning = world["clients"]["member"].get("/api/me/warnings").json()["data"][0]
    assert (warning["active"], warning["cleared_reason"]) == (False, "tracker was down")
    assert PolicyChange.objects.get().actor == moderator


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 201}])
def test_pardon_and_clear_need_a_reason(world: dict[str, Any], body: dict[str, str]) -> None:
    client = world["clients"]["moderator"]
    for url in (f"/api/snatches/{world['snatch'].pk}/pardon", f"/api/warnings/{world['warning'].pk}/clear"):
        response = client.post(url, body, format="json")
        assert response.status_code == 422, response.content
        assert "reason" in response.json()["error"]["details"]
    assert not PolicyChange.objects.exists()


def test_pardoning_a_download_without_a_requirement_is_a_conflict(user: Any, moderator_client: APIClient) -> None:
    exempt = hnr_snatch(user=user, state=HnrState.NONE)
    response = moderator_client.post(f"/api/snatches/{exempt.pk}/pardon", {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


def test_clear_answers_the_cleared_warning(world: dict[str, Any]) -> None:
    response = world["clients"]["moderator"].post(f"/api/warnings/{world['warning'].pk}/clear", {"reason": "seeded since"}, format="json")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["id"], data["active"], data["cleared_reason"]) == (world["warning"].pk, False, "seeded since")
    assert data["cleared_at"] is not None


def test_a_session_post_without_csrf_is_refused(world: dict[str, Any], moderator: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(moderator)
    response = client.post(f"/api/warnings/{world['warning'].pk}/clear", {"reason": "x"}, format="json")
    assert response.status_code == 403
    world["warning"].refresh_from_db()
    assert world["warning"].cleared_at is None


def test_my_warnings_active_and_past(user: Any, user_client: APIClient) -> None:
    t = now()
    active = HnrWarning.objects.create(user=user, torrent_name="A", created_at=t, expires_at=t + timedelta(days=3))
    expired = HnrWarning.objects.create(user=user, torrent_name="B", created_at=t - timedelta(days=40), expires_at=t - timedelta(days=10))
    cleared = HnrWarning.objects.create(
        user=user, torrent_name="C", created_at=t - timedelta(days=1), expires_at=t + timedelta(days=29), cleared_at=t, cleared_reason="ok"
    )
    HnrWarning.objects.create(user=UserFactory(), torrent_name="D", created_at=t, expires_at=t + timedelta(days=3))
    data = user_client.get("/api/me/warnings").json()["data"]
    assert [(w["id"], w["active"]) for w in data] == [(active.pk, True), (cleared.pk, False), (expired.pk, False)]
    assert data[0]["torrent_name"] == "A" and data[0]["snatch"] is None
    assert "cleared_by" not in data[0]
    by_expiry = user_client.get("/api/me/warnings", {"sort": "expires_at", "order": "asc"}).json()["data"]
    assert [w["id"] for w in by_expiry] == [expired.pk, active.pk, cleared.pk]


def test_moderators_list_the_members_with_a_record(world: dict[str, Any]) -> None:
    client = world["clients"]["moderator"]
    data = client.get("/api/hnr/members").json()["data"]
    assert data == [{"id": world["user"].pk, "username": world["user"].username, "active_warnings": 1, "warnings": 1, "failed": 1}]
    assert client.get("/api/hnr/members", {"search": "nobody-like-this"}).json()["data"] == []
    assert client.get("/api/hnr/members", {"sort": "failed"}).status_code == 200
    assert client.get("/api/hnr/members", {"sort": "passkey"}).status_code == 422


def test_the_operations_are_in_the_schema(api_client: APIClient) -> None:
    paths = api_client.get("/api/schema?format=json").json()["paths"]
    for path, method in [
        ("/api/me/hnr", "get"), ("/api/users/{id}/hnr", "get"), ("/api/me/warnings", "get"), ("/api/users/{id}/warnings", "get"),
        ("/api/hnr/members", "get"), ("/api/snatches/{id}/pardon", "post"), ("/api/warnings/{id}/clear", "post"),
    ]:  # fmt: skip
        assert method in paths[path], path
    state = next(p for p in paths["/api/me/hnr"]["get"]["parameters"] if p["name"] == "state")
    assert set(state["schema"]["enum"]) == {"pending", "overdue", "met", "failed", "pardoned"}
    assert "409" in paths["/api/snatches/{id}/pardon"]["post"]["responses"]


@pytest.mark.parametrize("rows", [2, 20])
def test_the_lists_run_in_bounded_queries(user: Any, moderator: Any, rows: int, django_assert_max_num_queries: Any) -> None:
    t = now()
    for i in range(rows):
        member = user if i % 2 == 0 else UserFactory()
        snatch = hnr_snatch(user=member, state=HnrState.FAILED)
        HnrWarning.objects.create(user=member, snatch=snatch, created_at=t, expires_at=t + timedelta(days=30))
    member_client, moderator_client = bearer(APIClient(), user), bearer(APIClient(), moderator)
    for client, url in [
        (member_client, "/api/me/hnr"), (moderator_client, f"/api/users/{user.pk}/hnr"), (member_client, "/api/me/warnings"),
        (moderator_client, f"/api/users/{user.pk}/warnings"), (moderator_client, "/api/hnr/members?per_page=5"),
    ]:  # fmt: skip
        client.get(url)  # the policy row and the like, read once
        with django_assert_max_num_queries(5):
            response = client.get(url)
        assert response.status_code == 200
        assert response.json()["data"]
