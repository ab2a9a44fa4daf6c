"""Load demo data: an admin, a few forums and torrents. Safe to run again."""

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from fastbencode import bencode

from accounts.models import Role, User
from core.errors import Conflict
from tracker.catalogue.services import torrent_register
from tracker.models import Category, Forum

PASSWORD_FILE = Path(settings.BASE_DIR) / ".demo-admin-password"

CATALOGUE = {
    "Operating systems": ["Linux distributions", "BSD"],
    "Media": ["Public-domain films", "Creative Commons music"],
}

DEMO_TORRENTS = [
    ("Linux distributions", "debian-13.0.0-amd64-netinst.iso", [("debian-13.0.0-amd64-netinst.iso", 754_974_720)]),
    ("Linux distributions", "archlinux-2026.11.01-x86_64", [("archlinux-2026.11.01-x86_64.iso", 1_205_862_400), ("sha256sums.txt", 113)]),
    ("BSD", "FreeBSD-15.0-RELEASE-amd64-disc1.iso", [("FreeBSD-15.0-RELEASE-amd64-disc1.iso", 1_100_000_000)]),
    (
        "Public-domain films",
        "Night of the Living Dead (1968)",
        [("Night.of.the.Living.Dead.1968.mkv", 1_400_000_000), ("poster.jpg", 245_000)],
    ),
    ("Creative Commons music", "Jamendo sampler 2026", [("01 - Opening.flac", 31_000_000), ("02 - Second.flac", 28_500_000)]),
]


def _demo_metainfo(name: str, files: list[tuple[str, int]]) -> tuple[bytes, bytes]:
    """A syntactically real v1 .torrent (piece hashes derived, not of real data)."""
    piece_length = 4 * 1024 * 1024
    total = sum(size for _, size in files)
    pieces = b"".join(hashlib.sha1(f"{name}:{i}".encode()).digest() for i in range((total + piece_length - 1) // piece_length))
    info: dict[bytes, Any] = {b"name": name.encode(), b"piece length": piece_length, b"pieces": pieces, b"private": 1}
    if len(files) == 1 and files[0][0] == name:
        info[b"length"] = files[0][1]
    else:
        info[b"files"] = [{b"length": size, b"path": [path.encode()]} for path, size in files]
    meta = {b"announce": f"{settings.TRACKER_ANNOUNCE_URL}/announce".encode(), b"info": info}
    return bencode(meta), hashlib.sha1(bencode(info)).digest()


class Command(BaseCommand):
    help = "Create demo data (an admin account, forums, torrents); running it again changes nothing."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = User.objects.create_superuser("admin", "admin@example.invalid", password, role=Role.ADMIN)
            PASSWORD_FILE.write_text(password + "\n")
        remembered = PASSWORD_FILE.read_text().strip() if PASSWORD_FILE.exists() else None
        if remembered and admin.check_password(remembered):
            password = remembered
        else:
            # changed since (or made elsewhere): the file no longer says the password
            PASSWORD_FILE.unlink(missing_ok=True)
            password = "(changed since it was created; set it with: python manage.py changepassword admin)"

        forums: dict[str, Forum] = {}
        for order, (category_name, forum_names) in enumerate(CATALOGUE.items()):
            category, _ = Category.objects.get_or_create(name=category_name, defaults={"order": order})
            for forum_order, forum_name in enumerate(forum_names):
                forums[forum_name], _ = Forum.objects.get_or_create(
                    category=category, name=forum_name, defaults={"order": forum_order, "description": f"{forum_name} (demo)"}
                )

        for forum_name, name, files in DEMO_TORRENTS:
            metainfo, _ = _demo_metainfo(name, files)
            try:
                torrent_register(uploader=admin, forum=forums[forum_name], metainfo_bytes=metainfo, description=f"Demo torrent: {name}.")
            except Conflict:
                continue  # registered by an earlier run

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Admin login: admin / {password}")
        # `make run` passes HOST and PORT on to runserver; say the same address here.
        site = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        self.stdout.write(f"  Site: {site}/   API: {site}/api/   Docs: {site}/api/docs   Admin: {site}/admin/")
        self.stdout.write(
            "  Not scheduled here: the jobs expire_peers, tracker_hnr, tracker_bonus and tracker_standing "
            "(run them with manage.py, or from cron as the README's 'Jobs' says)."
        )
