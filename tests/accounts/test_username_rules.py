"""Registration refuses invisible, control and bidi characters and mixed scripts, and compares names after NFKC."""

import pytest

from accounts.models import User
from accounts.services import user_register
from core.errors import Conflict, Invalid
from tests.factories import UserFactory

PASSWORD = "c0rrect-Horse-battery"


def _register(api_client, username):
    return api_client.post("/api/register", {"username": username, "email": "x@example.test", "password": PASSWORD}, format="json")


REFUSED = [
    ("ad\u202emin", "right-to-left override"),
    ("admin\u200b", "zero-width space"),
    ("ad\u200dmin", "zero-width joiner"),
    ("admin\u2066", "bidi isolate"),
    ("ad\u00admin", "soft hyphen"),
    ("admin\ufeff", "byte order mark"),
    ("ad\u0000min", "NUL"),
    ("ad\u0007min", "bell"),
    ("adm\u0336in", "combining overlay"),
    ("za\u0301\u0301\u0301lgo", "stacked accents"),
    ("ad\u0489min", "enclosing mark"),
    ("\u3164\u3164\u3164", "Hangul filler only"),
    ("user\u3164name", "Hangul filler inside"),
    ("user\uffa0name", "halfwidth Hangul filler"),
    ("\u115fabc", "Hangul choseong filler"),
    ("admin\ufe0f", "variation selector"),
    ("\u0430dmin", "Cyrillic a among Latin"),
    ("p\u0430yp\u0430l", "Cyrillic a twice"),
    ("\u03bfpen", "Greek omicron among Latin"),
    ("user\u0663", "Arabic-Indic digit among Latin"),
    ("\u0661\u0662\u0663", "non-ASCII digits"),
    ("ad min", "space"),
    ("ad\u3000min", "ideographic space"),
    ("\ufdfa", "one character that NFKC makes 18"),
    ("\u02bcab", "modifier letter apostrophe"),
    ("x" * 149 + "\u00bd", "150 characters that NFKC makes 152"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "why"), REFUSED, ids=[why for _, why in REFUSED])
def test_register_refuses_a_deceptive_username_with_422_on_username(api_client, username, why):
    response = _register(api_client, username)
    assert response.status_code == 422, f"{why}: {response.status_code} {response.content[:200]!r}"
    body = response.json()["error"]
    assert body["code"] == "VALIDATION_ERROR"
    assert "username" in body["details"]
    assert User.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "why"), REFUSED, ids=[why for _, why in REFUSED])
def test_the_service_itself_refuses_a_deceptive_username(username, why):
    with pytest.raises(Invalid) as caught:
        user_register(username=username, email="x@example.test", password=PASSWORD)
    assert "username" in caught.value.details, why


COLLIDING = [
    ("\uff41\uff44\uff4d\uff49\uff4e", "fullwidth"),
    ("ADMIN", "another case"),
    ("\uff21\uff24\uff2d\uff29\uff2e", "fullwidth capitals"),
    ("\U0001d41a\U0001d41d\U0001d426\U0001d422\U0001d427", "mathematical bold"),
    ("\u24d0\u24d3\u24dc\u24d8\u24dd", "circled letters"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "why"), COLLIDING, ids=[why for _, why in COLLIDING])
def test_a_look_alike_of_a_taken_name_is_taken(api_client, username, why):
    UserFactory(username="admin")
    response = _register(api_client, username)
    assert response.status_code == 409, f"{why}: {response.status_code} {response.content[:200]!r}"
    assert response.json()["error"]["details"] == {"username": ["This username is taken."]}
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_the_service_compares_names_after_nfkc():
    UserFactory(username="admin")
    with pytest.raises(Conflict):
        user_register(username="\uff41\uff44\uff4d\uff49\uff4e", email="x@example.test", password=PASSWORD)


ACCEPTED = [
    ("plain_name", "plain_name"),
    ("john.doe+tag@example-1", "john.doe+tag@example-1"),
    ("User_42", "User_42"),
    ("a.b", "a.b"),
    ("\uff4a\uff4f\uff48\uff4e\uff0e\uff44\uff4f\uff45", "john.doe"),  # fullwidth, stored as NFKC
    ("\ufb01le", "file"),  # the ligature
    ("\u0414\u043c\u0438\u0442\u0440\u0438\u0439", "\u0414\u043c\u0438\u0442\u0440\u0438\u0439"),  # one script: Cyrillic
    ("\u03b1\u03b8\u03b7\u03bd\u03b1", "\u03b1\u03b8\u03b7\u03bd\u03b1"),  # Greek
    ("\u5c71\u7530\u592a\u90ce", "\u5c71\u7530\u592a\u90ce"),  # Han
    ("\u3084\u307e\u3060\u592a\u90ce", "\u3084\u307e\u3060\u592a\u90ce"),  # Hiragana with Han
    ("tanaka\u592a\u90ce", "tanaka\u592a\u90ce"),  # Latin with Han
    ("Jos\u00e9", "Jos\u00e9"),
    ("Jose\u0301", "Jos\u00e9"),  # a combining accent NFKC composes
    ("\u0645\u062d\u0645\u062f", "\u0645\u062d\u0645\u062f"),  # Arabic
    ("user2024", "user2024"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "stored"), ACCEPTED)
def test_register_keeps_ordinary_names_working(api_client, username, stored):
    response = _register(api_client, username)
    assert response.status_code == 201, response.content
    assert response.json()["data"]["username"] == stored
    assert User.objects.get().username == stored
    login = api_client.post("/api/login", {"username": username, "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content


@pytest.mark.django_db
def test_the_register_page_shows_the_refusal_next_to_the_username(client):
    response = client.post(
        "/register/", {"username": "user\u3164name", "email": "x@example.test", "password": PASSWORD, "password_again": PASSWORD}
    )
    assert response.status_code == 422
    assert response.context["form"].errors.get("username")
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_the_register_page_finds_a_fullwidth_look_alike_taken(client):
    UserFactory(username="admin")
    response = client.post(
        "/register/",
        {"username": "\uff41\uff44\uff4d\uff49\uff4e", "email": "x@example.test", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert response.status_code == 422
    assert "This username is taken." in response.context["form"].errors["username"]
    assert User.objects.count() == 1
