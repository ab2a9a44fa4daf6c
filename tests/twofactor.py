"""Two-factor login in tests: codes computed from a member's secret, as their authenticator app would."""

import time
from typing import Any

import pyotp

from accounts.twofactor import TOTP_INTERVAL, two_factor_enrol_confirm, two_factor_enrol_start
from tests.factories import PASSWORD


def totp(secret: str, steps: int = 0) -> str:
    """The code the app shows now (or `steps` 30-second steps from now) for `secret`."""
    return pyotp.TOTP(secret).at(time.time() + steps * TOTP_INTERVAL)


def wait_for_fresh_step(margin: float = 6) -> None:
    """Sleep past the next step boundary if it is less than `margin` seconds away.

    A test computes a code and sends it a moment later; a boundary in between
    would shift it by a step, and a code of the step before the previous one
    is no longer accepted.
    """
    left = TOTP_INTERVAL - time.time() % TOTP_INTERVAL
    if left < margin:
        time.sleep(left + 0.05)


def enrol(user: Any, password: str = PASSWORD) -> tuple[str, list[str]]:
    """Turn on two-factor login for `user` through the services, as the set-up does: (secret, recovery codes).

    The confirming code is the previous step's (still accepted), so that the
    current step's and the next one's are left for the test to use.
    """
    wait_for_fresh_step()
    secret = two_factor_enrol_start(request=None, user=user, password=password).secret
    codes = two_factor_enrol_confirm(user=user, code=totp(secret, -1))
    return secret, codes
