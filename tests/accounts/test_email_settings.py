"""Where mail goes: EMAIL_URL or the EMAIL_* variables (torrentpier.mailconf) into Django's MAILERS; SITE_URL, DEFAULT_FROM_EMAIL.

A bad value stops the process at start, naming the variable and never the password.
"""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.project.test_settings import BASE_DIR, _start
from torrentpier.mailconf import CONSOLE_BACKEND, SMTP_BACKEND, MailConfig, email_url_parse, from_address, mail_config, site_url

SECRET = "hunter2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("console:", MailConfig()),
        ("console://", MailConfig()),
        ("smtp://mail.example.org", MailConfig(backend=SMTP_BACKEND, host="mail.example.org", port=25)),
        (
            "smtp://tracker:hunter2@mail.example.org:587?tls=1",
            MailConfig(backend=SMTP_BACKEND, host="mail.example.org", port=587, user="tracker", password=SECRET, use_tls=True),
        ),
        ("smtp://mail.example.org?tls=1", MailConfig(backend=SMTP_BACKEND, host="mail.example.org", port=587, use_tls=True)),
        ("smtps://mail.example.org", MailConfig(backend=SMTP_BACKEND, host="mail.example.org", port=465, use_ssl=True)),
        ("smtp://mail.example.org:2525?ssl=1", MailConfig(backend=SMTP_BACKEND, host="mail.example.org", port=2525, use_ssl=True)),
        (
            "smtps://me%40example.org:p%3Ass%2Fw@[2001:db8::1]:465?timeout=3",
            MailConfig(
                backend=SMTP_BACKEND, host="2001:db8::1", port=465, user="me@example.org", password="p:ss/w", use_ssl=True, timeout=3
            ),
        ),
        ("SMTP://Mail.Example.org/", MailConfig(backend=SMTP_BACKEND, host="mail.example.org", port=25)),
    ],
)
def test_email_urls_are_read(url, expected):
    assert email_url_parse(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://tracker:hunter2@mail.example.org",
        "tracker:hunter2@mail.example.org",
        "smtp://tracker:hunter2@",
        "smtp://tracker:hunter2@mail.example.org:99999",
        "smtp://tracker:hunter2@mail.example.org:0",
        "smtp://tracker:hunter2@mail.example.org:port",
        "smtp://tracker:hunter2@mail.example.org/inbox",
        "smtp://tracker:hunter2@mail.example.org?tls=1&ssl=1",
        "smtps://tracker:hunter2@mail.example.org?tls=1",
        "smtp://tracker:hunter2@mail.example.org?tls=maybe",
        "smtp://tracker:hunter2@mail.example.org?starttls=1",
        "smtp://tracker:hunter2@mail.example.org?timeout=0",
        "smtp://tracker:hunter2@mail.example.org?timeout=soon",
        "smtp://tracker:hunter2@mail.example.org?&&",
        "console:hunter2",
        "",
    ],
)
def test_a_bad_email_url_is_refused_naming_the_variable_not_the_password(url):
    with pytest.raises(ImproperlyConfigured) as caught:
        email_url_parse(url)
    assert str(caught.value).startswith("EMAIL_URL ")
    assert SECRET not in str(caught.value)


def test_without_any_variable_mail_goes_to_the_console(monkeypatch):
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL"):
        monkeypatch.delenv(name, raising=False)
    config = mail_config()
    assert config.backend == CONSOLE_BACKEND
    assert config.mailer() == {"BACKEND": CONSOLE_BACKEND}


def test_the_email_variables_say_the_same_as_a_url(monkeypatch):
    monkeypatch.delenv("EMAIL_URL", raising=False)
    monkeypatch.setenv("EMAIL_HOST", "mail.example.org")
    monkeypatch.setenv("EMAIL_HOST_USER", "tracker")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", SECRET)
    monkeypatch.setenv("EMAIL_USE_TLS", "1")
    monkeypatch.setenv("EMAIL_TIMEOUT", "4")
    assert mail_config() == email_url_parse(f"smtp://tracker:{SECRET}@mail.example.org:587?tls=1&timeout=4")
    assert mail_config().mailer() == {
        "BACKEND": SMTP_BACKEND,
        "OPTIONS": {
            "host": "mail.example.org",
            "port": 587,
            "use_tls": True,
            "use_ssl": False,
            "timeout": 4,
            "username": "tracker",
            "password": SECRET,
        },
    }


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"EMAIL_URL": "smtp://mail.example.org", "EMAIL_HOST": "other.example.org"}, "EMAIL_URL"),
        ({"EMAIL_HOST_PASSWORD": SECRET}, "EMAIL_HOST"),
        ({"EMAIL_HOST": "mail.example.org", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "EMAIL_USE_TLS"),
        ({"EMAIL_HOST": "mail.example.org", "EMAIL_PORT": "smtp"}, "EMAIL_PORT"),
        ({"EMAIL_HOST": "mail.example.org", "EMAIL_USE_TLS": "sometimes"}, "EMAIL_USE_TLS"),
        ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT"),
    ],
)
def test_contradicting_email_variables_are_refused(monkeypatch, env, variable):
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as caught:
        mail_config()
    assert variable in str(caught.value)
    assert SECRET not in str(caught.value)


