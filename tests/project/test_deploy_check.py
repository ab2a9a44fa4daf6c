"""`manage.py check --deploy` passes with the production settings the README lists (issue 11)."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

BASE_DIR = Path(__file__).resolve().parents[2]


def _readme_production_env() -> dict[str, str]:
    block = re.search(r"```sh\n# production environment\n(.*?)```", (BASE_DIR / "README.md").read_text(), re.S)
    assert block, "the README's production environment block is missing"
    env = {}
    for line in block.group(1).splitlines():
        name, _, value = line.partition("=")
        env[name] = secrets.token_urlsafe(50) if value.startswith("<") else value
    return env


def test_the_readme_lists_the_production_settings():
    env = _readme_production_env()
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DATABASE_URL"} <= env.keys()


def test_check_deploy_is_clean_with_the_readme_production_settings():
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "torrentpier.settings", **_readme_production_env()}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout


@pytest.mark.django_db
def test_announce_and_scrape_are_not_redirected_to_https(settings):
    """A BitTorrent client does not follow a redirect: the tracker answers over plain HTTP too."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/api/hello").status_code == 301
    for path in ("/announce/" + "0" * 32, "/scrape", "/bt/announce.php"):
        assert client.get(path).status_code == 200, path
