"""The catalogue's tables: categories, forums, torrents with their files and counts, comments, bookmarks."""

from django.conf import settings
from django.db import models
from django.urls import reverse


class AccessLevel(models.IntegerChoices):
    """Who may do a thing in a forum; a level admits itself and everything above."""

    GUEST = 0, "Guest"
    USER = 1, "User"
    MODERATOR = 2, "Moderator"
    ADMIN = 3, "Admin"


class Category(models.Model):
    """A group of forums, shown as one heading."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class NewznabCategory(models.IntegerChoices):
    """The standard Newznab categories Torznab clients (Prowlarr, Jackett, Sonarr, Radarr) filter on."""

    CONSOLE = 1000, "Console"
    MOVIES = 2000, "Movies"
    MOVIES_SD = 2030, "Movies/SD"
    MOVIES_HD = 2040, "Movies/HD"
    MOVIES_UHD = 2045, "Movies/UHD"
    MOVIES_BLURAY = 2050, "Movies/BluRay"
    MOVIES_3D = 2060, "Movies/3D"
    AUDIO = 3000, "Audio"
    AUDIO_MP3 = 3010, "Audio/MP3"
    AUDIO_LOSSLESS = 3040, "Audio/Lossless"
    AUDIO_AUDIOBOOK = 3030, "Audio/Audiobook"
    PC = 4000, "PC"
    PC_GAMES = 4050, "PC/Games"
    TV = 5000, "TV"
    TV_SD = 5030, "TV/SD"
    TV_HD = 5040, "TV/HD"
    TV_UHD = 5045, "TV/UHD"
    TV_ANIME = 5070, "TV/Anime"
    TV_DOCUMENTARY = 5080, "TV/Documentary"
    XXX = 6000, "XXX"
    BOOKS = 7000, "Books"
    BOOKS_EBOOK = 7020, "Books/EBook"
    BOOKS_COMICS = 7030, "Books/Comics"
    OTHER = 8000, "Other"


class Forum(models.Model):
    """A forum whose topics each carry one torrent."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="forums")
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    allows_torrents = models.BooleanField(default=True)
    view_level = models.PositiveSmallIntegerField(choices=AccessLevel.choices, default=AccessLevel.GUEST)
    upload_level = models.PositiveSmallIntegerField(choices=AccessLevel.choices, default=AccessLevel.USER)
    download_level = models.PositiveSmallIntegerField(choices=AccessLevel.choices, default=AccessLevel.USER)
    newznab_category = models.PositiveIntegerField(
        choices=NewznabCategory.choices,
        null=True,
        blank=True,
        help_text="The Newznab category Torznab clients see this forum's torrents under (none: Other).",
    )

    class Meta:
        ordering = ["category__order", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["category", "name"], name="forum_unique_name_in_category")]

    def __str__(self) -> str:
        return self.name


class TorrentStatus(models.TextChoices):
    """TorrentPier's moderation states."""

    NOT_APPROVED = "not_approved", "Not approved"
    APPROVED = "approved", "Approved"
    CHECKING = "checking", "Being checked"
    NEEDS_EDIT = "needs_edit", "Needs editing"
    DUPLICATE = "duplicate", "Duplicate"
    CLOSED = "closed", "Closed"
    CONSUMED = "consumed", "Consumed (absorbed by another)"
    CLOSED_COPYRIGHT = "closed_copyright", "Closed (copyright holder)"
    TEMPORARY = "temporary", "Temporary"
    PREMODERATION = "premoderation", "Pre-moderation"


# Announces are refused for a torrent in one of these states.
FROZEN_STATUSES = frozenset({TorrentStatus.DUPLICATE, TorrentStatus.CLOSED, TorrentStatus.CONSUMED, TorrentStatus.CLOSED_COPYRIGHT})


class Freeleech(models.TextChoices):
    NONE = "none", "None"
    SILVER = "silver", "Silver (half the download counted)"
    GOLD = "gold", "Gold (no download counted)"


