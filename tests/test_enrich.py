"""Enrichment: pseudonyms and their key, content policies, NSFW defaults, link domains.

Posts here are written by hand in the shape the sources fill (raw author name, linked URL,
text); the Reddit ones follow the fields of /work/shared/fixtures/recorded/reddit listings
(author, title, selftext, url, link_flair_text, over_18), reduced to what each test needs.
"""

from __future__ import annotations

import os
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Config
from crawler.enrich import Enricher, link_domain, pseudonymise
from crawler.enrich.pseudonym import KEY_ENV, load_key
from crawler.errors import ConfigError
from crawler.records import CommunityKey, CommunityObservation, MetricPoint, Post, PostStateUpdate

T0 = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)
SFW = CommunityKey("reddit", "subreddit", "SFWdeepfakes")
WATCHLIST: dict[str, Any] = {
    "reddit": {
        "subreddits": [
            "SFWdeepfakes",
            {"name": "deepfakes", "content": "counts"},
            {"name": "FaceFull", "content": "full"},
            {"name": "NsfwEntry", "nsfw": True},
            {"name": "NsfwButFull", "nsfw": True, "content": "full"},
            "LaterNsfw",
        ]
    }
}


def raw_post(handle: str = "SFWdeepfakes", **kw: Any) -> Post:
    """A post as a Reddit source yields it, before enrichment."""
    fields: dict[str, Any] = {
        "external_id": "7qz9ab",
        "created_at": T0,
        "author": "some_user",
        "title": "DeepFaceLab 2.0 vs FakeApp on a GTX 1060",
        "body": "Trained for 40 hours with roop-unleashed as a baseline.",
        "url": f"https://www.reddit.com/r/{handle}/comments/7qz9ab/deepfacelab_20_vs_fakeapp/",
        "link_url": "https://i.imgur.com/Xy12abc.jpg",
        "score": 57,
        "num_comments": 12,
        "nsfw": False,
        "flair": "Comparison",
    }
    fields.update(kw)
    return Post(key=CommunityKey("reddit", "subreddit", handle), **fields)


@pytest.fixture
def config(make_config: Any) -> Config:
    return make_config(WATCHLIST)  # DFWATCH_PSEUDONYM_KEY is a fixed test key


@pytest.fixture
def enricher(config: Config) -> Enricher:
    return Enricher(config)


def enriched(enricher: Enricher, post: Post) -> Post:
    out = enricher(post)
    assert isinstance(out, Post)
    return out


# ----------------------------------------------------------------------------- pseudonyms


def test_pseudonym_is_stable_for_the_same_key_and_name() -> None:
    a = pseudonymise(b"k" * 32, "reddit", "some_user")
    assert a == pseudonymise(b"k" * 32, "reddit", "some_user")
    assert a is not None and len(a) == 64 and int(a, 16) >= 0


def test_pseudonym_differs_by_platform_by_key_and_never_equals_the_name() -> None:
    key = b"k" * 32
    on_reddit = pseudonymise(key, "reddit", "some_user")
    assert on_reddit != pseudonymise(key, "x", "some_user")
    assert on_reddit != pseudonymise(b"other-key-other-key", "reddit", "some_user")
    assert on_reddit != "some_user" and "some_user" not in (on_reddit or "")


@pytest.mark.parametrize("name", [None, "", "[deleted]", "[removed]", " [deleted] "])
def test_missing_or_deleted_author_has_no_pseudonym(name: str | None) -> None:
    assert pseudonymise(b"k" * 32, "reddit", name) is None


def test_github_ghost_account_is_not_an_author() -> None:
    assert pseudonymise(b"k" * 32, "github", "ghost") is None
    assert pseudonymise(b"k" * 32, "reddit", "ghost") is not None


