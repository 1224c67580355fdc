"""The report's "where they went" section: links of the other watched communities in the
14 days after each ban against the 14 days before, in every format."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.records import CommunityKey, CommunityObservation, Post
from crawler.report import build_report, render

BAN = datetime(2018, 2, 7, 10, tzinfo=UTC)
BANNED = CommunityKey("reddit", "subreddit", "deepfakes")
OTHER = CommunityKey("reddit", "subreddit", "SFWdeepfakes")
CHANNEL = CommunityKey("telegram", "channel", "deepfake_tools")


@pytest.fixture
def report(engine: Engine, make_config: Any) -> dict[str, Any]:
    config = make_config(
        {
            "reddit": {"subreddits": ["deepfakes", "SFWdeepfakes"]},
            "telegram": {"channels": ["deepfake_tools"]},
        }
    )
    enricher = Enricher(config)
    store = Store(engine)
    store.ensure_communities([BANNED, OTHER, CHANNEL], BAN - timedelta(days=30))
    obs = [
        CommunityObservation(BANNED, BAN - timedelta(days=2), "reddit_api", status="active"),
        CommunityObservation(BANNED, BAN, "reddit_api", status="banned", status_reason="banned"),
    ]
    posts = []
    for i in range(6):  # after the ban: a new server and a new channel; before: the old server
        when = BAN + timedelta(hours=3 + i)
        posts.append(
            Post(
                OTHER,
                f"a{i}",
                created_at=when,
                title="we moved: discord.gg/NewHome",
                link_url="https://mega.nz/x",
            )
        )
        if i < 3:
            posts.append(Post(CHANNEL, f"t{i}", created_at=when, body="t.me/new_refuge and r/deepfakes"))
    for i in range(2):
        posts.append(
            Post(
                OTHER,
                f"b{i}",
                created_at=BAN - timedelta(days=3, hours=i),
                title="discord.gg/NewHome or discord.gg/OldOne",
            )
        )
    posts.append(Post(BANNED, "own", created_at=BAN - timedelta(hours=1), title="t.me/should_not_count"))
    posts.append(Post(OTHER, "old", created_at=BAN - timedelta(days=20), title="discord.gg/TooOld"))
    store.write(obs, None, now=BAN)
    store.write([enricher(p) for p in posts], None, now=BAN + timedelta(days=1))
    return build_report(engine, since=timedelta(days=30), now=BAN + timedelta(days=2))


def test_json_lists_where_the_links_went_after_the_ban(report: dict[str, Any]) -> None:
    (m,) = report["migrations"]
    assert {k: m[k] for k in ("platform", "handle", "new_status", "observed_at")} == {
        "platform": "reddit",
        "handle": "deepfakes",
        "new_status": "banned",
        "observed_at": "2018-02-07T10:00:00Z",
    }
    after = [
        (a["platform"], a["kind"], a["handle"], a["posts_before"], a["posts_after"], a["watched"])
        for a in m["after"]
    ]
    assert after == [
        ("discord", "server", "NewHome", 2, 6, False),
        ("telegram", "channel", "new_refuge", 0, 3, False),
        ("discord", "server", "OldOne", 2, 0, False),
    ]  # links to the banned community itself, its own posts and links older than 14 days are left out
    assert m["domains"] == [{"domain": "mega.nz", "posts_before": 0, "posts_after": 6}]


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "html"])
def test_every_format_shows_the_section(report: dict[str, Any], fmt: str) -> None:
    out = render(report, fmt)
    assert "NewHome" in out and "new_refuge" in out
    if fmt in ("table", "md"):
        assert "Where they went" in out
    if fmt == "html":
        assert "<h2>Where they went</h2>" in out


def test_csv_has_migration_rows(report: dict[str, Any]) -> None:
    lines = [line for line in render(report, "csv").splitlines() if not line.startswith("#")]  # provenance
    rows = [r for r in csv.DictReader(io.StringIO("\n".join(lines))) if r["section"].startswith("migration")]
    assert rows[0]["handle"] == "deepfakes" and rows[0]["target_handle"] == "NewHome"
    assert (rows[0]["posts_before"], rows[0]["posts_after"]) == ("2", "6")
    assert rows[-1]["section"] == "migration_domain" and rows[-1]["domain"] == "mega.nz"
    assert json.loads(render(report, "json"))["migrations"][0]["after"][0]["handle"] == "NewHome"


def test_no_ban_means_no_section_entries(engine: Engine) -> None:
    report = build_report(engine, since=timedelta(days=30), now=BAN)
    assert report["migrations"] == []
    assert "Where they went" in render(report, "md")
