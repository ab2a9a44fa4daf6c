"""Email confirmation and a forgotten password in headless Chromium, under the strict CSP: register, follow the mailed
link, confirm with the button; then forget the password, follow the reset link, set a new one, log in with it."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.accounts.email_helpers import LINK
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _mailed_path(kind: str) -> str:
    """The path of the last mail's link of `kind` (the live server shares this process, and so Django's test outbox)."""
    links = [link for link in LINK.finditer(mail.outbox[-1].body) if link["kind"] == kind]
    assert len(links) == 1, mail.outbox[-1].body
    return links[0]["path"]


def test_a_member_confirms_the_address_then_resets_a_forgotten_password(live_server, page, problems):
    page.goto(f"{live_server.url}/register/")
    page.get_by_label("Username").fill("quinn")
    page.get_by_label("Email").fill("quinn@example.test")
    page.get_by_label("Password", exact=True).fill("kettle-Orbit-42")
    page.get_by_label("Password again").fill("kettle-Orbit-42")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{live_server.url}/profile/")
    notice = page.get_by_role("link", name="Confirm your email address to download and upload")
    expect(notice).to_be_visible()
    expect(page.get_by_text("not confirmed")).to_be_visible()
    screenshot(page, "email-unconfirmed-profile")

    page.goto(f"{live_server.url}{_mailed_path('email/confirm')}")
    expect(page.get_by_text("quinn@example.test")).to_be_visible()
    screenshot(page, "email-confirm")
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_url(f"{live_server.url}/profile/")
    expect(page.get_by_text("Your email address is confirmed.")).to_be_visible()
    expect(notice).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("quinn@example.test")
    screenshot(page, "password-reset-request")
    page.get_by_role("button", name="Mail me a link").click()
    page.wait_for_url(f"{live_server.url}/password/reset/sent/")
    expect(page.get_by_text("If an account has this address")).to_be_visible()

    page.goto(f"{live_server.url}{_mailed_path('password/reset')}")
    page.get_by_label("New password", exact=True).fill("lantern-Quiver-77")
    page.get_by_label("New password again").fill("lantern-Quiver-77")
    screenshot(page, "password-reset-set")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url(f"{live_server.url}/password/reset/done/")
    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Username").fill("quinn")
    page.get_by_label("Password").fill("lantern-Quiver-77")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="quinn")).to_be_visible()
    assert problems.errors == []


def test_the_mail_pages_fit_a_phone(live_server, phone, problems):
    for path, name in [("/password/reset/", "phone-password-reset"), ("/email/confirm/MQ/bad-link/", "phone-email-confirm-invalid")]:
        phone.goto(f"{live_server.url}{path}")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(phone, name)
    assert problems.errors == []
