"""The Parquet export is what docs/notebook.md says it is (UTC timestamps, double values), and
examples/growth.py answers its three questions with pandas and DuckDB alike."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import DateTime, Float

from crawler.db import models
from crawler.db.engine import make_engine, upgrade
from crawler.db.export import EXPORT_TABLES, export_tables
from crawler.db.types import UTCDateTime
from tests.test_browse import seed

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pandas", reason="the notebook examples need pandas (pip install 'dfwatch[notebook]')")
pytest.importorskip("duckdb", reason="the notebook examples need duckdb (pip install 'dfwatch[notebook]')")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "growth.py"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("notebook")
    eng = make_engine(f"sqlite:///{d / 'db.sqlite'}")
    upgrade(eng)
    seed(eng)
    eng.dispose()
    export_tables(f"sqlite:///{d / 'db.sqlite'}", d / "export", "parquet")
    return d / "export"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("growth_example", EXAMPLE)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parquet_times_are_utc_timestamps_and_values_doubles(export: Path) -> None:
    for name in EXPORT_TABLES:
        schema = pq.read_schema(export / f"{name}.parquet")
        for col in models.Base.metadata.tables[name].columns:
            field = schema.field(col.name)
            if isinstance(col.type, UTCDateTime | DateTime):
                assert field.type == pa.timestamp("us", tz="UTC"), f"{name}.{col.name}: {field.type}"
            elif isinstance(col.type, Float):
                assert field.type == pa.float64(), f"{name}.{col.name}: {field.type}"
    assert pq.read_schema(export / "metrics.parquet").field("value").type == pa.float64()


def test_daily_members_agree_between_pandas_and_duckdb(export: Path, example: ModuleType) -> None:
    pandas_side = example.daily_members(export, "DeepFakes")
    duck_side = example.daily_members_duckdb(export, "deepfakes")
    assert len(pandas_side) == len(duck_side) == 30
    assert list(pandas_side.members) == list(duck_side.members)
    assert str(pandas_side.day.dt.tz) == "UTC"
    assert pandas_side.members.iloc[-1] == 3900.0


def test_tool_trend_and_status_timeline(export: Path, example: ModuleType) -> None:
    trend = example.tool_trend(export)
    assert set(trend.tool) == {"FakeApp"} and trend.mentions.sum() == 12
    assert all(w.weekday() == 0 for w in trend.week)  # weeks start on Monday
    timeline = example.status_timeline(export)
    assert list(timeline.new_status) == ["banned"] and timeline.reason.iloc[0] == "HTTP 404: banned"


def test_example_script_runs(export: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(export), "deepfakes"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "status timeline" in proc.stdout and "3900.0" in proc.stdout
