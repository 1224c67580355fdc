"""The CLI: exit codes, one-sentence errors, and docs that match the commands."""

from __future__ import annotations

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


def test_sources_counts_the_targets_an_unset_optional_credential_skips(tmp_path: Path) -> None:
    watch = {"bluesky": {"accounts": [{"name": "a.bsky.social"}], "searches": [{"name": "x"}, {"name": "y"}]}}
    cfg = write_config(tmp_path / "cfg", watch)
    env = {**_env(tmp_path), "COLUMNS": "200"}
    result = runner.invoke(app, ["sources", "--config", str(cfg)], env=env)
    assert result.exit_code == 0, result.output
    assert "enabled; 2 query targets skipped: set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD" in result.output
    env.update(BLUESKY_HANDLE="a.bsky.social", BLUESKY_APP_PASSWORD="app-pass-not-shown")
    result = runner.invoke(app, ["sources", "--config", str(cfg)], env=env)
    assert "skipped" not in result.output.split("bluesky", 1)[1].split("\n", 1)[0]
    assert "app-pass-not-shown" not in result.output


def test_missing_config_directory_is_a_config_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["crawl", "--config", str(tmp_path / "nope")], env=_env(tmp_path))
    assert result.exit_code == 2
    assert result.output.startswith("dfwatch: dfwatch crawl needs a watchlist: no config directory at ")
    assert result.output.count("\n") == 1  # one sentence, no traceback


def _bare(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dfwatch ARGS` in an empty directory: no ./config, no $DFWATCH_CONFIG."""
    work = tmp_path / "empty"
    work.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "DFWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_commands_without_a_watchlist_run_in_an_empty_directory(tmp_path: Path) -> None:
    upgraded = _bare(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "at revision" in upgraded.stdout
    for args in (
        ["query", "select count(*) as n from communities"],
        ["report", "--format", "json"],
        ["export", "--out", str(tmp_path / "export")],
        ["sources"],
    ):
        done = _bare(tmp_path, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "config directory not found" not in done.stderr
    assert not (tmp_path / "empty" / "config").exists()


@pytest.mark.parametrize("command", ["crawl", "schedule"])
def test_commands_that_need_a_watchlist_say_so_in_one_sentence(tmp_path: Path, command: str) -> None:
    done = _bare(tmp_path, command)
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"dfwatch: dfwatch {command} needs a watchlist: no config directory at config "
    )
    assert done.stderr.count("\n") == 1


def test_module_entry_point_runs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stdout.startswith("dfwatch ")


def test_help_keeps_the_settings_it_names_in_brackets() -> None:
    """`[cluster] broker` is a setting, not a Rich style tag: help prints it."""
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "[alerts] urls" in top.output
    crawl = runner.invoke(app, ["crawl", "--help"], env={"COLUMNS": "200"})
    assert "([cluster] broker)" in crawl.output
