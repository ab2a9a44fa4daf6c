"""A member's privacy: who sees their transfer figures (stats_public), set by PATCH /api/me and the profile page."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import UserFactory

FIGURES = ("uploaded", "downloaded", "ratio")

# (viewer, the member shows their figures) -> whether the viewer sees them
VISIBILITY = [
    ("self", True, True),
    ("self", False, True),
    ("member", True, True),
    ("member", False, False),
    ("moderator", True, True),
    ("moderator", False, True),
    ("admin", False, True),
]


def _viewer(kind: str, shown: Any) -> Any:
    if kind == "self":
        return shown
    return UserFactory(role={"member": "user"}.get(kind, kind))


@pytest.mark.django_db
@pytest.mark.parametrize(("viewer_kind", "public", "visible"), VISIBILITY)
def test_profile_figures_follow_the_members_choice(viewer_kind, public, visible):
    shown = UserFactory(uploaded=3000, downloaded=1000, stats_public=public)
    client = bearer(APIClient(), _viewer(viewer_kind, shown))
    profile = client.get(f"/api/users/{shown.pk}").json()["data"]
    listed = {u["id"]: u for u in client.get("/api/users", {"per_page": 100}).json()["data"]}[shown.pk]
    for data in (profile, listed):
        assert data["username"] == shown.username and data["joined"]  # the rest of the profile is always there
        expected = {"uploaded": 3000, "downloaded": 1000, "ratio": 3.0} if visible else dict.fromkeys(FIGURES)
        assert {k: data[k] for k in FIGURES} == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("sort", "order"), [("uploaded", "desc"), ("uploaded", "asc"), ("downloaded", "desc"), ("downloaded", "asc")])
def test_sorting_by_a_figure_never_ranks_members_who_hide_it(sort, order):
    viewer = UserFactory(uploaded=50, downloaded=50)
    hidden_top = UserFactory(uploaded=10**12, downloaded=10**12, stats_public=False)
    hidden_low = UserFactory(uploaded=1, downloaded=1, stats_public=False)
    shown_a = UserFactory(uploaded=100, downloaded=100)
    shown_b = UserFactory(uploaded=200, downloaded=200)

    def ids(client: APIClient) -> list[int]:
        return [u["id"] for u in client.get("/api/users", {"sort": sort, "order": order}).json()["data"]]

    ranked = sorted([viewer, shown_a, shown_b], key=lambda u: getattr(u, sort), reverse=order == "desc")
    # The viewer's own figures rank; the hidden members follow everyone, by id whatever the figures say.
    hidden = [hidden_top.pk, hidden_low.pk] if order == "asc" else [hidden_low.pk, hidden_top.pk]
    assert ids(bearer(APIClient(), viewer)) == [u.pk for u in ranked] + hidden
    everyone = sorted([viewer, hidden_top, hidden_low, shown_a, shown_b], key=lambda u: getattr(u, sort), reverse=order == "desc")
    moderator = UserFactory(role="moderator", uploaded=0 if order == "asc" else 10**13, downloaded=0 if order == "asc" else 10**13)
    assert ids(bearer(APIClient(), moderator)) == [moderator.pk, *(u.pk for u in everyone)]


@pytest.mark.django_db
def test_patch_me_sets_privacy_and_keeps_ones_own_figures(user):
    client = bearer(APIClient(), user)
    response = client.patch("/api/me", {"stats_public": False, "hide_in_peers": True}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["stats_public"], data["hide_in_peers"]) == (False, True)
    assert data["uploaded"] == user.uploaded and data["downloaded"] == user.downloaded  # one always sees one's own
    user.refresh_from_db()
    assert (user.stats_public, user.hide_in_peers) == (False, True)
    assert client.patch("/api/me", {"hide_in_peers": False}, format="json").json()["data"]["stats_public"] is False  # absent: kept
    assert client.get("/api/me").json()["data"]["stats_public"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [{"stats_public": "maybe"}, {"hide_in_peers": [1]}, {"stats_public": None}, {"stats_public": 0}, {"hide_in_peers": "1"}]
)
def test_patch_me_refuses_what_is_not_a_boolean(user, body):
    response = bearer(APIClient(), user).patch("/api/me", body, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR" and set(response.json()["error"]["details"]) == set(body)
    user.refresh_from_db()
    assert (user.stats_public, user.hide_in_peers) == (True, False)


@pytest.mark.django_db
def test_patch_me_needs_a_login_and_csrf_on_a_session(user):
    assert APIClient().patch("/api/me", {"stats_public": False}, format="json").status_code == 401
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(user)
    assert session.patch("/api/me", {"stats_public": False}, format="json").status_code == 403
    user.refresh_from_db()
    assert user.stats_public is True


@pytest.mark.django_db
def test_a_form_body_says_true_or_false_in_words(user):
    client = bearer(APIClient(), user)
    assert client.patch("/api/me", {"stats_public": "false"}, format="multipart").json()["data"]["stats_public"] is False
    assert client.patch("/api/me", {"stats_public": "0"}, format="multipart").status_code == 422
    user.refresh_from_db()
    assert user.stats_public is False
