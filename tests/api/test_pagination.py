"""page/per_page, search, sort and order on a list resource (a test-only list of users)."""

import pytest

from accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


@pytest.fixture
def users(db):
    # bulk_create with unusable passwords: hashing 130 real passwords would take most of a minute.
    return User.objects.bulk_create(User(username=f"member{n:03d}", passkey=f"{n:032x}", password="!") for n in range(1, 131))


def test_defaults_are_page_1_of_50(api_client, users):
    body = api_client.get("/api/test-users").json()
    assert body["meta"] == {"current_page": 1, "per_page": 50, "total": 130, "total_pages": 3}
    assert len(body["data"]) == 50
    assert body["data"][0]["username"] == "member001"


def test_second_page(api_client, users):
    body = api_client.get("/api/test-users?page=2&per_page=25").json()
    assert body["meta"] == {"current_page": 2, "per_page": 25, "total": 130, "total_pages": 6}
    assert [u["username"] for u in body["data"]][:2] == ["member026", "member027"]


def test_last_partial_page(api_client, users):
    body = api_client.get("/api/test-users?page=3").json()
    assert len(body["data"]) == 30
    assert body["meta"]["current_page"] == 3


def test_a_page_past_the_end_is_empty_with_correct_meta(api_client, users):
    response = api_client.get("/api/test-users?page=99&per_page=20")
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": [],
        "meta": {"current_page": 99, "per_page": 20, "total": 130, "total_pages": 7},
    }


def test_an_empty_collection_has_one_empty_page(api_client, db):
    body = api_client.get("/api/test-users").json()
    assert body == {"success": True, "data": [], "meta": {"current_page": 1, "per_page": 50, "total": 0, "total_pages": 1}}


def test_per_page_above_100_is_clamped(api_client, users):
    body = api_client.get("/api/test-users?per_page=1000").json()
    assert body["meta"]["per_page"] == 100
    assert len(body["data"]) == 100
    assert body["meta"]["total_pages"] == 2


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("page=abc", "page", "page must be an integer."),
        ("page=0", "page", "page must be at least 1."),
        ("page=-3", "page", "page must be at least 1."),
        ("page=1.5", "page", "page must be an integer."),
        ("per_page=x", "per_page", "per_page must be an integer."),
        ("per_page=0", "per_page", "per_page must be at least 1."),
        ("per_page=-1", "per_page", "per_page must be at least 1."),
    ],
)
def test_bad_page_values_are_422_with_details(api_client, db, query, field, message):
    response = api_client.get(f"/api/test-users?{query}")
    assert response.status_code == 422
    assert response.json() == {
        "success": False,
        "error": {"code": "VALIDATION_ERROR", "message": "Validation failed", "details": {field: [message]}},
    }


def test_sort_and_order(api_client, users):
    desc = api_client.get("/api/test-users?sort=username&order=desc&per_page=3").json()["data"]
    assert [u["username"] for u in desc] == ["member130", "member129", "member128"]
    asc = api_client.get("/api/test-users?sort=username&order=ASC&per_page=2").json()["data"]
    assert [u["username"] for u in asc] == ["member001", "member002"]


def test_an_unknown_sort_field_is_422_listing_the_allowed_ones(api_client, db):
    response = api_client.get("/api/test-users?sort=password")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"sort": ["Cannot sort by 'password'. Allowed fields: username, joined."]}


def test_a_bad_order_is_422(api_client, db):
    response = api_client.get("/api/test-users?order=sideways")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"order": ["order must be 'asc' or 'desc'."]}


def test_a_bad_sort_and_a_bad_order_are_reported_together(api_client, db):
    response = api_client.get("/api/test-users?sort=nope&order=up")
    assert set(response.json()["error"]["details"]) == {"sort", "order"}


def test_search_over_declared_fields(api_client, users):
    body = api_client.get("/api/test-users?search=member12").json()
    assert body["meta"]["total"] == 10
    assert all("member12" in u["username"] for u in body["data"])


def test_search_then_page(api_client, users):
    body = api_client.get("/api/test-users?search=member1&per_page=5&page=2&sort=username&order=desc").json()
    assert body["meta"]["total"] == 31  # member100..member130
    assert len(body["data"]) == 5


def test_an_overlong_search_is_422(api_client, db):
    response = api_client.get("/api/test-users?search=" + "a" * 201)
    assert response.status_code == 422
    assert "search" in response.json()["error"]["details"]


def test_a_page_costs_a_bounded_number_of_queries(api_client, users, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        api_client.get("/api/test-users?per_page=100")
