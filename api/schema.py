"""OpenAPI schema generation (drf-spectacular) that describes the API as it really answers.

Every operation of every resource gets, without any per-view code:
- its 2xx JSON body wrapped in the success envelope `{success, data}`
  (lists: `{success, data, meta}`), and a list's query parameters
  (`page`/`per_page`, `search`, `sort`/`order`, its FilterSet's filters),
  both read from the view's `list_specs` (core.listing.ListSpec per action);
- the error responses it can produce, each an `ErrorEnvelope` whose `code`
  is narrowed to the codes of that status;
- the `X-RateLimit-*` headers on every response, `Retry-After` on 429.

Views may still declare extra error statuses with `extend_schema(responses=
{409: OpenApiResponse(description=...)})`; they get the error envelope too.
"""

from typing import Any

from django import forms
from django.contrib.auth.models import AnonymousUser
from django.core.validators import MaxValueValidator, MinValueValidator, ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

from api.errors import ErrorCode
from api.permissions import OpenUnlessMembersOnly
from core.listing import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, ORDERS, SEARCH_MAX_LENGTH, ListSpec

JSON = "application/json"
NO_BODY = "No response body"  # drf-spectacular's description of a response declared without a body
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NO_NUL = "^[^\\x00]*$"  # a string without NUL characters

RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed per minute for this caller (per user when authenticated, else per IP).",
    "X-RateLimit-Remaining": "Requests left in the current window.",
    "X-RateLimit-Reset": "When the current window ends, in Unix epoch seconds.",
}
RETRY_AFTER = "Seconds to wait before the next request is accepted."

_DESCRIPTIONS = {
    400: "Malformed request body (e.g. unparseable JSON).",
    401: "Missing, invalid or expired credentials.",
    403: "Authenticated but not allowed (or a missing CSRF token on a session request).",
    404: "No such resource, or not one the caller may see.",
    405: "Method not allowed.",
    409: "Conflicts with an existing resource.",
    413: "Request body too large.",
    415: "Unsupported Content-Type.",
    422: "Invalid body or query parameters; `details` maps each field to its messages.",
    429: "Rate limit exceeded; see Retry-After.",
    500: "Unexpected server error (details only in the server log).",
    503: "The mail server did not take the mail; try again later.",
}


# Sent by a few operations only, which name them in their declared response.
_NAMED_WHERE_SENT = {
    ErrorCode.INSUFFICIENT_POINTS.value,
    ErrorCode.INSUFFICIENT_INVITES.value,
    ErrorCode.DOWNLOAD_SUSPENDED.value,
    ErrorCode.EMAIL_NOT_CONFIRMED.value,
    ErrorCode.TWO_FACTOR_REQUIRED.value,
}


def codes_for_status(status: int) -> list[str]:
    """The ErrorCode values sent with HTTP `status`."""
    return [code.value for code in ErrorCode if code.status == status]


def _error_envelope_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every error response of the API.",
        "properties": {
            # No `enum: [false]` here or below: drf-spectacular's enum hook would
            # extract both into clashing "SuccessEnum" components.
            "success": {"type": "boolean", "description": "Always false for an error."},
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                    "message": {"type": "string"},
                    "details": {
                        "type": "object",
                        "description": "Field name -> list of messages for VALIDATION_ERROR; `{}` when there is nothing to add.",
                        "additionalProperties": True,
                    },
                },
                "required": ["code", "message", "details"],
            },
        },
        "required": ["success", "error"],
    }


def success_envelope(data_schema: dict[str, Any]) -> dict[str, Any]:
    """`{success: true, data: <data_schema>}`."""
    return {
        "type": "object",
        "properties": {"success": {"type": "boolean", "description": "Always true."}, "data": data_schema},
        "required": ["success", "data"],
    }


def page_envelope(list_schema: dict[str, Any]) -> dict[str, Any]:
    """`{success: true, data: [...], meta: {current_page, per_page, total, total_pages}}`."""
    schema = success_envelope(list_schema)
    schema["properties"]["meta"] = {
        "type": "object",
        "properties": {
            "current_page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
            "total_pages": {"type": "integer", "minimum": 1},
            "total_is_estimate": {
                "type": "boolean",
                "description": "Present only when `total` is an estimate: a count that would have taken too long (a common search).",
            },
        },
        "required": ["current_page", "per_page", "total", "total_pages"],
    }
    schema["required"] = ["success", "data", "meta"]
    return schema


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    # allowEmptyValue: `?sort=` (as an HTML form sends an unset field) means the default, like leaving it out.
    return {"name": name, "in": "query", "required": False, "allowEmptyValue": True, "description": description, "schema": schema}


