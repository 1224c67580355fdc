"""Reading the Parquet export with pandas and DuckDB: a community's daily members, the tool
trend, the status timeline (docs/notebook.md walks through the same steps).

    dfwatch export --format parquet --out data/export
    python examples/growth.py data/export deepfakes

Needs pandas and duckdb (`pip install 'dfwatch[notebook]'`). Every time in the export is a
UTC timestamp and every metric value a double, so nothing here converts time zones or types.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd


def daily_members(export: Path, handle: str) -> pd.DataFrame:
    """pandas: members per UTC day (the day's last observation) of the communities named `handle`."""
    communities = pd.read_parquet(export / "communities.parquet", columns=["id", "platform", "handle"])
    metrics = pd.read_parquet(export / "metrics.parquet", filters=[("metric", "==", "members")])
    ids = communities.loc[communities.handle.str.lower() == handle.lower(), "id"]
    m = metrics[metrics.community_id.isin(ids)].sort_values(["observed_at", "id"])
    m = m.assign(day=m.observed_at.dt.floor("D"))  # observed_at is datetime64[us, UTC]
    daily = m.groupby(["community_id", "day"]).value.last().reset_index(name="members")
    return daily.merge(communities, left_on="community_id", right_on="id").drop(columns="id")


def daily_members_duckdb(export: Path, handle: str) -> pd.DataFrame:
    """DuckDB: the same series in SQL over the Parquet files."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # timestamps are UTC; so is the day they fall on
    return con.execute(
        f"""
        SELECT c.platform, c.handle, CAST(m.observed_at AS DATE) AS day,
               arg_max(m.value, m.observed_at) AS members
        FROM read_parquet('{export / "metrics.parquet"}') m
        JOIN read_parquet('{export / "communities.parquet"}') c ON c.id = m.community_id
        WHERE m.metric = 'members' AND lower(c.handle) = lower(?)
        GROUP BY ALL ORDER BY c.platform, day
        """,  # noqa: S608 - the paths are ours; the handle is a bound parameter
        [handle],
    ).df()


def tool_trend(export: Path) -> pd.DataFrame:
    """DuckDB: mentions per tool and week (weeks start on Monday, UTC, by the post's creation)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(
        f"""
        SELECT t.name AS tool, date_trunc('week', p.created_at) AS week, COUNT(*) AS mentions
        FROM read_parquet('{export / "mentions.parquet"}') mn
        JOIN read_parquet('{export / "posts.parquet"}') p ON p.id = mn.post_id
        JOIN read_parquet('{export / "tools.parquet"}') t ON t.id = mn.tool_id
        WHERE p.created_at IS NOT NULL
        GROUP BY ALL ORDER BY week, tool
        """  # noqa: S608 - the paths are ours
    ).df()


def status_timeline(export: Path) -> pd.DataFrame:
    """pandas: every status change, oldest first, with the community and the evidence."""
    changes = pd.read_parquet(export / "status_changes.parquet")
    communities = pd.read_parquet(
        export / "communities.parquet", columns=["id", "platform", "kind", "handle"]
    )
    timeline = changes.merge(communities, left_on="community_id", right_on="id", suffixes=("", "_c"))
    cols = ["observed_at", "platform", "kind", "handle", "old_status", "new_status", "reason"]
    return timeline.sort_values("observed_at")[cols].reset_index(drop=True)


def main(argv: list[str]) -> int:
    export = Path(argv[1]) if len(argv) > 1 else Path("data/export")
    handle = argv[2] if len(argv) > 2 else "deepfakes"
    pd.set_option("display.width", 160)
    print(f"daily members of {handle} (pandas):\n{daily_members(export, handle).tail(10)}\n")
    print(f"daily members of {handle} (DuckDB):\n{daily_members_duckdb(export, handle).tail(10)}\n")
    print(f"tool mentions per week:\n{tool_trend(export).tail(10)}\n")
    print(f"status timeline:\n{status_timeline(export)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
