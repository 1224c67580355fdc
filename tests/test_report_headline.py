"""The growth table leads each row with its kind's headline figure (SourceSpec.headline).

A repository's stars, a model's all-time downloads, a search's model count: deltas, growth and
doubling are computed on that metric, the JSON row says which (`metric`, `value`), and
`members` stays the members figure (null where the row leads with another).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from crawler.db.models import Community, Metric, StatusChange
from crawler.plugins import headline_metrics
from crawler.report import build_report, render

NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def community(
    engine: Engine, platform: str, kind: str, handle: str, series: dict[str, list[tuple[float, float]]]
) -> int:
    with engine.begin() as conn:
        cid = conn.execute(
            insert(Community.__table__).values(
                platform=platform, kind=kind, handle=handle, status="active", first_seen_at=NOW - 90 * DAY
            )
        ).inserted_primary_key[0]
        rows = [
            {"community_id": cid, "metric": metric, "value": v, "observed_at": NOW - d * DAY, "source": "t"}
            for metric, points in series.items()
            for d, v in points
        ]
        if rows:
            conn.execute(insert(Metric.__table__), rows)
    return int(cid)


def row(report: dict[str, Any], handle: str) -> dict[str, Any]:
    return next(c for c in report["communities"] if c["handle"] == handle)


def test_the_declarations_name_the_hub_headlines():
    heads = headline_metrics()
    assert heads[("huggingface", "model")] == "downloads_total"
    assert heads[("civitai", "model")] == "downloads_total"
    assert heads[("civitai", "query")] == "models"
    assert heads[("github", "repo")] == "stars"
    assert ("reddit", "subreddit") not in heads  # members: the default


def test_each_row_leads_with_its_headline_metric(engine: Engine) -> None:
    community(engine, "reddit", "subreddit", "deepfakes", {"members": [(8, 100), (1, 300)]})
    community(
        engine, "github", "repo", "iperov/DeepFaceLab", {"stars": [(8, 1000), (1, 1500)], "forks": [(1, 9)]}
    )
    community(
        engine,
        "huggingface",
        "model",
        "sim-lab/inswapper-faceswap",
        {"downloads_total": [(31, 1000), (8, 4000), (1, 8000)], "downloads": [(1, 5000)], "likes": [(1, 7)]},
    )
    community(
        engine, "civitai", "query", "likeness", {"models": [(8, 40), (1, 10)], "downloads_total": [(1, 9)]}
    )

    report = build_report(engine, since=timedelta(days=30), now=NOW)

    sub = row(report, "deepfakes")
    assert (sub["metric"], sub["value"], sub["members"], sub["delta_7d"]) == ("members", 300, 300, 200)
    repo = row(report, "iperov/DeepFaceLab")
    assert (repo["metric"], repo["value"], repo["members"], repo["delta_7d"]) == ("stars", 1500, None, 500)
    model = row(report, "sim-lab/inswapper-faceswap")
    assert (model["metric"], model["value"], model["delta_7d"]) == ("downloads_total", 8000, 4000)
    assert model["growth_7d_pct"] == pytest.approx(100.0)
    assert model["doubling_days"] == pytest.approx(10.0)  # 1,000 → 8,000 over 30 days
    search = row(report, "likeness")
    assert (search["metric"], search["value"], search["delta_7d"]) == ("models", 10, -30)
    # Ordered by the gain in each row's own figure.
    assert [c["handle"] for c in report["communities"]][:2] == [
        "sim-lab/inswapper-faceswap",
        "iperov/DeepFaceLab",
    ]


def test_the_chart_draws_one_figure_members_first(engine: Engine) -> None:
    community(engine, "reddit", "subreddit", "deepfakes", {"members": [(3, 10), (1, 20)]})
    community(engine, "huggingface", "model", "a/b", {"downloads_total": [(3, 10), (1, 9000)]})
    community(engine, "civitai", "model", "1", {"downloads_total": [(3, 10), (1, 90)]})

    report = build_report(engine, since=timedelta(days=30), now=NOW)
    assert [(s["handle"], s["metric"]) for s in report["member_series"]] == [("deepfakes", "members")]

    hubs = build_report(engine, since=timedelta(days=30), now=NOW, platform="huggingface")
    assert [(s["handle"], s["metric"]) for s in hubs["member_series"]] == [("a/b", "downloads_total")]
    assert [p[1] for p in hubs["member_series"][0]["points"]] == [10, 9000]
    assert "downloads_total (log scale)" in render(hubs, "html")


def test_the_text_formats_name_the_figure(sqlite_engine: Engine) -> None:
    community(sqlite_engine, "civitai", "model", "310001", {"downloads_total": [(1, 1234)]})
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(StatusChange.__table__).values(
                community_id=1,
                observed_at=NOW - DAY,
                old_status="active",
                new_status="blocked",
                reason="TakenDown",
            )
        )
    report = build_report(sqlite_engine, since=timedelta(days=30), now=NOW)

    # platform, community, status, last checked (never, here), size, of
    assert "| civitai | 310001 | active | — | 1,234 | downloads_total |" in render(report, "md")
    text = render(report, "csv").split("\n", 1)[1]  # past the provenance comment line
    (line,) = [r for r in csv.DictReader(io.StringIO(text)) if r["section"] == "community"]
    assert (line["metric"], line["value"], line["members"]) == ("downloads_total", "1234", "")
    assert report["status_changes"][0]["reason"] == "TakenDown"  # takedowns are in the timeline
    assert "downloads_total" in render(report, "html")
