"""`manage.py seed_demo`, which `make run` calls every time."""

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from tracker.models import Category, Forum, Torrent, TorrentFile


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_creates_an_admin_forums_and_torrents_and_prints_the_login(tmp_path, monkeypatch):
    monkeypatch.setattr("tracker.management.commands.seed_demo.PASSWORD_FILE", tmp_path / "pw")
    output = _seed()
    password = (tmp_path / "pw").read_text().strip()
    assert f"admin / {password}" in output
    admin = User.objects.get(username="admin")
    assert admin.is_admin and admin.check_password(password)
    assert Forum.objects.count() >= 3
    assert Torrent.objects.count() >= 5
    # registered through the real upload path: files listed and searchable
    assert all(t.files_text for t in Torrent.objects.all())
    assert TorrentFile.objects.count() >= Torrent.objects.count()


@pytest.mark.django_db
def test_running_it_again_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("tracker.management.commands.seed_demo.PASSWORD_FILE", tmp_path / "pw")
    _seed()
    counts = (User.objects.count(), Category.objects.count(), Forum.objects.count(), Torrent.objects.count(), TorrentFile.objects.count())
    second = _seed()
    assert (
        User.objects.count(),
        Category.objects.count(),
        Forum.objects.count(),
        Torrent.objects.count(),
        TorrentFile.objects.count(),
    ) == counts
    assert (tmp_path / "pw").read_text().strip() in second


@pytest.mark.django_db
def test_a_changed_admin_password_is_not_printed(tmp_path, monkeypatch):
    monkeypatch.setattr("tracker.management.commands.seed_demo.PASSWORD_FILE", tmp_path / "pw")
    _seed()
    original = (tmp_path / "pw").read_text().strip()
    admin = User.objects.get(username="admin")
    admin.set_password("Another-secret-9876")
    admin.save()
    output = _seed()
    assert original not in output
    assert "admin / (changed since it was created" in output
    assert not (tmp_path / "pw").exists()