def test_enricher_replaces_author_by_the_hmac_of_the_environment_key(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post())
    assert post.author == pseudonymise(b"test-key-not-secret", "reddit", "some_user")
    assert "some_user" not in repr(post)


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "pseudonym.key"
    first = load_key({}, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 64  # 32 random bytes, hex
    assert load_key({}, key_file) == first
    # The file's text works exactly like the environment variable.
    assert load_key({KEY_ENV: first.decode()}, tmp_path / "unused.key") == first
    assert not (tmp_path / "unused.key").exists()


def test_enricher_creates_the_configured_key_file(make_config: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "pseudonym.key"
    cfg = make_config(WATCHLIST, f'[privacy]\nkey_file = "{key_file}"\n', env={KEY_ENV: ""})
    post = enriched(Enricher(cfg), raw_post())
    assert post.author == pseudonymise(key_file.read_bytes().strip(), "reddit", "some_user")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text("a" * 64)
    key_file.chmod(mode)
    with pytest.raises(ConfigError) as err:
        load_key({}, key_file)
    assert err.value.file == str(key_file)
    assert f"chmod 600 {key_file}" in str(err.value)
    assert "a" * 64 not in str(err.value)


def test_empty_key_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "pseudonym.key"
    key_file.touch(mode=0o600)
    with pytest.raises(ConfigError, match="empty"):
        load_key({}, key_file)


def test_enricher_repr_does_not_show_the_key(enricher: Enricher) -> None:
    assert "test-key-not-secret" not in repr(enricher)


# ----------------------------------------------------------------------------- policies


def test_metadata_policy_keeps_pseudonym_title_permalink_flair_but_no_body(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post())
    assert post.enriched
    assert post.author is not None and post.author != "some_user"
    assert post.title == "DeepFaceLab 2.0 vs FakeApp on a GTX 1060"
    assert post.url == "https://www.reddit.com/r/SFWdeepfakes/comments/7qz9ab/deepfacelab_20_vs_fakeapp/"
    assert post.flair == "Comparison"
    assert post.body is None
    assert post.link_url is None and post.link_domain == "imgur.com"
    assert (post.score, post.num_comments, post.created_at) == (57, 12, T0)


def test_counts_policy_keeps_only_numbers_domain_and_mentions(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post("deepfakes"))
    assert (post.author, post.title, post.body, post.url, post.flair, post.link_url) == (None,) * 6
    assert post.external_id == "7qz9ab" and post.created_at == T0
    assert (post.score, post.num_comments, post.nsfw, post.state) == (57, 12, False, "visible")
    assert post.link_domain == "imgur.com"
    # Mentions are found before the text is dropped.
    assert post.mentions == ("DeepFaceLab", "FakeApp", "roop")


def test_full_policy_keeps_the_body(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post("FaceFull"))
    assert post.body == "Trained for 40 hours with roop-unleashed as a baseline."
    assert post.title and post.author and post.url and post.flair


def test_full_policy_drops_placeholder_bodies(enricher: Enricher) -> None:
    assert enriched(enricher, raw_post("FaceFull", body="[removed]")).body is None


def test_nsfw_watchlist_entry_defaults_to_counts(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post("NsfwEntry"))
    assert (post.author, post.title, post.url) == (None, None, None)
    assert enricher.policy(raw_post("NsfwEntry")) == "counts"


def test_entry_policy_wins_over_nsfw(enricher: Enricher) -> None:
    assert enriched(enricher, raw_post("NsfwButFull")).body is not None


def test_community_observed_nsfw_makes_later_posts_counts(enricher: Enricher) -> None:
    key = CommunityKey("reddit", "subreddit", "laternsfw")  # handles compare case-insensitively
    assert enriched(enricher, raw_post("LaterNsfw")).title is not None
    obs = CommunityObservation(key=key, observed_at=T0, source="reddit_api", nsfw=True)
    assert enricher(obs) is obs
    post = enriched(enricher, raw_post("LaterNsfw"))
    assert (post.author, post.title, post.url) == (None, None, None)
    assert post.mentions == ("DeepFaceLab", "FakeApp", "roop")


def test_nsfw_post_in_a_sfw_community_gets_counts(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post(nsfw=True))
    assert (post.author, post.title, post.nsfw) == (None, None, True)


def test_observation_without_nsfw_flag_changes_nothing(enricher: Enricher) -> None:
    enricher(CommunityObservation(key=SFW, observed_at=T0, source="reddit_api", nsfw=None))
    assert enricher.policy(raw_post()) == "metadata"


@pytest.mark.parametrize("state", ["deleted", "removed"])
@pytest.mark.parametrize("community", ["SFWdeepfakes", "FaceFull"])
def test_deleted_or_removed_post_loses_text_and_author_whatever_the_policy(
    enricher: Enricher, state: str, community: str
) -> None:
    post = enriched(enricher, raw_post(community, state=state))
    assert (post.author, post.title, post.body, post.url, post.link_url) == (None,) * 5
    assert post.state == state and post.score == 57
    assert post.mentions == ("DeepFaceLab", "FakeApp", "roop")


def test_other_records_pass_through_unchanged(enricher: Enricher) -> None:
    point = MetricPoint(key=SFW, metric="members", value=91000, observed_at=T0, source="arctic_shift")
    update = PostStateUpdate(platform="reddit", external_id="7qz9ab", state="deleted", observed_at=T0)
    obs = CommunityObservation(key=SFW, observed_at=T0, source="reddit_api", title="SFW deepfakes")
    assert enricher(point) is point
    assert enricher(update) is update
    assert enricher(obs) is obs and obs.title == "SFW deepfakes"


def test_enriching_twice_changes_nothing(enricher: Enricher) -> None:
    once = enriched(enricher, raw_post())
    assert enriched(enricher, once) == once


def test_raw_post_is_not_modified(enricher: Enricher) -> None:
    raw = raw_post()
    enricher(raw)
    assert raw.author == "some_user" and raw.link_url is not None and not raw.enriched


def test_self_post_keeps_the_platform_domain(enricher: Enricher) -> None:
    permalink = "https://www.reddit.com/r/SFWdeepfakes/comments/7qz9ab/deepfacelab_20_vs_fakeapp/"
    post = enriched(enricher, raw_post(link_url=permalink))
    assert post.link_domain == "reddit.com" and post.link_url is None


def test_source_given_domain_is_normalised(enricher: Enricher) -> None:
    post = enriched(enricher, raw_post(link_url=None, link_domain="V.Redd.it"))
    assert post.link_domain == "redd.it"


def test_mentions_come_from_the_linked_url_too(enricher: Enricher) -> None:
    post = enriched(
        enricher,
        raw_post(
            title="new release",
            body=None,
            flair=None,
            link_url="https://github.com/hacksider/Deep-Live-Cam/releases",
        ),
    )
    assert post.mentions == ("Deep-Live-Cam",)
    assert post.link_domain == "github.com"


# ----------------------------------------------------------------------------- link domains


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://i.imgur.com/Xy12abc.jpg", "imgur.com"),
        ("https://gfycat.com/ThankfulShockedBird", "gfycat.com"),
        ("https://thumbs.gfycat.com/ThankfulShockedBird-mobile.mp4", "gfycat.com"),
        ("https://v.redd.it/k3z9x2", "redd.it"),
        ("https://i.redd.it/abc.png", "redd.it"),
        ("gfycat.com/ThankfulShockedBird", "gfycat.com"),
        ("www.BBC.co.uk/news", "bbc.co.uk"),
        ("//cdn.discordapp.com/attachments/1/2/a.mp4", "discordapp.com"),
        ("HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ", "youtube.com"),
        ("https://user:secret@Example.COM:8080/x", "example.com"),
        ("https://mega.nz/file/abc#key", "mega.nz"),
        ("https://someone.github.io/page", "github.io"),
        ("http://192.0.2.7:8080/file.zip", "192.0.2.7"),
        ("https://example.com./x", "example.com"),
    ],
)
def test_link_domain_is_the_registrable_domain(url: str, domain: str) -> None:
    assert link_domain(url) == domain


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "   ",
        "garbage",
        "not a url",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "http://[::1",
        "localhost:8000/x",
        "file:///etc/passwd",
        "self.SFWdeepfakes",
        "https://" + "a" * 5000,
    ],
)
def test_link_domain_is_none_for_no_url_or_nonsense(url: str | None) -> None:
    assert link_domain(url) is None


