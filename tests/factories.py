"""factory-boy factories for the suite."""

import hashlib
from typing import Any

import factory
from django.utils import timezone
from fastbencode import bencode

from accounts.models import User
from tracker.models import Category, Forum, Torrent, TorrentStats

PASSWORD = "pass-Word-1234"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    email_confirmed_at = factory.LazyFunction(timezone.now)  # members of the suite have confirmed unless a test says not
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


class ForumFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Forum

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Forum {n}")


def make_metainfo(name: str, length: int = 1000, piece_length: int = 16384, private: int = 1) -> tuple[bytes, str]:
    """A minimal valid single-file v1 .torrent and its hex info hash."""
    pieces = b"".join(hashlib.sha1(f"{name}{i}".encode()).digest() for i in range(max(1, -(-length // piece_length))))
    info = {b"length": length, b"name": name.encode(), b"piece length": piece_length, b"pieces": pieces, b"private": private}
    return bencode({b"announce": b"http://127.0.0.1/announce", b"info": info}), hashlib.sha1(bencode(info)).hexdigest()


class TorrentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Torrent

    forum = factory.SubFactory(ForumFactory)
    uploader = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"torrent-{n}")
    size = 1000
    piece_length = 16384
    file_count = 1
    metainfo = factory.LazyAttribute(lambda o: make_metainfo(o.name, o.size)[0])
    info_hash = factory.LazyAttribute(lambda o: make_metainfo(o.name, o.size)[1])

    @classmethod
    def _create(cls, model_class: type[Torrent], *args: Any, **kwargs: Any) -> Torrent:
        """seeders=, leechers=, completed= set the torrent's TorrentStats row (created by Torrent.save)."""
        counts = {name: kwargs.pop(name) for name in ("seeders", "leechers", "completed") if name in kwargs}
        torrent = super()._create(model_class, *args, **kwargs)
        if counts:
            TorrentStats.objects.filter(torrent=torrent).update(**counts)
            torrent.stats.refresh_from_db()
        return torrent


def make_hybrid_hashes(name: str) -> tuple[str, str]:
    """A (v1 SHA-1 hex, v2 SHA-256 hex) pair for a hybrid torrent in tests that need no real metainfo."""
    return hashlib.sha1(f"v1:{name}".encode()).hexdigest(), hashlib.sha256(f"v2:{name}".encode()).hexdigest()
