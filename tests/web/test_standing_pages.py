"""The member's pages for the site's rules: the header's figures, /standing/, /store/ and their own state on a torrent page."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import dateformat, timezone

from accounts.models import User
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue.models import AccessLevel, Freeleech
from tracker.policy.bonus import points_adjust
from tracker.policy.models import GIB, HnrState, HnrWarning, LedgerEntry, TokenUse
from tracker.policy.selectors import site_policy
from tracker.swarm.lookups import cached_policy
from tracker.swarm.models import Snatch
from web import context_processors

HOUR = 3600


def _when(moment):
    """A moment as the pages print it."""
    return dateformat.format(timezone.localtime(moment), "j M Y, H:i T")


def _member(**fields):
    return UserFactory(**fields)


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _points(user, amount, reason="for the test"):
    """Give `user` points the way staff do (a ledger row and the cached balance together)."""
    points_adjust(user=user, amount=Decimal(amount), reason=reason, actor=UserFactory(role="admin", is_staff=True))


def _snatch(user, torrent=None, **fields):
    now = timezone.now()
    return Snatch.objects.create(user=user, torrent=torrent or TorrentFactory(size=GIB), first_announce=now, last_announce=now, **fields)


def _pending(user, *, name=None, due_in=timedelta(days=2), seed_time=HOUR, **fields):
    """A completed download with a pending hit-and-run requirement: 72 hours of seeding by `due_in` from now."""
    torrent = TorrentFactory(size=GIB, **({"name": name} if name else {}))
    now = timezone.now()
    return _snatch(
        user, torrent, completed_at=now - timedelta(days=1), seed_time=seed_time, hnr_seed=72 * HOUR, hnr_ratio_pct=100,
        hnr_due=now + due_in, hnr_state=HnrState.PENDING, **fields,
    )  # fmt: skip


def _warn(user, name="warned.torrent", days=30):
    now = timezone.now()
    return HnrWarning.objects.create(user=user, torrent_name=name, created_at=now, expires_at=now + timedelta(days=days))


def _text(html):
    """What a reader sees of `html`: the text without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _bar(html):
    return html.split('<div class="member-bar">')[1].split("</header>")[0]


# --- Guests ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/standing/", "/store/"])
def test_guests_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


@pytest.mark.django_db
def test_guests_post_nothing(client, torrent):
    assert client.post("/store/", {"item": "token", "quantity": "1"}).status_code == 302
    assert client.post(f"/torrents/{torrent.pk}/freeleech-token/").status_code == 302
    assert not LedgerEntry.objects.exists() and not TokenUse.objects.exists()


@pytest.mark.django_db
def test_guests_see_no_member_bar_nor_own_state(client, torrent):
    for path in ("/", f"/torrents/{torrent.pk}/"):
        html = client.get(path).content.decode()
        assert 'class="member-bar"' not in html
        assert 'id="own-state"' not in html and "freeleech-token" not in html


# --- The header -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("uploaded", "downloaded", "ratio", "band", "words"),
    [
        (0, 0, "∞", "good", None),  # nothing downloaded
        (GIB // 2, GIB, "0.50", "good", None),  # 1 GiB: no ratio required yet
        (52 * GIB * 31 // 100, 52 * GIB, "0.30", "poor", "below the required 0.60"),  # 0.3099...: rounded down
        (52 * GIB * 65 // 100 + 1, 52 * GIB, "0.65", "fair", "just above the required 0.60"),
        (52 * GIB * 75 // 100, 52 * GIB, "0.75", "good", "above the required 0.60"),
    ],
)
def test_the_header_shows_transfer_and_the_ratio_in_its_band(uploaded, downloaded, ratio, band, words):
    member = _member(uploaded=uploaded, downloaded=downloaded)
    bar = _bar(_client(member).get("/").content.decode())
    assert f'data-ratio-class="{band}">{ratio}</span>' in bar
    assert "Uploaded" in bar and "Downloaded" in bar
    if words:
        assert words in bar
    else:
        assert "required" not in bar
    assert 'href="/standing/"' in bar


@pytest.mark.django_db
def test_the_header_shows_the_ratio_watch_with_days_left():
    member = _member(uploaded=10 * GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=4, hours=1))
    bar = _bar(_client(member).get("/").content.decode())
    assert site_policy().ratio_watch_days == 14
    assert "Ratio watch: 10 days left" in bar


@pytest.mark.django_db
def test_the_header_says_when_the_watch_is_over():
    member = _member(uploaded=10 * GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=15))
    bar = _bar(_client(member).get("/").content.decode())
    assert "Ratio watch over: download rights suspended" in bar
    assert "days left" not in bar


@pytest.mark.django_db
def test_a_recovered_member_shows_no_watch_even_before_the_job_ends_it():
    member = _member(uploaded=40 * GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=3))
    bar = _bar(_client(member).get("/").content.decode())
    assert "Ratio watch" not in bar