def test_site_urls_and_senders_are_checked():
    assert site_url("SITE_URL", "https://tracker.example.org/") == "https://tracker.example.org"
    assert site_url("SITE_URL", "http://[::1]:8000/tp") == "http://[::1]:8000/tp"
    for bad in ("tracker.example.org", "ftp://tracker.example.org", "https://", "https://a:b@tracker.example.org", "https://x.org/?a=1"):
        with pytest.raises(ImproperlyConfigured, match="SITE_URL"):
            site_url("SITE_URL", bad)
    assert from_address("DEFAULT_FROM_EMAIL", "TorrentPier <noreply@example.org>") == "TorrentPier <noreply@example.org>"
    for bad in ("noreply", "TorrentPier", "no reply@example.org", "@example.org"):
        with pytest.raises(ImproperlyConfigured, match="DEFAULT_FROM_EMAIL"):
            from_address("DEFAULT_FROM_EMAIL", bad)


def _settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    """The mail settings of a fresh process started with exactly `env` (plus what Python needs)."""
    code = "import django; django.setup(); from django.conf import settings as s; print(s.MAILERS, s.SITE_URL, s.DEFAULT_FROM_EMAIL)"
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "torrentpier.settings"}
    return subprocess.run([sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, timeout=60, cwd=BASE_DIR)


def test_the_settings_put_the_url_into_mailers_and_default_to_the_console():
    smtp = _settings_of(SECRET_KEY="s", EMAIL_URL="smtp://mail.example.org?tls=1", TRACKER_ANNOUNCE_URL="https://t.example.org/")
    assert smtp.returncode == 0, smtp.stderr
    assert "'host': 'mail.example.org'" in smtp.stdout
    assert "https://t.example.org TorrentPier <noreply@localhost>" in smtp.stdout  # SITE_URL follows the announce URL
    console = _settings_of(SECRET_KEY="s", SITE_URL="https://www.example.org", DEFAULT_FROM_EMAIL="tp@example.org")
    assert console.returncode == 0, console.stderr
    assert console.stdout.strip() == f"{{'default': {{'BACKEND': '{CONSOLE_BACKEND}'}}}} https://www.example.org tp@example.org"
    assert "deprecated" not in console.stderr + smtp.stderr  # Django 6.1's MAILERS, none of its deprecated EMAIL_* settings


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"EMAIL_URL": f"smtp://tracker:{SECRET}@mail.example.org?tls=2"}, "EMAIL_URL"),
        ({"EMAIL_URL": f"imap://tracker:{SECRET}@mail.example.org"}, "EMAIL_URL"),
        ({"EMAIL_URL": "smtp://mail.example.org", "EMAIL_HOST_PASSWORD": SECRET}, "EMAIL_URL"),
        ({"SITE_URL": "tracker.example.org"}, "SITE_URL"),
        ({"DEFAULT_FROM_EMAIL": "nobody"}, "DEFAULT_FROM_EMAIL"),
        ({"EMAIL_CONFIRMATION_REQUIRED": "perhaps"}, "EMAIL_CONFIRMATION_REQUIRED"),
        ({"EMAIL_CONFIRMATION_TIMEOUT": "10"}, "EMAIL_CONFIRMATION_TIMEOUT"),
        ({"PASSWORD_RESET_TIMEOUT": "soon"}, "PASSWORD_RESET_TIMEOUT"),
        ({"EMAIL_SEND_LIMIT": "0"}, "EMAIL_SEND_LIMIT"),
        ({"EMAIL_LINK_ATTEMPT_LIMIT": "many"}, "EMAIL_LINK_ATTEMPT_LIMIT"),
    ],
)
def test_a_bad_mail_setting_stops_the_process_naming_the_variable(env, variable):
    result = _start(SECRET_KEY="s", **env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert variable in last_line
    assert SECRET not in result.stderr