def test_link_domain_never_uses_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import crawler.enrich.links as links

    links._extractor.cache_clear()

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("tldextract tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert link_domain("https://files.catbox.moe/abc.mp4") == "catbox.moe"


# ----------------------------------------------------------------------------- the docs


def _policy_table() -> dict[str, dict[str, bool]]:
    """The policy table of docs/ethics.md as {field: {policy: kept}}."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "ethics.md"
    rows: dict[str, dict[str, bool]] = {}
    header: list[str] = []
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or set(cells[0]) <= {"-"}:
            continue
        if cells[0] == "field":
            header = cells[1:]
            continue
        rows[cells[0].split(" ")[0]] = {p: v == "yes" for p, v in zip(header, cells[1:], strict=True)}
    return rows


def test_ethics_doc_policy_table_matches_the_code() -> None:
    from crawler.enrich import apply_policy

    table = _policy_table()
    assert set(next(iter(table.values()))) == {"counts", "metadata", "full"}
    full = raw_post(
        author="pseudonym", link_url=None, link_domain="imgur.com", mentions=("roop",), nsfw=False
    )
    for policy in ("counts", "metadata", "full"):
        kept = apply_policy(full, policy)
        assert {f: getattr(kept, f) is not None and getattr(kept, f) != () for f in table} == {
            f: row[policy] for f, row in table.items()
        }, policy