def _queries(client, path, django_assert_max_num_queries):
    with django_assert_max_num_queries(100) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/profile/", "/upload/"])
def test_the_header_costs_no_query(monkeypatch, path, django_assert_max_num_queries):
    """A member on watch (so the bar needs the rules): the same page without the bar runs as many queries."""
    member = _member(uploaded=10 * GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=1))
    client = _client(member)
    cached_policy()  # the rules are cached, as the announce and every page keep them
    client.get(path)  # and the page's own cached figures (the browse page's totals)
    with_bar = _queries(client, path, django_assert_max_num_queries)
    assert "Ratio watch:" in client.get(path).content.decode()
    monkeypatch.setattr(context_processors, "member_bar_for", lambda user: None)
    without_bar = _queries(client, path, django_assert_max_num_queries)
    assert 'class="member-bar"' not in client.get(path).content.decode()
    assert with_bar == without_bar


@pytest.mark.django_db
def test_a_cold_cache_is_filled_once_by_the_header(django_assert_max_num_queries):
    member = _member(uploaded=10 * GIB, downloaded=52 * GIB)
    client = _client(member)
    site_policy()
    first = _queries(client, "/profile/", django_assert_max_num_queries)
    second = _queries(client, "/profile/", django_assert_max_num_queries)
    assert first > second
    fresh = _client(_member())  # downloaded nothing: the bar needs no rules
    assert _queries(fresh, "/profile/", django_assert_max_num_queries) == second


# --- The standing page ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_member_on_watch_reads_what_to_do_and_when_rights_end():
    since = timezone.now() - timedelta(days=4)
    member = _member(uploaded=16 * GIB, downloaded=52 * GIB, ratio_watch_since=since)
    response = _client(member).get("/standing/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    advice = response.content.decode().split('id="ratio-advice"')[1].split("</div>")[0]
    text = _text(advice)
    assert "Your ratio 0.30 is below the 0.60 your 52.0 GB downloaded require." in text
    assert f"your download rights end on {_when(since + timedelta(days=14))} unless it reaches 0.60" in text
    assert "Uploading 15.2 GB more gets you there" in text  # 0.60 x 52 - 16 GiB
    assert 'id="refusal"' not in response.content.decode()


@pytest.mark.django_db
def test_a_member_whose_watch_ended_reads_the_refusal_reason():
    member = _member(uploaded=16 * GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=20))
    html = _client(member).get("/standing/").content.decode()
    refusal = html.split('id="refusal"')[1].split("</div>")[0]
    assert "Download rights suspended: your ratio 0.30 is below the required 0.60 and your ratio watch has ended" in refusal
    assert "New downloads are refused until it reaches 0.60: uploading 15.2 GB more restores them at once." in _text(html)


