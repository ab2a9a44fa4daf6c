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
