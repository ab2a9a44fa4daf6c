"""The OpenAPI schema at /api/schema describes the API as it answers; /api/docs works offline."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from api.errors import ErrorCode
from core.listing import MAX_PAGE


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def paged_schema():
    """The schema with the test-only list resource in it, as a real resource would appear."""
    from tests.api import urls

    return SchemaGenerator(urlconf=urls).get_schema(request=None, public=True)


def _resolve(schema, node):
    while "$ref" in node:
        _, _, kind, name = node["$ref"].split("/")
        node = schema["components"][kind][name]
    return node


def test_the_schema_is_valid_openapi_3(schema, paged_schema):
    validate_schema(schema)
    validate_schema(paged_schema)


def test_each_operation_is_documented_once_at_its_canonical_path(schema):
    assert "/api/hello" in schema["paths"]
    assert "/api/login" in schema["paths"]
    assert not [p for p in schema["paths"] if p.startswith("/api/v1/") or p.endswith("/")]


def test_a_200_is_wrapped_in_the_success_envelope(schema):
    body = schema["paths"]["/api/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["required"] == ["success", "data"]
    assert body["properties"]["success"] == {"type": "boolean", "description": "Always true."}
    data = _resolve(schema, body["properties"]["data"])
    assert "passkey" in data["properties"]


def test_a_list_200_is_the_envelope_with_meta(paged_schema):
    response = paged_schema["paths"]["/api/test-users"]["get"]["responses"]["200"]
    body = _resolve(paged_schema, response["content"]["application/json"]["schema"])
    assert body["required"] == ["success", "data", "meta"]
    assert body["properties"]["data"]["type"] == "array"
    assert set(body["properties"]["meta"]["properties"]) == {"current_page", "per_page", "total", "total_pages", "total_is_estimate"}
    # the estimate's flag only when it is one
    assert body["properties"]["meta"]["required"] == ["current_page", "per_page", "total", "total_pages"]


def test_list_query_parameters_are_described(paged_schema):
    params = {p["name"]: p for p in paged_schema["paths"]["/api/test-users"]["get"]["parameters"]}
    assert {"page", "per_page", "search", "sort", "order"} <= set(params)
    assert params["sort"]["schema"]["enum"] == ["username", "joined"]
    assert params["order"]["schema"]["enum"] == ["asc", "desc"]


def test_error_responses_use_the_error_envelope(schema):
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["success", "error"]
    code = _resolve(schema, envelope["properties"]["error"]["properties"]["code"])
    assert set(code["enum"]) == {code.value for code in ErrorCode}
    me = schema["paths"]["/api/me"]["get"]["responses"]
    assert {"401", "403", "429", "500"} <= set(me)
    unauthorized = me["401"]["content"]["application/json"]["schema"]["allOf"]
    assert unauthorized[0] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert unauthorized[1]["properties"]["error"]["properties"]["code"]["enum"] == ["UNAUTHORIZED", "TOKEN_INVALID"]


def test_a_body_taking_operation_lists_400_413_415_422(schema):
    login = schema["paths"]["/api/login"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "422", "429", "500"} <= set(login)
    narrowed = login["401"]["content"]["application/json"]["schema"]["allOf"][1]
    assert "INVALID_CREDENTIALS" in narrowed["properties"]["error"]["properties"]["code"]["enum"]


def test_a_list_lists_401_and_422(paged_schema):
    responses = paged_schema["paths"]["/api/test-users"]["get"]["responses"]
    assert {"200", "401", "422", "429"} <= set(responses)


def test_a_detail_lists_404(paged_schema):
    detail = paged_schema["paths"]["/api/test-things/{id}"]["get"]["responses"]
    assert {"200", "401", "404", "429", "500"} <= set(detail)
    assert detail["200"]["content"]["application/json"]["schema"]["required"] == ["success", "data"]


def test_every_response_carries_the_rate_limit_headers(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers), (path, method, status)
                if status == "429":
                    assert "Retry-After" in headers
    assert set(schema["components"]["headers"]) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}


def test_a_204_stays_bodyless(schema):
    assert "content" not in schema["paths"]["/api/logout"]["post"]["responses"]["204"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/schema", "/api/schema/", "/api/v1/schema"])
def test_the_schema_is_served(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.0.3")
    assert response["X-RateLimit-Limit"].isdigit()


@pytest.mark.django_db
def test_the_schema_is_served_as_json(api_client):
    response = api_client.get("/api/schema?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"] == "3.0.3"


@pytest.mark.django_db
def test_the_docs_page_loads_only_local_assets(api_client):
    response = api_client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    # Local static files, and Swagger UI's init script served by the docs view itself.
    assert all(url.startswith(("/static/", "/api/docs?script")) for url in assets), assets
    assert "//" not in "".join(assets)
    assert "cdn" not in html.lower()
    script = api_client.get("/api/docs?script=")
    assert script.status_code == 200
    assert b"/api/schema" in script.content
    for url in assets:
        assert api_client.get(url).status_code == 200, url


def test_declared_error_statuses_get_the_envelope_too(paged_schema):
    conflict = paged_schema["paths"]["/api/test-conflict"]["post"]["responses"]["409"]
    assert conflict["description"] == "The torrent is registered already. Codes: CONFLICT."
    assert conflict["content"]["application/json"]["schema"]["allOf"][0] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    gone = paged_schema["paths"]["/api/test-conflict"]["post"]["responses"]["404"]
    assert gone["description"] == "No such resource, or not one the caller may see. Codes: NOT_FOUND."


def test_operations_a_guest_may_call_say_so(schema):
    # `{}` in `security`: no credentials needed. Our own permissions (read-only-or-...) let guests read.
    for path, method in [("/api/torrents", "get"), ("/api/torrents/{id}", "get"), ("/api/categories", "get"), ("/api/forums/{id}", "get")]:
        assert {} in schema["paths"][path][method]["security"], (path, method)
    for path, method in [
        ("/api/torrents", "post"),
        ("/api/me", "get"),
        ("/api/categories", "post"),
        ("/api/torrents/{id}/download", "get"),
    ]:
        assert {} not in schema["paths"][path][method]["security"], (path, method)


def test_filter_parameters_carry_the_filters_limits(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/torrents"]["get"]["parameters"]}
    assert params["forum"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert params["min_size"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    assert params["info_hash"]["schema"]["pattern"] == "^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$"
    assert params["search"]["schema"]["maxLength"] == 200
    assert params["page"]["schema"]["maximum"] == MAX_PAGE
    assert all(p["allowEmptyValue"] for p in params.values())  # `?sort=` means the default


def test_the_rate_limit_headers_are_required(schema):
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"):
        assert schema["components"]["headers"][name]["required"] is True


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/register", "post", {"403", "409"}),  # registration closed; username (or a look-alike) taken
        ("/api/torrents", "post", {"409"}),  # registered already
        ("/api/categories", "post", {"409"}),  # name taken
        ("/api/categories/{id}", "patch", {"409"}),
        ("/api/categories/{id}", "delete", {"409"}),  # still has forums
        ("/api/forums", "post", {"409"}),
        ("/api/forums/{id}", "patch", {"409"}),
        ("/api/forums/{id}", "delete", {"409"}),  # still holds torrents
        ("/api/me/email/confirmation", "post", {"409", "503"}),  # confirmed already; the mail server did not take the mail
    ],
)
def test_conflicts_and_refusals_the_views_raise_are_documented(schema, path, method, statuses):
    responses = schema["paths"][path][method]["responses"]
    assert statuses <= set(responses)
    assert responses["409"]["description"].endswith("Codes: CONFLICT.")
