"""The HTML report in a real browser: Debian's headless Chromium renders its charts, logs no
console error, and leaves screenshots in tests/artifacts/ (gitignored) for a person to look at.

The data tell the story of DESIGN.md in miniature: a subreddit growing to ~91,000 members in
eight weeks and then banned, a desktop tool spreading through it, an X account suspended, a
Discord server banned, the users moving to other places.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from crawler.db.models import Community, Mention, Metric, Post, StatusChange, Tool
from crawler.report import build_report, render

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NOW = datetime(2018, 2, 28, 12, 0, tzinfo=UTC)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium() -> str | None:
    return next(
        (
            p
            for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"))
            if p and Path(p).exists()
        ),
        None,
    )


def seed_story(engine: Engine) -> None:
    """Ten communities, 90 days of daily counts, posts with tool mentions and link domains."""
    day = timedelta(days=1)
    start = NOW - 90 * day
    communities = [
        # handle, platform, kind, status, members(day) for day in 0..90 (None: not observed)
        (
            "deepfakes",
            "reddit",
            "subreddit",
            "banned",
            lambda d: None if d < 20 else (0 if d >= 84 else round(1500 * math.exp((d - 20) * 0.0652))),
        ),
        (
            "FakeApp",
            "reddit",
            "subreddit",
            "banned",
            lambda d: None if d < 45 else (0 if d >= 85 else round(300 * math.exp((d - 45) * 0.09))),
        ),
        ("SFWdeepfakes", "reddit", "subreddit", "active", lambda d: round(800 + 40 * d + 0.9 * d * d)),
        ("deepfakesapp", "x", "account", "suspended", lambda d: None if d > 80 else round(2000 + 60 * d)),
        (
            "dfchat",
            "discord",
            "server",
            "banned",
            lambda d: None if d < 30 or d > 86 else 400 + 35 * (d - 30),
        ),
        (
            "faceswapnews",
            "telegram",
            "channel",
            "active",
            lambda d: None if d < 60 else round(900 * math.exp((d - 60) * 0.05)),
        ),
        ("deepfake", "mastodon", "hashtag", "active", lambda d: None),
        ("iperov/DeepFaceLab", "github", "repo", "active", lambda d: None),
        ("<b>odd&name</b>", "forum", "forum", "unknown", lambda d: None),
    ]
    tools = ["FakeApp", "DeepFaceLab", "faceswap", "DeepFaceLive", "Roop"]
    with engine.begin() as conn:
        tool_ids = [
            conn.execute(insert(Tool.__table__).values(name=t)).inserted_primary_key[0] for t in tools
        ]
        ids = {}
        for handle, platform, kind, status, curve in communities:
            cid = conn.execute(
                insert(Community.__table__).values(
                    platform=platform, kind=kind, handle=handle, status=status, first_seen_at=start
                )
            ).inserted_primary_key[0]
            ids[handle] = cid
            rows = [
                {
                    "community_id": cid,
                    "metric": "members",
                    "value": v,
                    "observed_at": start + d * day + timedelta(hours=6),
                    "source": f"{platform}_api",
                }
                for d in range(91)
                if (v := curve(d)) is not None
            ]
            if rows:
                conn.execute(insert(Metric.__table__), rows)
        conn.execute(
            insert(Metric.__table__),
            [
                {
                    "community_id": ids["deepfake"],
                    "metric": "posts_per_day",
                    "value": 5 + d % 4,
                    "observed_at": start + d * day,
                    "source": "mastodon_api",
                }
                for d in range(91)
            ],
        )
        changes = [
            ("deepfakes", 70, "active", "quarantined", "HTTP 403: quarantined"),
            ("deepfakesapp", 81, "active", "suspended", "User has been suspended: [deepfakesapp]."),
            ("deepfakes", 84, "quarantined", "banned", "HTTP 404: banned for violating the content policy"),
            ("FakeApp", 85, "active", "banned", "HTTP 404: banned"),
            ("dfchat", 87, "active", "banned", "Discord invite 10006: Unknown Invite"),
            ("faceswapnews", 60, None, "active", None),  # first seen: not shown
            ("<b>odd&name</b>", 88, "active", "blocked", "HTTP 451 <i>legal</i> & more"),
        ]
        conn.execute(
            insert(StatusChange.__table__),
            [
                {
                    "community_id": ids[h],
                    "observed_at": start + d * day + timedelta(hours=7),
                    "old_status": old,
                    "new_status": new,
                    "reason": why,
                }
                for h, d, old, new, why in changes
            ],
        )
        domains = ["gfycat.com", "gfycat.com", "imgur.com", "i.redd.it", "mega.nz", None]
        seq = 0
        for d in range(20, 90):
            weight = {
                "FakeApp": 1 + d // 12,
                "DeepFaceLab": max(0, (d - 50) // 6),
                "faceswap": 2,
                "DeepFaceLive": 1 if d > 75 else 0,
                "Roop": 0,
            }
            for name, n in weight.items():
                for _ in range(n):
                    seq += 1
                    home = "deepfakes" if d < 84 else "SFWdeepfakes"
                    pid = conn.execute(
                        insert(Post.__table__).values(
                            community_id=ids[home],
                            platform="reddit",
                            external_id=f"t3_{seq}",
                            created_at=start + d * day + timedelta(minutes=seq % 600),
                            first_seen_at=NOW,
                            last_seen_at=NOW,
                            state="visible",
                            link_domain=domains[seq % len(domains)]
                            if d < 84
                            else ["imgur.com", "mega.nz", "streamable.com", None][seq % 4],
                        )
                    ).inserted_primary_key[0]
                    conn.execute(
                        insert(Mention.__table__).values(post_id=pid, tool_id=tool_ids[tools.index(name)])
                    )


@pytest.fixture
def story_html(sqlite_engine: Engine, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    seed_story(sqlite_engine)
    data = build_report(sqlite_engine, since=timedelta(days=90), now=NOW)
    path = tmp_path / "report.html"
    path.write_text(render(data, "html"), encoding="utf-8")
    return path, data


def run_chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium not found (/usr/bin/chromium): `apt-get install -y chromium` to run this test")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_html_report_renders_charts_in_chromium_without_console_errors(
    story_html: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, data = story_html
    proc = run_chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri()], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Uncaught" not in proc.stderr and "ERROR:CONSOLE" not in proc.stderr, proc.stderr[-2000:]
    dom = proc.stdout
    assert len(re.findall(r"<svg\b", dom)) == 4  # growth, timeline, weekly mentions, domain bars
    assert dom.count("<polyline") >= len(data["member_series"])
    assert "<b>odd&amp;name</b>" not in dom and "&lt;b&gt;odd&amp;amp;name&lt;/b&gt;" not in dom
    assert "&lt;b&gt;odd&amp;name&lt;/b&gt;" in dom  # scraped text shown as text, once escaped
    assert "HTTP 451 &lt;i&gt;legal&lt;/i&gt; &amp; more" in dom


@pytest.mark.parametrize(("name", "size"), [("report-desktop", "1200,3400"), ("report-phone", "390,5200")])
def test_html_report_screenshot_is_kept_as_an_artefact(
    story_html: tuple[Path, dict[str, Any]], tmp_path: Path, name: str, size: str
) -> None:
    path, _ = story_html
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    (ARTIFACTS / "report.html").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    proc = run_chromium([f"--screenshot={shot}", f"--window-size={size}", path.as_uri()], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank one
