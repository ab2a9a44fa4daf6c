"""The success and error envelopes, versions and trailing slashes."""

import pytest


@pytest.mark.django_db
def test_hello_is_a_success_envelope(api_client):
    response = api_client.get("/api/hello")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["database"] is True
    assert body["data"]["cache"] is True
    assert set(body["data"]) >= {"message", "version", "timestamp"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/hello", "/api/hello/", "/api/v1/hello", "/api/v1/hello/"])
def test_paths_work_with_and_without_slash_and_v1(api_client, path):
    assert api_client.get(path).status_code == 200


@pytest.mark.django_db
def test_unknown_api_path_is_a_404_envelope(api_client):
    response = api_client.post("/api/nothing-here/at-all", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": {"code": "NOT_FOUND", "message": "No API endpoint at this path.", "details": {}}}


@pytest.mark.django_db
def test_v2_says_the_version_does_not_exist(api_client):
    response = api_client.get("/api/v2/torrents")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert "v2" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_wrong_method_is_405(api_client):
    response = api_client.delete("/api/hello")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.django_db
def test_rate_limit_headers_on_success_and_error(api_client):
    for path in ("/api/hello", "/api/missing"):
        response = api_client.get(path)
        assert response["X-RateLimit-Limit"].isdigit()
        assert response["X-RateLimit-Remaining"].isdigit()
        assert int(response["X-RateLimit-Reset"]) > 1_600_000_000


@pytest.mark.django_db
def test_a_success_is_exactly_success_and_data(user_client):
    body = user_client.get("/api/me").json()
    assert set(body) == {"success", "data"}
    assert body["success"] is True


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_a_collection_adds_meta(api_client, user):
    body = api_client.get("/api/test-users").json()
    assert set(body) == {"success", "data", "meta"}
    assert body["data"] == [{"id": user.pk, "username": user.username}]
    assert body["meta"] == {"current_page": 1, "per_page": 50, "total": 1, "total_pages": 1}


@pytest.mark.django_db
def test_a_204_has_no_body(user_client, user):
    refresh = user_client.post("/api/login", {"username": user.username, "password": "pass-Word-1234"}, format="json")
    response = user_client.post("/api/logout", {"refresh_token": refresh.json()["data"]["refresh_token"]}, format="json")
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.django_db
@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
def test_every_method_works_with_and_without_a_trailing_slash(api_client, user, slash, prefix):
    assert api_client.get(f"{prefix}/hello{slash}").status_code == 200
    assert api_client.head(f"{prefix}/hello{slash}").status_code == 200
    assert api_client.options(f"{prefix}/hello{slash}").status_code == 200
    login = api_client.post(f"{prefix}/login{slash}", {"username": user.username, "password": "pass-Word-1234"}, format="json")
    assert login.status_code == 200
    for method in ("put", "patch", "delete"):
        response = getattr(api_client, method)(f"{prefix}/hello{slash}", {}, format="json")
        # 405 (not 404, not a redirect): the route matched with or without the slash.
        assert response.status_code == 405, (method, slash)
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
@pytest.mark.parametrize("path", ["/api/test-users", "/api/test-users/", "/api/v1/test-users", "/api/v1/test-users/"])
def test_a_list_answers_at_all_four_spellings(api_client, user, path):
    response = api_client.get(path)
    assert response.status_code == 200
    assert response.json()["meta"]["total"] == 1


@pytest.mark.django_db
def test_v1_is_the_same_api(api_client, user):
    response = api_client.post("/api/v1/login", {"username": user.username, "password": "pass-Word-1234"}, format="json")
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['data']['token']}")
    assert api_client.get("/api/v1/me").json()["data"]["username"] == user.username


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/", "/api/v2/hello", "/api/v2/torrents/1/", "/api/v3/login"])
def test_other_versions_are_404_saying_so(api_client, method, path):
    response = getattr(api_client, method)(path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert "does not exist" in error["message"]
    assert path.split("/")[2] in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api", "/api/", "/api/hello/extra", "/api/v1/nope", "/api/v1"])
def test_unknown_paths_under_api_are_404_envelopes(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.django_db
def test_paths_outside_api_keep_django_pages(client):
    response = client.get("/definitely-not-here")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_hello_costs_at_most_one_query(api_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert api_client.get("/api/hello").status_code == 200


@pytest.mark.django_db
def test_an_unacceptable_accept_header_is_a_400_envelope(api_client):
    response = api_client.get("/api/hello", HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
@pytest.mark.parametrize("slash", ["", "/"])
def test_router_routes_answer_with_and_without_a_slash(api_client, user, slash):
    listing = api_client.get(f"/api/test-things{slash}?sort=username")
    assert listing.status_code == 200
    assert listing.json()["meta"]["total"] == 1
    detail = api_client.get(f"/api/v1/test-things/{user.pk}{slash}")
    assert detail.json() == {"success": True, "data": {"id": user.pk, "username": user.username}}
    missing = api_client.get(f"/api/test-things/999999{slash}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    assert api_client.delete(f"/api/test-things/{user.pk}{slash}").status_code == 405


@pytest.mark.django_db
def test_bare_api_gets_the_rate_limit_headers_too(api_client):
    response = api_client.get("/api")
    assert response.status_code == 404
    assert response["X-RateLimit-Limit"].isdigit()