def list_parameters(spec: ListSpec) -> list[dict[str, Any]]:
    """The contract's query parameters of a list: page and per_page, and search, sort and order where it has them."""
    params = [
        _query("page", "Page number (default 1).", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
        # No `maximum`: a larger per_page is not refused, it is clamped to MAX_PER_PAGE.
        _query(
            "per_page",
            f"Items per page (default {DEFAULT_PER_PAGE}; more than {MAX_PER_PAGE} is taken as {MAX_PER_PAGE}).",
            {"type": "integer", "minimum": 1},
        ),
    ]
    if spec.search:
        # core.listing.parse_search: at most SEARCH_MAX_LENGTH characters, no NUL.
        params.append(_query("search", "Text search.", {"type": "string", "maxLength": SEARCH_MAX_LENGTH, "pattern": NO_NUL}))
    if spec.sorts:
        params.append(_query("sort", "Field to sort by.", {"type": "string", "enum": list(spec.sorts)}))
        params.append(_query("order", "Sort direction.", {"type": "string", "enum": list(ORDERS)}))
    return params


def preprocess_endpoints(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Document each operation once, at its canonical path.

    /api/v1/... is an alias of /api/... (left out), and a path is written
    without the optional trailing slash (both forms are served).
    """
    result = []
    for path, path_regex, method, callback in endpoints:
        if path.startswith("/api/v1/"):
            continue
        result.append((path.rstrip("/") or path, path_regex, method, callback))
    return result


class _AnonymousRequest:
    """As much of a request as a permission's has_permission() reads: the method and a user without credentials."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.user = AnonymousUser()
        self.auth = None


def _add_filter_bounds(schema: dict[str, Any], field: Any) -> None:
    """Copy a django-filter filter's type and limits (min_value, max_value, a RegexValidator) into its parameter's schema.

    drf-spectacular leaves them out, so the schema would allow values the filter refuses with 422.
    """
    extra = field.extra
    if issubclass(field.field_class, forms.IntegerField):
        schema.pop("format", None)
        schema["type"] = "integer"
    if extra.get("min_value") is not None:
        schema["minimum"] = extra["min_value"]
    if extra.get("max_value") is not None:
        schema["maximum"] = extra["max_value"]
    for validator in extra.get("validators", []):
        if isinstance(validator, RegexValidator) and not validator.inverse_match:
            regex = validator.regex
            schema["pattern"] = regex if isinstance(regex, str) else regex.pattern
        elif isinstance(validator, MinValueValidator):
            schema["minimum"] = validator.limit_value
        elif isinstance(validator, MaxValueValidator):
            schema["maximum"] = validator.limit_value


class _PageSchema:
    """What drf-spectacular asks of a paginator: the body of one page (the envelope with `meta`)."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return page_envelope(schema)


class EnvelopeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus our envelopes, list parameters, error responses and rate-limit headers."""

    def _list_spec(self) -> ListSpec | None:
        """The ListSpec of this operation: the view's `list_specs` under its action (viewsets) or `get`."""
        if self.method != "GET":
            return None
        specs: dict[str, ListSpec] = getattr(self.view, "list_specs", {})
        return specs.get(getattr(self.view, "action", None) or "get")

    _paginated = False

    def _get_paginator(self) -> Any:
        """Pages are built by the views (api.pagination.page_response); a list operation's body is described by _PageSchema."""
        if self._list_spec() is None:
            return None
        self._paginated = True  # seen inside _get_response_for_code: this body is enveloped already
        return _PageSchema()

    def _get_pagination_parameters(self) -> list[dict[str, Any]]:
        spec = self._list_spec()
        return list_parameters(spec) if spec is not None else []

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        spec = self._list_spec()
        if spec is None or spec.filterset is None:
            return []
        filters = DjangoFilterExtension(None)
        model = spec.filterset._meta.model
        params = []
        for name, field in spec.filterset.base_filters.items():
            for param in filters.resolve_filter_field(self, model, spec.filterset, name, field):
                _add_filter_bounds(param["schema"], field)
                param["allowEmptyValue"] = True  # django-filter skips a filter whose value is empty
                params.append(param)
        return params

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        """drf-spectacular's schema of a field, plus the NUL refusal DRF's CharField adds to every string it reads.

        DRF answers a NUL with 422 ("Null characters are not allowed."); the schema says so
        with a pattern, where the field has no pattern or format of its own.
        """
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and any(isinstance(v, ProhibitNullCharactersValidator) for v in getattr(field, "validators", []))
            and schema.get("type") == "string"
            and not schema.keys() & {"pattern", "format", "enum"}
        ):
            schema["pattern"] = NO_NUL
        return schema

    def _anonymous_may_call(self) -> bool:
        """Whether the view's permissions let a caller without credentials through for this method."""
        request = _AnonymousRequest(self.method)
        try:
            return all(permission.has_permission(request, self.view) for permission in self._permissions())  # type: ignore[arg-type]
        except Exception:  # a permission that needs more of a real request: say "login needed"
            return False

    def _permissions(self) -> list[Any]:
        try:
            return list(self.view.get_permissions())
        except Exception:  # a get_permissions() that needs a real request
            return [cls() for cls in getattr(self.view, "permission_classes", [])]

    def get_auth(self) -> list[dict[str, Any]]:
        """drf-spectacular's security requirements, plus `{}` (none) where a guest may call the operation.

        drf-spectacular adds `{}` only for AllowAny and IsAuthenticatedOrReadOnly; ours
        (ReadOnlyOrAdmin, ReadOnlyOrAuthenticated) let guests read too.
        """
        auths: list[dict[str, Any]] = super().get_auth()
        if {} not in auths and self._anonymous_may_call():
            auths.append({})
        return auths

    def _get_response_for_code(
        self, serializer: Any, status_code: str, media_types: Any = None, direction: str = "response"
    ) -> dict[str, Any]:
        self._paginated = False
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        paginated, self._paginated = self._paginated, False
        if direction != "response" or not status_code.startswith("2") or status_code == "204":
            return response
        body = response.get("content", {}).get(JSON)
        if body is not None and not paginated and "schema" in body:
            body["schema"] = success_envelope(body["schema"])
        return response

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses: dict[str, Any] = operation["responses"]
        if getattr(self.view, "api_envelope", True) is False:
            # A protocol of its own under /api/ (Torznab): its view declares its (XML) errors itself.
            for status_code, response in responses.items():
                self._add_headers(status_code, response)
            return operation
        declared = {code for code in responses if code.isdigit() and int(code) >= 400}
        for status in self.error_statuses(operation):
            responses.setdefault(str(status), {})
        for status_code, response in responses.items():
            if status_code.isdigit() and int(status_code) >= 400:
                self._describe_error(int(status_code), response, declared=status_code in declared)
            self._add_headers(status_code, response)
        return operation

    def error_statuses(self, operation: dict[str, Any]) -> list[int]:
        """Which error statuses this operation can answer with (beyond those the view declares)."""
        statuses = [429, 500]
        if "requestBody" in operation:
            statuses += [400, 413, 415, 422]
        elif any(p.get("in") == "query" for p in operation.get("parameters", [])):
            statuses.append(422)
        authenticators = getattr(self.view, "authentication_classes", [])
        permissions = self._permissions()
        # OpenUnlessMembersOnly is AllowAny but for SITE_MEMBERS_ONLY, whose refusal is the 401 listed with the authenticators.
        needs_login = any(not isinstance(p, (AllowAny, OpenUnlessMembersOnly)) for p in permissions)
        if authenticators or needs_login:
            statuses.append(401)
        session = any(getattr(a, "enforce_csrf", None) for a in authenticators)
        if needs_login or (session and self.method in UNSAFE_METHODS):
            statuses.append(403)
        if "{" in self.path:
            statuses.append(404)
        return sorted(set(statuses))

    def _describe_error(self, status: int, response: dict[str, Any], *, declared: bool) -> None:
        codes = codes_for_status(status) or [ErrorCode.SERVER_ERROR.value]
        if status == 401 and not declared:
            # Only the login view answers INVALID_CREDENTIALS, and it says so itself.
            codes.remove(ErrorCode.INVALID_CREDENTIALS.value)
        # Codes only a few operations answer: listed where the operation's own description names them.
        said = response.get("description") or ""
        codes = [code for code in codes if code not in _NAMED_WHERE_SENT or code in said]
        ref = self._error_component().ref
        schema = {"allOf": [ref, {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"enum": codes}}}}}]}
        response["content"] = {JSON: {"schema": schema}}
        description = response.get("description") or ""
        if not description or description == NO_BODY:  # declared as `{404: None}`
            description = _DESCRIPTIONS.get(status, "Error.")
        description = description.rstrip(".")
        response["description"] = f"{description}. Codes: {', '.join(codes)}."

    def _add_headers(self, status_code: str, response: dict[str, Any]) -> None:
        headers = response.setdefault("headers", {})
        for name, description in RATE_LIMIT_HEADERS.items():
            headers[name] = self._header_component(name, description).ref
        if status_code == "429":
            headers["Retry-After"] = self._header_component("Retry-After", RETRY_AFTER).ref

    def _error_component(self) -> ResolvedComponent:
        component = ResolvedComponent(
            name="ErrorEnvelope", type=ResolvedComponent.SCHEMA, schema=_error_envelope_schema(), object="ErrorEnvelope"
        )
        self.registry.register_on_missing(component)
        return component

    def _header_component(self, name: str, description: str) -> ResolvedComponent:
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.HEADER,
            # Required: every /api/ response carries X-RateLimit-* (api.middleware), every 429 Retry-After.
            schema={"description": description, "required": True, "schema": {"type": "integer", "minimum": 0}},
            object=f"header:{name}",
        )
        self.registry.register_on_missing(component)
        return component


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe BearerAuthentication as HTTP bearer (JWT)."""

    target_class = "accounts.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe ApiKeyAuthentication: a personal key in X-Api-Key (or as `Authorization: Bearer tpk_...`)."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "A personal API key (tpk_...), also as `Authorization: Bearer tpk_...`; it does what its scopes allow.",
        }


class QueryApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe QueryApiKeyAuthentication: the key in `?apikey=`, as Torznab clients send it."""

    target_class = "accounts.authentication.QueryApiKeyAuthentication"
    name = "apiKeyQuery"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "query", "name": "apikey", "description": "A personal API key with the `feed` scope."}


class SessionAuthenticationScheme(SessionScheme):
    """Our SessionAuthentication is DRF's session cookie, as drf-spectacular knows it."""

    target_class = "accounts.authentication.SessionAuthentication"
