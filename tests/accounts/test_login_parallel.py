"""The failed-login lock-out holds when the guesses come in parallel.

Each attempt is counted before its password is checked, so a burst of
simultaneous guesses gets at most LOGIN_FAILURE_LIMIT password checks per
username (and per IP); the others are refused without one. The API login,
the login page and the admin's login share the count.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connections
from django.test import Client

from tests.factories import PASSWORD, UserFactory

PARALLEL = 20
LIMIT = 5


class PasswordCheckSpy:
    """Counts ModelBackend.authenticate calls (each is one password hash) and makes each slow, like PBKDF2."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        real = ModelBackend.authenticate

        def authenticate(backend: Any, request: Any, username: Any = None, password: Any = None, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
            time.sleep(0.3)
            return real(backend, request, username=username, password=password, **kwargs)

        monkeypatch.setattr(ModelBackend, "authenticate", authenticate)


def _in_parallel(attempt: Any, n: int = PARALLEL) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return attempt(i)
        finally:
            connections.close_all()  # this thread's connections (PostgreSQL would keep the test database busy)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


FRONTS = {
    # front: (url, status of a checked wrong password, status of a refused attempt)
    "api": ("/api/login", 401, 429),
    "page": ("/login/", 422, 429),
    "admin": ("/admin/login/", 200, 200),
}


def _refused(front: str, response: Any) -> bool:
    if front == "api":
        return response.status_code == 429 and response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    return "Too many failed logins" in response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("front", list(FRONTS))
def test_parallel_guesses_for_one_username_get_at_most_the_limit_of_password_checks(front, monkeypatch):
    victim = UserFactory(is_staff=True)
    spy = PasswordCheckSpy(monkeypatch)
    url, checked_status, refused_status = FRONTS[front]

    def guess(i: int) -> Any:
        # every guess from another address: only the per-username count can stop them
        return Client(REMOTE_ADDR=f"203.0.113.{i + 1}").post(url, {"username": victim.username, "password": f"guess-{i}"})

    responses = _in_parallel(guess)
    assert spy.calls <= LIMIT, f"{spy.calls} password checks for {PARALLEL} parallel guesses (limit {LIMIT})"
    refused = [r for r in responses if _refused(front, r)]
    assert len(refused) == PARALLEL - spy.calls
    assert all(r.status_code == refused_status for r in refused)
    assert all(r.status_code == checked_status for r in responses if not _refused(front, r))
    # the right password is refused too now, without a check
    late = Client(REMOTE_ADDR="203.0.113.200").post(url, {"username": victim.username, "password": PASSWORD})
    assert _refused(front, late)
    assert spy.calls <= LIMIT


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_from_one_address_get_at_most_the_limit_of_password_checks(monkeypatch):
    UserFactory()
    spy = PasswordCheckSpy(monkeypatch)

    def guess(i: int) -> Any:
        return Client(REMOTE_ADDR="198.51.100.77").post("/api/login", {"username": f"someone{i}", "password": "x"})

    responses = _in_parallel(guess)
    assert spy.calls <= LIMIT, f"{spy.calls} password checks for {PARALLEL} parallel guesses from one IP (limit {LIMIT})"
    assert sorted(r.status_code for r in responses) == [401] * spy.calls + [429] * (PARALLEL - spy.calls)


@pytest.mark.django_db
def test_the_right_password_within_the_allowed_attempts_logs_in_and_is_not_a_failure(api_client):
    user = UserFactory()
    for _ in range(LIMIT - 1):
        assert api_client.post("/api/login", {"username": user.username, "password": "wrong"}, format="json").status_code == 401
    assert api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json").status_code == 200
    # the success used no failure: one more wrong guess is still checked (401), and only then the lock-out starts
    assert api_client.post("/api/login", {"username": user.username, "password": "wrong"}, format="json").status_code == 401
    assert api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json").status_code == 429


@pytest.mark.django_db
def test_many_successful_logins_from_one_address_never_lock_it_out(api_client):
    user = UserFactory()
    for _ in range(3 * LIMIT):
        assert api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_fullwidth_spelling_of_the_username_shares_its_count(api_client):
    # the API login compares usernames in NFKC, as the page does: the fullwidth spelling is the same account
    UserFactory(username="victim")
    fullwidth = "\uff56\uff49\uff43\uff54\uff49\uff4d"
    assert api_client.post("/api/login", {"username": fullwidth, "password": PASSWORD}, format="json").status_code == 200
    for n in range(LIMIT):
        api_client.post("/api/login", {"username": "victim", "password": "wrong"}, format="json", REMOTE_ADDR=f"192.0.2.{n + 1}")
    locked = api_client.post("/api/login", {"username": fullwidth, "password": PASSWORD}, format="json", REMOTE_ADDR="192.0.2.99")
    assert locked.status_code == 429