@pytest.mark.django_db
def test_a_member_with_too_many_warnings_reads_why_and_sees_them(user):
    for n in range(3):
        _warn(user, name=f"left-{n}", days=10 + n)
    expired = HnrWarning.objects.create(
        user=user, torrent_name="long-gone", created_at=timezone.now() - timedelta(days=60), expires_at=timezone.now() - timedelta(days=1)
    )
    html = _client(user).get("/standing/").content.decode()
    assert "you have 3 active hit-and-run warnings (the limit is 3)" in html.split('id="refusal"')[1].split("</div>")[0]
    warnings = html.split('id="warnings-heading"')[1].split('id="hnr-heading"')[0]
    assert all(f"left-{n}" in warnings for n in range(3))
    assert expired.torrent_name not in warnings
    newest = HnrWarning.objects.get(torrent_name="left-2")
    assert _when(newest.expires_at) in warnings


@pytest.mark.django_db
def test_a_new_member_reads_where_the_rules_start(member_client):
    html = _text(member_client.get("/standing/").content.decode())
    assert "You have downloaded nothing yet, so your ratio is ∞. A ratio of 0.15 is required once you have downloaded 5.0 GB." in html
    assert "You may leech any number of torrents at once: your ratio limits it only once you have downloaded 5.0 GB." in html
    assert "Nothing is waiting to be seeded." in html


@pytest.mark.django_db
def test_a_member_meeting_the_ratio_reads_so():
    member = _member(uploaded=40 * GIB, downloaded=52 * GIB)
    html = _text(_client(member).get("/standing/").content.decode())
    assert "Your ratio 0.76 meets the 0.60 your 52.0 GB downloaded require." in html
    assert "It is close" not in html


@pytest.mark.django_db
def test_leech_slots_in_words():
    member = _member(uploaded=16 * GIB, downloaded=52 * GIB)
    html = _text(_client(member).get("/standing/").content.decode())
    assert "You may leech 1 torrent at once (ratio below 0.40); you are leeching 0 now." in html


@pytest.mark.django_db
def test_hit_and_runs_show_time_left_and_seed_time_remaining(user):
    pending = _pending(user, name="to-seed", seed_time=10 * HOUR)
    _snatch(user, hnr_state=HnrState.FAILED, hnr_seed=72 * HOUR, hnr_due=timezone.now() - timedelta(days=3))
    Snatch.objects.filter(hnr_state=HnrState.FAILED).update(torrent=TorrentFactory(name="failed-one", size=GIB))
    html = _client(user).get("/standing/").content.decode()
    listing = html.split('id="hnr-list"')[1].split("</table>")[0]
    assert "to-seed" in listing and "failed-one" in listing
    row = listing.split("to-seed")[1].split("</tr>")[0]
    assert "10h of 3d" in row  # seeded of required
    assert "2d 14h" in row  # still to seed: 72 - 10 hours
    assert "1d 23h" in row  # time left to the deadline, two days less the moments since
    assert dateformat.format(timezone.localtime(pending.hnr_due), "j M Y, H:i") in row
    assert "You have 1 still to seed. 1 failed." in _text(html)


@pytest.mark.django_db
def test_hit_and_runs_filter_by_state_and_page(user):
    for n in range(27):
        _pending(user, name=f"pend-{n:02d}", due_in=timedelta(days=2, hours=n))
    _snatch(user, hnr_state=HnrState.FAILED, hnr_seed=72 * HOUR, hnr_due=timezone.now() - timedelta(days=3))
    client = _client(user)
    first = client.get("/standing/", {"hnr": "pending"}).content.decode()
    assert first.count("pend-") == 25 and "pend-00" in first and "pend-26" not in first
    assert 'href="?hnr=pending&amp;page=2"' in first
    second = client.get("/standing/", {"hnr": "pending", "page": 2}).content.decode()
    assert second.count("pend-") == 2 and "pend-26" in second
    failed = client.get("/standing/", {"hnr": "failed"}).content.decode()
    assert "pend-" not in failed.split('id="hnr-heading"')[1]
    assert client.get("/standing/", {"page": "x"}).status_code == 404
    assert client.get("/standing/", {"hnr": "bogus"}).status_code == 200