class Torrent(models.Model):
    """A registered torrent. Info hashes are stored as lowercase hex."""

    # Indexed by torrent_forum_created (forum first), not on its own.
    forum = models.ForeignKey(Forum, on_delete=models.PROTECT, related_name="torrents", db_index=False)
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="torrents")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    # Unique through Meta.constraints rather than unique=True: on PostgreSQL a
    # unique varchar field also gets a varchar_pattern_ops "_like" index, which
    # no query of ours uses (hashes are matched exactly) and every insert and
    # every announce's non-HOT count update would have to maintain.
    info_hash = models.CharField(max_length=40, null=True, blank=True, help_text="v1: SHA-1 of info, hex")
    info_hash_v2 = models.CharField(max_length=64, null=True, blank=True, help_text="v2: SHA-256 of info, hex")
    # BEP 52: v2 clients announce the SHA-256 hash truncated to 20 bytes.
    info_hash_v2_short = models.CharField(max_length=40, null=True, blank=True, editable=False)
    size = models.BigIntegerField(default=0)
    piece_length = models.BigIntegerField(default=0)
    file_count = models.PositiveIntegerField(default=0)
    is_private = models.BooleanField(default=True)
    metainfo = models.BinaryField()
    # The file paths, one per line (at most FILES_TEXT_MAX characters), written at
    # registration: search matches name, description and this column of one row.
    files_text = models.TextField(blank=True, default="", editable=False)
    status = models.CharField(max_length=20, choices=TorrentStatus.choices, default=TorrentStatus.APPROVED)
    freeleech = models.CharField(max_length=10, choices=Freeleech.choices, default=Freeleech.NONE)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["forum", "-created_at"], name="torrent_forum_created"),
            models.Index(fields=["status"], name="torrent_status"),
            models.Index(fields=["name"], name="torrent_name"),
            models.Index(fields=["size"], name="torrent_size"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(info_hash__isnull=False) | models.Q(info_hash_v2__isnull=False),
                name="torrent_has_an_info_hash",
            ),
            models.UniqueConstraint(fields=["info_hash"], name="torrent_unique_info_hash"),
            models.UniqueConstraint(fields=["info_hash_v2"], name="torrent_unique_info_hash_v2"),
            models.UniqueConstraint(fields=["info_hash_v2_short"], name="torrent_unique_info_hash_v2_short"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        """Also creates the torrent's (zero) counts row when the torrent is new."""
        self.info_hash_v2_short = self.info_hash_v2[:40] if self.info_hash_v2 else None
        adding = self._state.adding
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        if adding:
            self.stats = TorrentStats.objects.create(torrent=self)

    def get_absolute_url(self) -> str:
        """The torrent's page on the site (the admin's "View on site")."""
        return reverse("web:torrent", args=[self.pk])

    # The swarm counts live in TorrentStats; load torrents with
    # select_related("stats") (or prefetch) to read these without a query each.
    # A torrent without its row (a bulk load before recount_torrents) counts 0.
    def _counts(self) -> "TorrentStats":
        try:
            stats = self.stats
        except TorrentStats.DoesNotExist:
            stats = None
        return stats if stats is not None else TorrentStats(torrent_id=self.pk)

    @property
    def seeders(self) -> int:
        return self._counts().seeders

    @property
    def leechers(self) -> int:
        return self._counts().leechers

    @property
    def completed(self) -> int:
        return self._counts().completed

    @property
    def is_frozen(self) -> bool:
        """Announces are refused while the torrent is in a frozen state."""
        return self.status in FROZEN_STATUSES


class TorrentStats(models.Model):
    """A torrent's swarm counts, in a narrow row of their own beside the torrent's.

    Announces change these on almost every call. Were they columns of
    tracker_torrent, each change would write a new version of the wide row
    and new entries in all of its indexes, the trigram ones included (which
    re-extract the trigrams of the name, description and file list): the
    counts are indexed for sorting, so the update can never be HOT. Here it
    touches a small row and four btrees. One row per torrent, created with
    it (Torrent.save; bulk loads must add theirs, recount_torrents repairs).
    """

    torrent = models.OneToOneField(Torrent, on_delete=models.CASCADE, primary_key=True, related_name="stats")
    seeders = models.PositiveIntegerField(default=0)
    leechers = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "torrent stats"
        # The catalogue's sorts: (count, torrent) walks in the list's order (count, then id).
        indexes = [
            models.Index(fields=["seeders", "torrent"], name="torrentstats_seeders"),
            models.Index(fields=["leechers", "torrent"], name="torrentstats_leechers"),
            models.Index(fields=["completed", "torrent"], name="torrentstats_completed"),
        ]

    def __str__(self) -> str:
        return f"{self.seeders}/{self.leechers}/{self.completed}"


class TorrentCount(models.Model):
    """How many torrents a forum holds in one status: `meta.total` of the unfiltered lists without a count.

    Kept by triggers on tracker_torrent (migration 0018), in the statement
    that inserts, deletes, moves or changes the status of a torrent, however
    it is written (the ORM, the admin, a bulk load, raw SQL): a list's total
    is a sum over at most forums x statuses rows, exact under writes.
    """

    forum = models.ForeignKey(Forum, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=TorrentStatus.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["forum", "status"], name="torrentcount_forum_status")]

    def __str__(self) -> str:
        return f"{self.forum_id}/{self.status}: {self.count}"


class TorrentFile(models.Model):
    """One file of a torrent (padding files are not listed)."""

    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="files")
    path = models.TextField()
    size = models.BigIntegerField()

    class Meta:
        ordering = ["path", "id"]
        indexes = [models.Index(fields=["torrent", "path"], name="torrentfile_torrent_path")]


class TorrentStatusChange(models.Model):
    """Who moved a torrent from one status to another, when and why."""

    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="status_changes")
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    old_status = models.CharField(max_length=20, choices=TorrentStatus.choices)
    new_status = models.CharField(max_length=20, choices=TorrentStatus.choices)
    changed_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        """What changed: "Approved → Closed by alice: duplicate"."""
        who = self.moderator.username if self.moderator else "someone"
        text = f"{self.get_old_status_display()} → {self.get_new_status_display()} by {who}"
        return f"{text}: {self.reason}" if self.reason else text


class Comment(models.Model):
    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["torrent", "created_at"], name="comment_torrent_created")]


class Bookmark(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bookmarks")
    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="bookmarks")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "torrent"], name="bookmark_unique_user_torrent")]
