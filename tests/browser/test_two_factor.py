"""Two-factor login in headless Chromium: a member sets it up from the page, saves the recovery codes, and logs in with a code.

The test is the member's phone: it reads the secret off the set-up page and
computes the codes from it (pyotp), as an authenticator app would. The
set-up asks for the password before it shows any secret.
"""

import pytest
from playwright.sync_api import expect

from accounts.models import TwoFactorDevice
from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, UserFactory
from tests.twofactor import totp, wait_for_fresh_step

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in_with_password(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/?next=/profile/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_member_sets_up_two_factor_login_and_logs_in_with_a_code(live_server, page, problems):
    member = UserFactory(username="erin")
    wait_for_fresh_step(margin=20)  # the set-up and the first login each use a step's code

    _log_in_with_password(page, live_server, "erin")
    page.wait_for_url(f"{live_server.url}/profile/")
    page.get_by_role("link", name="Set up two-factor login").click()
    page.wait_for_url(f"{live_server.url}/profile/2fa/")
    expect(page.locator("img.qr")).to_have_count(0)  # no secret before the password
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Set up two-factor login").click()
    expect(page.get_by_text("Your password is wrong.")).to_be_visible()
    expect(page.locator("img.qr")).to_have_count(0)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-factor login").click()
    page.wait_for_url(f"{live_server.url}/profile/2fa/setup/")
    qr = page.get_by_role("img", name="QR code of the two-factor secret")
    expect(qr).to_be_visible()
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 100  # the data: URI drew a picture
    secret = page.locator("#two-factor-secret").inner_text().strip()
    assert secret == TwoFactorDevice.objects.get(user=member).secret
    screenshot(page, "two-factor-setup")

    page.get_by_label("Code from the app").fill("000000" if totp(secret) != "000000" else "111111")
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.get_by_text("This code is wrong, expired or used already.")).to_be_visible()
    page.get_by_label("Code from the app").fill(totp(secret))
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.get_by_role("heading", name="Two-factor login is on")).to_be_visible()
    codes = [code.strip() for code in page.locator(".recovery-codes code").all_inner_texts()]
    assert len(codes) == 10
    screenshot(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_text("recovery codes left")).to_be_visible()
    screenshot(page, "two-factor-on")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    _log_in_with_password(page, live_server, "erin")
    page.wait_for_url(f"{live_server.url}/login/2fa/")
    expect(page.get_by_role("heading", name="Two-factor login")).to_be_visible()
    page.goto(f"{live_server.url}/profile/")  # the password alone opened nothing
    page.wait_for_url(f"{live_server.url}/login/?next=/profile/")
    _log_in_with_password(page, live_server, "erin")
    page.wait_for_url(f"{live_server.url}/login/2fa/")
    screenshot(page, "two-factor-login")
    page.get_by_label("Code").fill(totp(secret, 1))  # the next step's: the set-up spent this one
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/profile/")
    expect(page.get_by_role("link", name="erin")).to_be_visible()

    # Phone lost: a saved recovery code stands in for the app, once.
    page.get_by_role("button", name="Log out").click()
    _log_in_with_password(page, live_server, "erin")
    page.wait_for_url(f"{live_server.url}/login/2fa/")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/profile/")
    expect(page.get_by_role("link", name="erin")).to_be_visible()
    assert problems.errors == []


def test_an_enrolled_operator_logs_in_to_the_admin_with_a_code(live_server, page, problems):
    from tests.twofactor import enrol

    root = UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)
    secret, _ = enrol(root)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Enter a right two-factor code")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Two-factor code").fill(totp(secret))
    screenshot(page, "admin-login-two-factor", full_page=False)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    assert problems.errors == []
