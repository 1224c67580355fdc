"""The CLI: exit codes, one-sentence errors, and docs that match the commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from crawler.cli import app
from crawler.db.engine import make_engine
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "DFWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DFWATCH_PSEUDONYM_KEY": "k",
        "REDDIT_CLIENT_ID": "",
        "REDDIT_CLIENT_SECRET": "",
        "X_BEARER_TOKEN": "",
    }


def test_crawl_with_only_credentialed_sources_missing_skips_them_and_exits_0(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "cfg", {"reddit": {"subreddits": ["SFWdeepfakes"]}, "x": {"accounts": ["a"]}}
    )
    result = runner.invoke(app, ["crawl", "--config", str(cfg)], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET" in result.output
    assert "X_BEARER_TOKEN" in result.output
    eng = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with eng.connect() as conn:
        # The watched community has its row from the first crawl on, status unknown.
        rows = conn.execute(text("select platform, kind, handle, status from communities")).all()
        runs = conn.execute(text("select trigger, status from crawl_runs")).all()
        sources = dict(conn.execute(text("select source, status from run_sources")).all())
    assert ("reddit", "subreddit", "SFWdeepfakes", "unknown") in rows
    assert runs == [("manual", "ok")]
    assert sources == {"reddit": "skipped", "x": "skipped"}


def test_config_error_exits_2_with_one_sentence_naming_file_and_entry(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {"reddit": {"subreddits": ["not a name"]}})
    result = runner.invoke(app, ["crawl", "--config", str(cfg)], env=_env(tmp_path))
    assert result.exit_code == 2
    assert "watchlist.yaml" in result.output and "reddit.subreddits[0]" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "db.sqlite").exists(), "nothing may happen before the config is valid"


def test_unknown_source_in_only_is_a_usage_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {})
    result = runner.invoke(
        app, ["crawl", "--only", "reddit,myspace", "--config", str(cfg)], env=_env(tmp_path)
    )
    assert result.exit_code == 2
    assert "unknown source myspace" in result.output


def test_bad_trigger_is_a_usage_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {})
    result = runner.invoke(app, ["crawl", "--trigger", "cron", "--config", str(cfg)], env=_env(tmp_path))
    assert result.exit_code == 2


def test_query_refuses_a_write_with_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {})
    env = _env(tmp_path)
    assert runner.invoke(app, ["db", "upgrade", "--config", str(cfg)], env=env).exit_code == 0
    result = runner.invoke(app, ["query", "delete from communities", "--config", str(cfg)], env=env)
    assert result.exit_code == 2
    assert "read-only" in result.output


def test_query_json_returns_rows(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {"github": {"repos": ["iperov/DeepFaceLab"]}})
    env = _env(tmp_path)
    assert runner.invoke(app, ["db", "upgrade", "--config", str(cfg)], env=env).exit_code == 0
    result = runner.invoke(
        app,
        ["query", "select count(*) as n from communities", "--format", "json", "--config", str(cfg)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert '"n"' in result.output


def test_sources_lists_credentials_without_values(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {"reddit": {"subreddits": ["faceswap"]}})
    env = {**_env(tmp_path), "REDDIT_CLIENT_ID": "id-123", "REDDIT_CLIENT_SECRET": "s3cr3t-value"}
    result = runner.invoke(app, ["sources", "--config", str(cfg)], env=env)
    assert result.exit_code == 0, result.output
    assert "REDDIT_CLIENT_SECRET set" in result.output
    assert "s3cr3t-value" not in result.output and "id-123" not in result.output


def test_missing_config_directory_is_a_config_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["crawl", "--config", str(tmp_path / "nope")], env=_env(tmp_path))
    assert result.exit_code == 2
    assert "config directory not found" in result.output


def test_module_entry_point_runs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stdout.startswith("dfwatch ")


@pytest.mark.parametrize(
    "command", ["crawl", "schedule", "report", "query", "export", "sources", "db upgrade", "demo", "browse"]
)
def test_commands_are_documented(command: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"`dfwatch {command}\b", readme), f"README does not document `dfwatch {command}`"
    names = {c.name or (c.callback.__name__ if c.callback else None) for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups}
    assert command.split()[0] in names