@pytest.mark.django_db
def test_points_tokens_and_personal_freeleech_on_the_standing_page(user):
    _points(user, "123.45")
    until = timezone.now() + timedelta(days=2)
    User.objects.filter(pk=user.pk).update(freeleech_tokens=2, freeleech_until=until)
    html = _client(user).get("/standing/").content.decode()
    assert '<dd id="points-balance">123.45</dd>' in html
    assert f'until <time datetime="{until.isoformat()}">{_when(until)}</time>' in html
    assert "<dd>2</dd>" in html


@pytest.mark.django_db
def test_hit_and_run_names_are_shown_as_text(user):
    _pending(user, name="<script>alert(1)</script>")
    _warn(user, name='<img src=x onerror="alert(2)">')
    html = _client(user).get("/standing/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html


# --- The store ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_store_lists_items_prices_and_the_balance(user):
    _points(user, "250")
    html = _client(user).get("/store/").content.decode()
    assert '<span class="stat__value" id="balance">250.00</span>' in html
    for name, price in [("1 GiB of upload credit", 100), ("1 freeleech token", 500), ("Clear 1 active hit-and-run warning", 1000)]:
        row = html.split(f"<strong>{name}</strong>")[1].split("</tr>")[0]
        assert f"{price} points" in row
        assert 'name="csrfmiddlewaretoken"' in row and 'name="quantity"' in row
    assert html.count('name="item"') == 3


@pytest.mark.django_db
def test_buying_through_the_form_spends_points_and_writes_the_ledger(user):
    _points(user, "1000")
    client = _client(user)
    response = client.post("/store/", {"item": "token", "quantity": "1"})
    assert response.status_code == 302 and response["Location"] == "/store/"
    html = client.get("/store/").content.decode()
    assert "Bought 1 x 1 freeleech token for 500 points. Your balance is 500.00 points." in html
    user.refresh_from_db()
    assert user.bonus_points == Decimal("500.00") and user.freeleech_tokens == 1
    ledger = html.split('id="ledger"')[1].split("</table>")[0]
    assert "Bought a freeleech token" in ledger and "1 x 1 freeleech token" in ledger and "-500.00" in ledger
    assert '<span class="stat__value" id="balance">500.00</span>' in html


@pytest.mark.django_db
def test_buying_upload_credit_several_at_once(user):
    _points(user, "350")
    client = _client(user)
    client.post("/store/", {"item": "upload_credit", "quantity": "3"})
    user.refresh_from_db()
    assert user.bonus_points == Decimal("50.00") and user.uploaded == 3 * GIB


@pytest.mark.django_db
def test_not_enough_points_says_so_and_changes_nothing(user):
    _points(user, "100")
    client = _client(user)
    rows = LedgerEntry.objects.count()
    response = client.post("/store/", {"item": "token", "quantity": "1"}, follow=True)
    html = response.content.decode()
    assert 'class="message message--error">This costs 500 points and you have 100.00.</li>' in html
    user.refresh_from_db()
    assert user.bonus_points == Decimal("100.00") and user.freeleech_tokens == 0
    assert LedgerEntry.objects.count() == rows


@pytest.mark.django_db
def test_clearing_a_warning_with_none_active_says_so(user):
    _points(user, "2000")
    html = _client(user).post("/store/", {"item": "warning", "quantity": "1"}, follow=True).content.decode()
    assert "You have no active hit-and-run warning to clear." in html
    user.refresh_from_db()
    assert user.bonus_points == Decimal("2000.00")


@pytest.mark.django_db
def test_clearing_a_warning_through_the_store(user):
    _points(user, "1000")
    warning = _warn(user)
    _client(user).post("/store/", {"item": "warning", "quantity": "1"})
    warning.refresh_from_db()
    assert warning.cleared_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", ["0", "101", "abc", ""])
def test_a_bad_quantity_is_shown_beside_its_form_and_buys_nothing(user, quantity):
    _points(user, "1000")
    response = _client(user).post("/store/", {"item": "upload_credit", "quantity": quantity})
    assert response.status_code == 422
    row = response.content.decode().split('id="item-upload_credit"')[1].split("</tr>")[0]
    assert 'class="errorlist' in row
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_item_buys_nothing(user):
    _points(user, "1000")
    html = _client(user).post("/store/", {"item": "gold-bars", "quantity": "1"}, follow=True).content.decode()
    assert "No such item in the store." in html
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_the_ledger_is_paginated_and_shows_notes_as_text(user):
    _points(user, "1", reason="<b>welcome</b>")
    for n in range(26):
        _points(user, "1", reason=f"gift {n:02d}")
    client = _client(user)
    first = client.get("/store/").content.decode()
    assert first.count("gift ") == 25 and "gift 25" in first  # newest first
    second = client.get("/store/", {"page": 2}).content.decode()
    assert "gift 00" in second and "&lt;b&gt;welcome&lt;/b&gt;" in second and "<b>welcome" not in second
    assert client.get("/store/", {"page": "0"}).status_code == 404


# --- CSRF -----------------------------------------------------------------------------------------------------


def _csrf_token(client, path):
    html = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.mark.django_db
def test_the_store_form_needs_the_csrf_token(csrf_client, user):
    _points(user, "1000")
    csrf_client.force_login(user)
    assert csrf_client.post("/store/", {"item": "token", "quantity": "1"}).status_code == 403
    user.refresh_from_db()
    assert user.freeleech_tokens == 0
    token = _csrf_token(csrf_client, "/store/")
    assert csrf_client.post("/store/", {"item": "token", "quantity": "1", "csrfmiddlewaretoken": token}).status_code == 302
    user.refresh_from_db()
    assert user.freeleech_tokens == 1


@pytest.mark.django_db
def test_the_token_button_needs_the_csrf_token(csrf_client, user, torrent):
    User.objects.filter(pk=user.pk).update(freeleech_tokens=1)
    csrf_client.force_login(user)
    assert csrf_client.post(f"/torrents/{torrent.pk}/freeleech-token/").status_code == 403
    assert not TokenUse.objects.exists()
    token = _csrf_token(csrf_client, f"/torrents/{torrent.pk}/")
    assert csrf_client.post(f"/torrents/{torrent.pk}/freeleech-token/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert TokenUse.objects.filter(user=user, torrent=torrent).exists()


# --- The torrent page -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_token_button_spends_a_token_and_goes_away(user, torrent):
    User.objects.filter(pk=user.pk).update(freeleech_tokens=2)
    client = _client(user)
    assert "Use a freeleech token (2 left)" in client.get(f"/torrents/{torrent.pk}/").content.decode()
    response = client.post(f"/torrents/{torrent.pk}/freeleech-token/")
    assert response.status_code == 302 and response["Location"] == f"/torrents/{torrent.pk}/"
    use = TokenUse.objects.get(user=user, torrent=torrent)
    assert use.expires_at - use.created_at == timedelta(hours=site_policy().token_hours)
    html = client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert "Use a freeleech token" not in html
    assert f"Freeleech token used: your download of this torrent counts nothing until {_when(use.expires_at)}. Tokens left: 1." in html
    assert f'runs on it until <time datetime="{use.expires_at.isoformat()}">{_when(use.expires_at)}</time>' in html
    user.refresh_from_db()
    assert user.freeleech_tokens == 1


@pytest.mark.django_db
def test_a_second_token_on_the_same_torrent_is_refused_with_a_message(user, torrent):
    User.objects.filter(pk=user.pk).update(freeleech_tokens=2)
    client = _client(user)
    client.post(f"/torrents/{torrent.pk}/freeleech-token/")
    html = client.post(f"/torrents/{torrent.pk}/freeleech-token/", follow=True).content.decode()
    assert 'class="message message--error">A freeleech token is running on this torrent until' in html
    user.refresh_from_db()
    assert user.freeleech_tokens == 1 and TokenUse.objects.count() == 1


@pytest.mark.django_db
def test_no_token_button_on_gold_or_without_tokens(user, forum):
    gold = TorrentFactory(forum=forum, freeleech=Freeleech.GOLD)
    plain = TorrentFactory(forum=forum)
    client = _client(user)
    assert "Use a freeleech token" not in client.get(f"/torrents/{plain.pk}/").content.decode()  # no tokens
    User.objects.filter(pk=user.pk).update(freeleech_tokens=3)
    html = client.get(f"/torrents/{gold.pk}/").content.decode()
    assert "Use a freeleech token" not in html and "Gold: downloading it counts nothing" in html
    refused = client.post(f"/torrents/{gold.pk}/freeleech-token/", follow=True).content.decode()
    assert "This torrent is gold" in refused and not TokenUse.objects.exists()


@pytest.mark.django_db
def test_a_token_for_a_torrent_the_member_may_not_see_is_404(user):
    hidden = TorrentFactory(forum=ForumFactory(view_level=AccessLevel.ADMIN))
    User.objects.filter(pk=user.pk).update(freeleech_tokens=1)
    assert _client(user).post(f"/torrents/{hidden.pk}/freeleech-token/").status_code == 404
    assert _client(user).post("/torrents/999999/freeleech-token/").status_code == 404
    assert not TokenUse.objects.exists()


@pytest.mark.django_db
def test_the_torrent_page_shows_the_members_snatch_and_its_requirement(user):
    snatch = _pending(user, seed_time=10 * HOUR, uploaded=300 * 1024**2, downloaded=GIB, is_seeding=True)
    html = _client(user).get(f"/torrents/{snatch.torrent_id}/").content.decode()
    own = html.split('id="own-state"')[1].split("</section>")[0]
    assert "300.0\xa0MB" in own and "1.0\xa0GB" in own and "10h" in own
    assert "seeding" in own and "pending" in own
    text = _text(own)
    assert f"by {_when(snatch.hnr_due)}: 2d 14h of seeding left" in text
    assert "or upload 1.00 times its size" in text


@pytest.mark.django_db
def test_the_torrent_page_shows_an_overdue_requirement_with_the_grace_left(user):
    snatch = _pending(user, due_in=-timedelta(hours=2))
    own = _client(user).get(f"/torrents/{snatch.torrent_id}/").content.decode().split('id="own-state"')[1].split("</section>")[0]
    assert "overdue" in own and "or a warning is given" in own
    assert "21h" in own  # the grace of 24 hours, less the 2 since the deadline (and the seconds this test takes)


@pytest.mark.django_db
def test_the_torrent_page_keeps_its_query_bound_with_the_members_state(user, django_assert_max_num_queries):
    snatch = _pending(user, uploaded=1, downloaded=GIB)
    TokenUse.objects.create(user=user, torrent=snatch.torrent, created_at=timezone.now(), expires_at=timezone.now() + timedelta(hours=1))
    client = _client(user)
    with django_assert_max_num_queries(8):  # the bound of tests/web/test_torrent_page.py
        html = client.get(f"/torrents/{snatch.torrent_id}/").content.decode()
    assert 'id="own-token"' in html and 'id="own-hnr"' in html


@pytest.mark.django_db
def test_another_members_snatch_and_token_are_not_shown(user, torrent):
    other = UserFactory()
    _snatch(other, torrent, uploaded=777 * 1024**2)
    TokenUse.objects.create(user=other, torrent=torrent, created_at=timezone.now(), expires_at=timezone.now() + timedelta(hours=1))
    own = _client(user).get(f"/torrents/{torrent.pk}/").content.decode().split('id="own-state"')[1].split("</section>")[0]
    assert "777" not in own and 'id="own-token"' not in own
    assert "Your client has not announced this torrent yet." in own
