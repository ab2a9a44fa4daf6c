"""GET /api/me/ledger, GET /api/store, POST /api/store/purchase, POST /api/torrents/{id}/freeleech-token."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue.models import AccessLevel
from tracker.policy.bonus import balance_check, points_adjust
from tracker.policy.models import GIB, HnrWarning, LedgerEntry, TokenUse

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/me/ledger"),
    ("get", "/api/store"),
    ("post", "/api/store/purchase"),
    ("post", "/api/torrents/{torrent}/freeleech-token"),
]


def give(user, amount: str) -> None:
    staff = UserFactory(role="admin", is_staff=True)
    points_adjust(user=user, amount=Decimal(amount), reason="test credit", actor=staff)


def assert_balanced(user) -> None:
    cached, total = balance_check(user)
    assert cached == total


def error_code(response) -> str:
    body = response.json()
    assert body["success"] is False and set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_guests_get_401(api_client, torrent, method, path):
    response = getattr(api_client, method)(path.format(torrent=torrent.pk), {"item": "token"}, format="json")
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"


# --- The ledger ----------------------------------------------------------------------------------------------


def test_the_ledger_lists_the_members_rows_newest_first(user, user_client):
    now = timezone.now()
    LedgerEntry.objects.create(
        user=user, amount=Decimal("6.50"), kind="seeding", period=now.replace(minute=0), created_at=now - timedelta(hours=2)
    )
    give(user, "1000")
    user_client.post("/api/store/purchase", {"item": "token"}, format="json")
    give(UserFactory(), "5")  # someone else's

    response = user_client.get("/api/me/ledger")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["meta"] == {"current_page": 1, "per_page": 50, "total": 3, "total_pages": 1}
    assert [(r["kind"], r["amount"]) for r in body["data"]] == [("token", "-500.00"), ("adjust", "1000.00"), ("seeding", "6.50")]
    assert set(body["data"][0]) == {"id", "amount", "kind", "period", "note", "created_at"}
    assert body["data"][0]["period"] is None and body["data"][2]["period"] is not None
    assert body["data"][1]["note"] == "test credit"


def test_the_ledger_sorts_by_amount_and_pages(user, user_client):
    give(user, "10")
    give(user, "30")
    give(user, "20")
    data = user_client.get("/api/me/ledger?sort=amount&order=asc&per_page=2").json()
    assert [r["amount"] for r in data["data"]] == ["10.00", "20.00"]
    assert data["meta"]["total_pages"] == 2
    second = user_client.get("/api/me/ledger?sort=amount&order=asc&per_page=2&page=2").json()
    assert [r["amount"] for r in second["data"]] == ["30.00"]


@pytest.mark.parametrize("query", ["sort=kind", "order=up", "page=0", "per_page=x"])
def test_the_ledger_refuses_bad_list_parameters(user_client, query):
    response = user_client.get(f"/api/me/ledger?{query}")
    assert response.status_code == 422
    assert error_code(response) == "VALIDATION_ERROR"


def test_the_ledger_runs_in_bounded_queries(user, user_client, django_assert_max_num_queries):
    for n in range(30):
        give(user, str(n + 1))
    with django_assert_max_num_queries(5):
        response = user_client.get("/api/me/ledger")
    assert len(response.json()["data"]) == 30


# --- The store -----------------------------------------------------------------------------------------------


def test_the_store_shows_prices_balance_tokens_and_warnings(user, user_client):
    give(user, "123.45")
    now = timezone.now()
    HnrWarning.objects.create(user=user, created_at=now, expires_at=now + timedelta(days=3))
    response = user_client.get("/api/store")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["items"] == [
        {"item": "upload_credit", "name": "1 GiB of upload credit", "price": 100},
        {"item": "token", "name": "1 freeleech token", "price": 500},
        {"item": "warning", "name": "Clear 1 active hit-and-run warning", "price": 1000},
    ]
    assert (data["balance"], data["freeleech_tokens"], data["active_warnings"], data["max_quantity"]) == ("123.45", 0, 1, 100)


def test_buying_upload_credit_answers_the_new_figures(user, user_client):
    give(user, "250")
    response = user_client.post("/api/store/purchase", {"item": "upload_credit", "quantity": 2}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["item"], data["quantity"], data["price"], data["balance"]) == ("upload_credit", 2, "200.00", "50.00")
    assert data["uploaded"] == 2 * GIB
    assert data["entry"]["amount"] == "-200.00" and data["entry"]["kind"] == "upload_credit"
    assert_balanced(user)


def test_buying_a_token_and_clearing_a_warning(user, user_client):
    give(user, "1500")
    now = timezone.now()
    warning = HnrWarning.objects.create(user=user, created_at=now, expires_at=now + timedelta(days=3))
    data = user_client.post("/api/store/purchase", {"item": "token"}, format="json").json()["data"]
    assert (data["quantity"], data["freeleech_tokens"], data["balance"]) == (1, 1, "1000.00")
    assert user_client.post("/api/store/purchase", {"item": "warning"}, format="json").status_code == 201
    warning.refresh_from_db()
    assert warning.cleared_at is not None
    response = user_client.post("/api/store/purchase", {"item": "warning"}, format="json")
    assert response.status_code == 409 and error_code(response) == "CONFLICT"
    assert_balanced(user)


def test_a_purchase_beyond_the_balance_is_409_insufficient_points(user, user_client):
    give(user, "99.99")
    response = user_client.post("/api/store/purchase", {"item": "upload_credit"}, format="json")
    assert response.status_code == 409
    assert error_code(response) == "INSUFFICIENT_POINTS"
    assert response.json()["error"]["details"] == {"price": "100", "balance": "99.99"}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"item": "gold"}, "item"), ({}, "item"), ({"item": "token", "quantity": 0}, "quantity"),
     ({"item": "token", "quantity": 101}, "quantity"), ({"item": "token", "quantity": "lots"}, "quantity")],
)  # fmt: skip
def test_a_bad_item_or_quantity_is_422(user, user_client, body, field):
    give(user, "100000")
    response = user_client.post("/api/store/purchase", body, format="json")
    assert response.status_code == 422
    assert error_code(response) == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    assert LedgerEntry.objects.filter(user=user).count() == 1


def test_a_session_purchase_needs_the_csrf_token(user):
    give(user, "1000")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/store/purchase", {"item": "token"}, format="json")
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.freeleech_tokens == 0
    assert client.get("/api/store").status_code == 200  # a read needs none


# --- Freeleech tokens ----------------------------------------------------------------------------------------


def test_spending_a_token_is_201_with_its_expiry(user, user_client, torrent):
    user.freeleech_tokens = 2
    user.save()
    response = user_client.post(f"/api/torrents/{torrent.pk}/freeleech-token")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["torrent"] == torrent.pk and data["freeleech_tokens"] == 1
    assert data["expires_at"] == TokenUse.objects.get(user=user, torrent=torrent).expires_at.isoformat().replace("+00:00", "Z")

    again = user_client.post(f"/api/torrents/{torrent.pk}/freeleech-token/")
    assert again.status_code == 409 and error_code(again) == "CONFLICT"
    user.refresh_from_db()
    assert user.freeleech_tokens == 1


def test_no_tokens_is_409(user_client, torrent):
    response = user_client.post(f"/api/torrents/{torrent.pk}/freeleech-token")
    assert response.status_code == 409
    assert error_code(response) == "CONFLICT"
    assert "no freeleech tokens" in response.json()["error"]["message"]


def test_a_torrent_the_member_may_not_see_is_404(user, user_client):
    user.freeleech_tokens = 1
    user.save()
    hidden = TorrentFactory(forum=ForumFactory(view_level=AccessLevel.MODERATOR))
    for pk in (hidden.pk, 999999):
        response = user_client.post(f"/api/torrents/{pk}/freeleech-token")
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
    user.refresh_from_db()
    assert user.freeleech_tokens == 1


# --- The schema ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_endpoints_are_in_the_schema_with_their_errors(schema):
    paths = schema["paths"]
    ledger = paths["/api/me/ledger"]["get"]
    assert {p["name"] for p in ledger["parameters"]} >= {"page", "per_page", "sort", "order"}
    sort = next(p for p in ledger["parameters"] if p["name"] == "sort")
    assert sort["schema"]["enum"] == ["created_at", "amount"]
    assert {"200", "401", "422"} <= set(ledger["responses"])
    assert {"200", "401"} <= set(paths["/api/store"]["get"]["responses"])
    purchase = paths["/api/store/purchase"]["post"]["responses"]
    assert {"201", "401", "403", "409", "422"} <= set(purchase)
    assert "INSUFFICIENT_POINTS" in purchase["409"]["description"]
    token = paths["/api/torrents/{id}/freeleech-token"]["post"]["responses"]
    assert {"201", "401", "404", "409"} <= set(token)
