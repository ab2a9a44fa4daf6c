"""Every way a Bearer token can be wrong, on a few representative endpoints: always a clean 401.

Forged tokens are built by hand (PyJWT and HMAC) from a real one: expired,
a flipped signature, a changed payload, `alg: none`, another algorithm with
the same key, another key; and real tokens after they were revoked (logout,
refresh rotation, password change, ban) or used as the other kind. The
answer is the error envelope with TOKEN_INVALID (a token was sent and is no
good) or UNAUTHORIZED (no Bearer token at all), and a plain message.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import user_set_banned
from tests.conftest import login_data
from tests.factories import PASSWORD, TorrentFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "kettle-Orbit-42"


_login = login_data


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload)), signature


def _hmac_signed(header: dict[str, Any], payload: dict[str, Any], key: str, digest: Any = hashlib.sha256) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(hmac.new(key.encode(), signing_input.encode(), digest).digest())}"


# Each makes, from a member's fresh login (and the member), the token to send.
def _expired(tokens: dict[str, Any], user: Any) -> str:
    token = AccessToken(tokens["token"])
    token.set_exp(from_time=token.current_time - timedelta(hours=1), lifetime=timedelta(minutes=1))
    return str(token)  # signed with the real key: only the expiry is wrong


def _tampered_signature(tokens: dict[str, Any], user: Any) -> str:
    header, payload, signature = tokens["token"].split(".")
    raw = bytearray(_unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{_b64(bytes(raw))}"


def _tampered_payload(tokens: dict[str, Any], user: Any) -> str:
    header, payload, signature = tokens["token"].split(".")
    claims = json.loads(_unb64(payload))
    claims["user_id"] = str(UserFactory(role="admin").pk)  # someone else, with the original signature
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _alg_none(tokens: dict[str, Any], user: Any) -> str:
    _, claims, _ = _parts(tokens["token"])
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."


def _hs512_same_key(tokens: dict[str, Any], user: Any) -> str:
    _, claims, _ = _parts(tokens["token"])
    return _hmac_signed({"alg": "HS512", "typ": "JWT"}, claims, settings.SECRET_KEY, hashlib.sha512)


def _rs256_header_hmac_signed(tokens: dict[str, Any], user: Any) -> str:
    """The algorithm-confusion forgery: an RS256 header over an HMAC of the shared secret."""
    _, claims, _ = _parts(tokens["token"])
    return _hmac_signed({"alg": "RS256", "typ": "JWT"}, claims, settings.SECRET_KEY)


def _other_key(tokens: dict[str, Any], user: Any) -> str:
    _, claims, _ = _parts(tokens["token"])
    return jwt.encode(claims, "not-the-servers-key-" + "x" * 40, algorithm="HS256")


def _refresh_as_access(tokens: dict[str, Any], user: Any) -> str:
    return tokens["refresh_token"]


def _after_logout(tokens: dict[str, Any], user: Any) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['token']}")
    assert client.post("/api/logout", {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 204
    return tokens["token"]


def _after_refresh_rotation(tokens: dict[str, Any], user: Any) -> str:
    """The access token minted with a refresh token that has since been exchanged (and so blacklisted)."""
    response = APIClient().post("/api/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 200
    return tokens["token"]


def _after_password_change(tokens: dict[str, Any], user: Any) -> str:
    user.set_password(NEW_PASSWORD)
    user.save()
    return tokens["token"]


def _after_ban(tokens: dict[str, Any], user: Any) -> str:
    user_set_banned(user=user, banned=True)
    return tokens["token"]


def _user_deleted(tokens: dict[str, Any], user: Any) -> str:
    user.delete()
    return tokens["token"]


def _garbage(tokens: dict[str, Any], user: Any) -> str:
    return "not.a.jwt"


BAD_TOKENS: dict[str, Callable[[dict[str, Any], Any], str]] = {
    "expired": _expired,
    "tampered-signature": _tampered_signature,
    "tampered-payload": _tampered_payload,
    "alg-none": _alg_none,
    "hs512-same-key": _hs512_same_key,
    "rs256-header-same-key": _rs256_header_hmac_signed,
    "another-key": _other_key,
    "refresh-as-access": _refresh_as_access,
    "after-logout": _after_logout,
    "after-refresh-rotation": _after_refresh_rotation,
    "after-password-change": _after_password_change,
    "after-ban": _after_ban,
    "user-deleted": _user_deleted,
    "garbage": _garbage,
}

# Representative endpoints: login required, public (a bad token is refused there too), a write, the v1 alias.
ENDPOINTS = [
    ("get", "/api/me"),
    ("get", "/api/torrents"),
    ("get", "/api/torrents/{torrent}"),
    ("post", "/api/torrents/{torrent}/comments"),
    ("get", "/api/v1/bookmarks"),
    ("post", "/api/me/passkey"),
]


def _call(method: str, path: str, authorization: str | None, torrent: Any) -> Any:
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    path = path.format(torrent=torrent.pk)
    return client.post(path, {"text": "hi"}, format="json") if method == "post" else client.get(path)


def assert_clean_401(response: Any, code: str | tuple[str, ...] = "TOKEN_INVALID") -> None:
    assert response.status_code == 401, (response.status_code, response.content[:300])
    body = response.json()
    assert body["success"] is False
    error = body["error"]
    assert error["code"] in ((code,) if isinstance(code, str) else code), error
    message = error["message"]
    assert isinstance(message, str) and message
    # A sentence for people: never a Python repr of simplejwt's detail dict or an ErrorDetail.
    for leak in ("{", "[", "ErrorDetail", "Traceback", "token_class", "b'"):
        assert leak not in message, message
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def torrent(db: Any) -> Any:
    return TorrentFactory()


def test_the_control_token_works(torrent):
    user = UserFactory()
    token = _login(user)["token"]
    for method, path in ENDPOINTS:
        assert _call(method, path, f"Bearer {token}", torrent).status_code in (200, 201), path


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m}:{p}" for m, p in ENDPOINTS])
@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_a_bad_token_is_a_clean_401(kind, method, path, torrent):
    user = UserFactory()
    token = BAD_TOKENS[kind](_login(user), user)
    assert_clean_401(_call(method, path, f"Bearer {token}", torrent))


def test_an_access_token_is_not_a_refresh_token():
    tokens = _login(UserFactory())
    response = APIClient().post("/api/token/refresh", {"refresh_token": tokens["token"]}, format="json")
    assert_clean_401(response)


@pytest.mark.parametrize("kind", ["expired", "tampered-signature", "alg-none", "another-key", "hs512-same-key"])
def test_a_forged_refresh_token_is_refused(kind):
    """The same forgeries made of a refresh token, sent to /api/token/refresh."""
    user = UserFactory()
    tokens = _login(user)
    as_refresh = {"token": tokens["refresh_token"], "refresh_token": tokens["refresh_token"]}
    forged = BAD_TOKENS[kind](as_refresh, user) if kind != "expired" else _expired_refresh(tokens["refresh_token"])
    response = APIClient().post("/api/token/refresh", {"refresh_token": forged}, format="json")
    assert_clean_401(response)


def _expired_refresh(raw: str) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken(raw)
    token.set_exp(from_time=token.current_time - timedelta(days=30), lifetime=timedelta(minutes=1))
    return str(token)


@pytest.mark.parametrize("how", ["ban", "password-change"])
def test_revocation_ends_access_refresh_and_other_sessions_at_once(how):
    user = UserFactory()
    tokens = _login(user)
    elsewhere = Client()
    elsewhere.force_login(user)
    assert elsewhere.get("/profile/").status_code == 200
    if how == "ban":
        user_set_banned(user=user, banned=True)
    else:
        user.set_password(NEW_PASSWORD)
        user.save()
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['token']}")
    assert_clean_401(me.get("/api/me"))
    assert_clean_401(APIClient().post("/api/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"))
    response = elsewhere.get("/profile/")  # the other browser's session is over
    assert response.status_code == 302 and response.url.startswith("/login/")
    # ... and on the API that session is no login at all
    assert elsewhere.get("/api/me").status_code == 401


def test_a_password_change_on_the_page_keeps_this_session_and_ends_the_rest():
    user = UserFactory()
    tokens = _login(user)
    this, other = Client(), Client()
    this.force_login(user)
    other.force_login(user)
    response = this.post("/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert this.get("/profile/").status_code == 200
    assert other.get("/profile/").status_code == 302
    assert_clean_401(APIClient().post("/api/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"))


# Authorization headers that are no Bearer token. WSGI and ASGI hand header bytes to Django as latin-1,
# so "non-ASCII bytes" arrive as latin-1 characters: that is how they are sent here.
MALFORMED = {
    "bearer-alone": ("Bearer", "TOKEN_INVALID"),
    "bearer-two-values": ("Bearer a b", "TOKEN_INVALID"),
    "bearer-empty-value": ("Bearer ", "TOKEN_INVALID"),
    "basic": ("Basic dXNlcjpwYXNz", "UNAUTHORIZED"),
    "lowercase-bearer": ("bearer abc.def.ghi", "UNAUTHORIZED"),
    "non-ascii-bytes": ("Bearer " + "\xff\xfe\xe4\xb8\xad.\x00\x01.\x80", "TOKEN_INVALID"),
    "utf8-token": ("Bearer " + "ünïcødé".encode().decode("latin-1"), "TOKEN_INVALID"),
    "very-long": ("Bearer " + "a" * 20_000, "TOKEN_INVALID"),
    "very-long-jwt-shaped": ("Bearer " + ".".join(["e" * 7000] * 3), "TOKEN_INVALID"),
    "nul-in-token": ("Bearer abc\x00def", "TOKEN_INVALID"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_authorization_header_is_a_clean_401(name, torrent):
    header, code = MALFORMED[name]
    response = _call("get", "/api/me", header, torrent)
    assert_clean_401(response, code)


@pytest.mark.parametrize("name", [n for n, (_, code) in MALFORMED.items() if code == "TOKEN_INVALID"])
def test_a_malformed_bearer_token_is_refused_on_public_endpoints_too(name, torrent):
    header, code = MALFORMED[name]
    assert_clean_401(_call("get", "/api/torrents", header, torrent), code)
