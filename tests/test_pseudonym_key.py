"""The pseudonym key cannot change silently: a crawl from another directory finds the same
key file, and a crawl with another key stops before any request, the database unchanged.
Real praw against the fake Reddit, through `run_crawl` and the CLI."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crawler.cli import app
from crawler.config import Config, load_config
from crawler.db.keyguard import PseudonymKeyMismatch, record_key
from crawler.enrich.pseudonym import KEY_ENV, PseudonymKey, key_fingerprint, pseudonymise
from crawler.run import run_crawl
from tests.conftest import Sleeps, config_rows, write_config
from tests.fakes.reddit import FakeReddit

runner = CliRunner()


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        server.add_subreddit("Alpha", subscribers=100)
        server.add_post("Alpha", time.time() - 3600, author="real_person_1")
        yield server


@pytest.fixture
def layout(tmp_path: Path, fake: FakeReddit) -> tuple[Path, dict[str, str]]:
    """The standard layout: ./config beside ./data; no key in the environment."""
    cfg = write_config(tmp_path / "config", {"reddit": {"subreddits": ["Alpha"]}})
    env = {
        "DFWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'dfwatch.db'}",
        "DFWATCH_ENDPOINT_REDDIT": fake.url,
        "REDDIT_CLIENT_ID": fake.client_id,
        "REDDIT_CLIENT_SECRET": fake.client_secret,
    }
    return cfg, env


def crawl(config: Config) -> Any:
    return run_crawl(config, only=["reddit"], sleep=Sleeps())


def snapshot(config: Config) -> tuple[Any, ...]:
    return tuple(
        tuple(config_rows(config, f"select * from {t} order by 1"))  # noqa: S608 - constant names
        for t in ("crawl_runs", "run_sources", "posts", "pseudonym_key", "run_locks")
    )


def test_default_key_file_is_data_beside_config_whatever_the_working_directory(
    layout: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg_dir, env = layout
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_config(cfg_dir, env=env).pseudonym_key_file == tmp_path / "data" / "pseudonym.key"
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("config"), env=env).pseudonym_key_file == Path("data/pseudonym.key")
    # The shipped settings.toml says the same thing explicitly.
    shipped = Path(__file__).resolve().parent.parent / "config"
    shutil.copyfile(shipped / "settings.toml", cfg_dir / "settings.toml")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_config(cfg_dir, env=env).pseudonym_key_file == tmp_path / "data" / "pseudonym.key"


def test_first_pseudonymised_write_records_the_key_fingerprint(
    layout: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    cfg_dir, env = layout
    config = load_config(cfg_dir, env=env)
    assert crawl(config).status == "ok"
    key = (tmp_path / "data" / "pseudonym.key").read_bytes().strip()
    ((fingerprint,),) = config_rows(config, "select fingerprint from pseudonym_key")
    assert fingerprint == key_fingerprint(key)
    assert key.decode() not in fingerprint
    ((author,),) = config_rows(config, "select author from posts")
    assert author == pseudonymise(key, "reddit", "real_person_1")


def test_counts_only_crawl_records_no_key(layout: tuple[Path, dict[str, str]]) -> None:
    cfg_dir, env = layout
    write_config(cfg_dir, {"reddit": {"subreddits": [{"name": "Alpha", "content": "counts"}]}})
    config = load_config(cfg_dir, env=env)
    assert crawl(config).status == "ok"
    assert config_rows(config, "select * from pseudonym_key") == []


def test_moved_key_file_stops_the_next_crawl_before_any_request(
    layout: tuple[Path, dict[str, str]], tmp_path: Path, fake: FakeReddit
) -> None:
    cfg_dir, env = layout
    config = load_config(cfg_dir, env=env)
    crawl(config)
    key_file = tmp_path / "data" / "pseudonym.key"
    key_file.rename(tmp_path / "moved.key")
    before = snapshot(config)
    fake.reset_counts()
    with pytest.raises(PseudonymKeyMismatch, match="pseudonymised with another key") as info:
        crawl(load_config(cfg_dir, env=env))
    assert "there was no key file at" in str(info.value) and "removed again" in str(info.value)
    assert info.value.exit_code == 2
    assert fake.total_requests == 0
    assert not key_file.exists()  # the key made for nothing is not left behind
    assert snapshot(config) == before
    # Putting the key back is the fix.
    (tmp_path / "moved.key").rename(key_file)
    assert crawl(load_config(cfg_dir, env=env)).status == "ok"


def test_crawl_with_another_key_in_the_environment_exits_2_with_what_to_do(
    layout: tuple[Path, dict[str, str]], fake: FakeReddit
) -> None:
    cfg_dir, env = layout
    config = load_config(cfg_dir, env=env)
    crawl(config)
    before = snapshot(config)
    fake.reset_counts()
    result = runner.invoke(
        app, ["crawl", "--config", str(cfg_dir)], env={**env, KEY_ENV: "another-key-of-enough-length"}
    )
    assert result.exit_code == 2, result.output
    assert "pseudonymised with another key" in result.output
    assert f"the key comes from {KEY_ENV}" in result.output and "docs/security.md" in result.output
    assert "internal error" not in result.output
    assert fake.total_requests == 0
    assert snapshot(config) == before


def test_a_concurrent_crawl_that_recorded_another_key_first_stops_the_write(
    layout: tuple[Path, dict[str, str]],
) -> None:
    cfg_dir, env = layout
    config = load_config(cfg_dir, env={**env, KEY_ENV: "key-of-the-first-crawl"})
    crawl(config)  # records the first key
    with pytest.raises(PseudonymKeyMismatch):
        record_key_of(config, b"key-of-the-second-crawl")


def record_key_of(config: Config, key: bytes) -> None:
    from crawler.db.engine import make_engine

    engine = make_engine(config.database_url)
    try:
        record_key(engine, PseudonymKey(key, KEY_ENV))
    finally:
        engine.dispose()
