"""Config loading: every error names the file, the entry and the problem; env overrides.

Each invalid case goes through `load_config(dir, env=...)` as the CLI calls it, and checks
the whole message a user would read (with the temporary directory replaced by <dir>).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.config import DEFAULT_ENDPOINTS, SOURCE_NAMES, Config, load_config
from crawler.errors import ConfigError
from crawler.records import CommunityKey
from tests.conftest import write_config

PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config"


def config_error(directory: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(directory, env=env or {})
    return err.value


def message(directory: Path, **kw: Any) -> str:
    """The error message for a config written with `write_config(directory, **kw)`."""
    write_config(directory, **kw)
    return str(config_error(directory)).replace(str(directory), "<dir>")


# ----------------------------------------------------------------------------- syntax


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "watchlist.yaml").write_text("reddit:\n  subreddits: [SFWdeepfakes, faceswap\nx: {}\n")
    err = config_error(tmp_path)
    assert err.file == str(tmp_path / "watchlist.yaml")
    assert err.entry == "line 3, column 2"
    assert str(err) == (
        f"{tmp_path}/watchlist.yaml: line 3, column 2: YAML syntax error: expected ',' or ']', but got ':'"
    )


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    assert message(tmp_path, settings="[schedule\ncron = '0 3 * * *'\n") == (
        "<dir>/settings.toml: TOML syntax error: Expected ']' at the end of a table declaration "
        "(at line 1, column 10)"
    )


def test_missing_config_directory_is_named(tmp_path: Path) -> None:
    err = config_error(tmp_path / "nowhere")
    assert err.file == str(tmp_path / "nowhere")
    assert "config directory not found" in str(err)


def test_missing_watchlist_is_named(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "watchlist.yaml").unlink()
    assert str(config_error(tmp_path)) == f"{tmp_path}/watchlist.yaml: file not found"


# ----------------------------------------------------------------------------- watchlist


@pytest.mark.parametrize(
    ("watchlist", "expected"),
    [
        (
            {"myspace": {"groups": ["deepfakes"]}},
            "myspace: unknown platform 'myspace' (known: reddit, x, github, discord, telegram, forums, mastodon, arctic_shift, huggingface, civitai)",
        ),
        ({"reddit": {"users": ["someone"]}}, "reddit.users: unknown key 'users'"),
        (
            {"reddit": ["SFWdeepfakes"]},
            "reddit: expected a mapping of lists (subreddits), got ['SFWdeepfakes']",
        ),
        (
            {"reddit": {"subreddits": "SFWdeepfakes"}},
            "reddit.subreddits: expected a list, got 'SFWdeepfakes'",
        ),
        (
            {"reddit": {"subreddits": [{"name": "SFWdeepfakes", "colour": "red"}]}},
            "reddit.subreddits[0].colour: unknown key 'colour'",
        ),
        (
            {"reddit": {"subreddits": [{"name": "SFWdeepfakes", "content": "everything"}]}},
            "reddit.subreddits[0].content: unknown content policy 'everything' (known: counts, metadata, full)",
        ),
        (
            {"reddit": {"subreddits": [{"name": "SFWdeepfakes", "nsfw": "perhaps"}]}},
            "reddit.subreddits[0].nsfw: expected true or false, got 'perhaps'",
        ),
        (
            {"reddit": {"subreddits": [{"name": "SFWdeepfakes", "tags": "banned"}]}},
            "reddit.subreddits[0].tags: expected a list, got 'banned'",
        ),
        (
            {"reddit": {"subreddits": [{"content": "full"}]}},
            "reddit.subreddits[0].name: missing required key 'name'",
        ),
        (
            {"reddit": {"subreddits": [["a", "b"]]}},
            "reddit.subreddits[0]: expected a name, or a mapping with name and optional content, nsfw, tags, got ['a', 'b']",
        ),
        (
            {"reddit": {"subreddits": ["SFWdeepfakes", "faceswap", "sfwDeepfakes"]}},
            "reddit.subreddits[2]: 'sfwDeepfakes' is listed twice (also at reddit.subreddits[0])",
        ),
        (
            {"reddit": {"subreddits": ["a b"]}},
            "reddit.subreddits[0]: 'a b' is not a valid name: a subreddit name is 2-21 letters, digits or _",
        ),
        (
            {"reddit": {"subreddits": ["x"]}},
            "reddit.subreddits[0]: 'x' is not a valid name: a subreddit name is 2-21 letters, digits or _",
        ),
        (
            {"reddit": {"subreddits": ["a" * 22]}},
            f"reddit.subreddits[0]: {'a' * 22!r} is not a valid name: a subreddit name is 2-21 letters, digits or _",
        ),
        (
            {"reddit": {"subreddits": ["r/deepfakes"]}},
            "reddit.subreddits[0]: 'r/deepfakes' is not a valid name: a subreddit name is 2-21 letters, digits or _",
        ),
        (
            {"arctic_shift": {"subreddits": ["dash-name"]}},
            "arctic_shift.subreddits[0]: 'dash-name' is not a valid name: a subreddit name is 2-21 letters, digits or _",
        ),
        (
            {"x": {"accounts": ["@someone"]}},
            "x.accounts[0]: '@someone' is not a valid name: an X handle is 1-15 letters, digits or _ (without @)",
        ),
        (
            {"x": {"accounts": ["a_much_too_long_handle"]}},
            "x.accounts[0]: 'a_much_too_long_handle' is not a valid name: an X handle is 1-15 letters, digits or _ (without @)",
        ),
        ({"x": {"queries": ["  "]}}, "x.queries[0]: an empty query"),
        (
            {"github": {"repos": ["noslash"]}},
            "github.repos[0]: 'noslash' is not a valid name: a GitHub repository is written owner/repo",
        ),
        (
            {"github": {"repos": ["https://github.com/iperov/DeepFaceLab"]}},
            "github.repos[0]: 'https://github.com/iperov/DeepFaceLab' is not a valid name: a GitHub repository is written owner/repo",
        ),
        (
            {"forums": [{"url": "https://forum.faceswap.dev", "engine": "vbulletin"}]},
            "forums[0].engine: 'vbulletin' is not allowed (expected phpbb or discourse)",
        ),
        (
            {"forums": [{"url": "forum.faceswap.dev", "engine": "phpbb"}]},
            "forums[0]: 'forum.faceswap.dev' is not an http(s) URL",
        ),
        (
            {"mastodon": {"hashtags": ["deepfake"]}},
            "mastodon.hashtags[0]: expected a mapping with instance and tag, got 'deepfake'",
        ),
        (
            {"mastodon": {"hashtags": [{"instance": "mastodon.social", "tag": "deep fake"}]}},
            "mastodon.hashtags[0]: 'deep fake' is not a hashtag",
        ),
    ],
)
def test_watchlist_error_names_entry_and_problem(
    tmp_path: Path, watchlist: dict[str, Any], expected: str
) -> None:
    assert message(tmp_path, watchlist=watchlist) == f"<dir>/watchlist.yaml: {expected}"


def test_watchlist_error_carries_file_and_entry_fields(tmp_path: Path) -> None:
    write_config(tmp_path, watchlist={"github": {"repos": ["iperov/DeepFaceLab", "noslash"]}})
    err = config_error(tmp_path)
    assert (err.file, err.entry) == (str(tmp_path / "watchlist.yaml"), "github.repos[1]")
    assert err.problem == "'noslash' is not a valid name: a GitHub repository is written owner/repo"


def test_empty_sections_and_numeric_names_are_accepted(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "watchlist.yaml").write_text("x:\nreddit:\n  subreddits:\n    - 1200\n")
    config = load_config(tmp_path, env={})
    assert [t.key.handle for t in config.targets("reddit")] == ["1200"]
    assert config.targets("x") == []


# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            '[schedule]\ncron = "61 * * * *"\n',
            "schedule.cron: cron '61 * * * *': minute field '61': the last value (61) is higher than the maximum value (59)",
        ),
        (
            '[schedule]\ncron = "0 3 * *"\n',
            "schedule.cron: cron '0 3 * *' needs 5 fields (minute hour day month weekday), has 4",
        ),
        (
            '[schedule]\ncron = "0 3 * * * *"\n',
            "schedule.cron: cron '0 3 * * * *' needs 5 fields (minute hour day month weekday), has 6",
        ),
        (
            '[schedule]\ncron = "0 3 * * 8"\n',
            "schedule.cron: cron '0 3 * * 8': day-of-week field '8': day of week '8' is not 0-7 or sun-sat",
        ),
        (
            '[schedule.sources]\narctic_shift = "0 25 * * mon"\n',
            "schedule.sources: cron '0 25 * * mon': hour field '25': the last value (25) is higher than the maximum value (23)",
        ),
        (
            '[schedule.sources]\nredit = "0 3 * * *"\n',
            "schedule.sources: unknown source 'redit' (known: reddit, x, github, discord, telegram, forums, mastodon, arctic_shift, huggingface, civitai)",
        ),
        ('[crawler]\ncontakt = "me@example.org"\n', "crawler.contakt: unknown key 'contakt'"),
        ('[crawlr]\ncontact = "me@example.org"\n', "crawlr: unknown key 'crawlr'"),
        (
            '[privacy]\ndefault_policy = "all"\n',
            "privacy.default_policy: unknown content policy 'all' (known: counts, metadata, full)",
        ),
        (
            '[privacy]\nnsfw_policy = "none"\n',
            "privacy.nsfw_policy: unknown content policy 'none' (known: counts, metadata, full)",
        ),
        (
            '[endpoints]\nredit = "http://127.0.0.1:8000"\n',
            "endpoints: unknown endpoint 'redit' (known: reddit, reddit_auth, x, github, discord, telegram, arctic_shift, huggingface, civitai)",
        ),
        (
            '[endpoints]\nreddit = "ftp://127.0.0.1"\n',
            "endpoints: endpoint reddit must be an http(s) URL, got 'ftp://127.0.0.1'",
        ),
        (
            '[rate_limits]\nmax_retries = "many"\n',
            "rate_limits.max_retries: expected a whole number, got 'many'",
        ),
        (
            "[rate_limits]\nmax_retries = 50\n",
            "rate_limits.max_retries: input should be less than or equal to 10, got 50",
        ),
        ("privacy = 5\n", "privacy: expected a mapping, got 5"),
    ],
)
def test_settings_error_names_key_and_problem(tmp_path: Path, settings: str, expected: str) -> None:
    assert message(tmp_path, settings=settings) == f"<dir>/settings.toml: {expected}"


@pytest.mark.parametrize("cron", ["0 3 * * *", "*/15 * * * *", "0 4 * * mon", "0 4 * * 1-5", "0 4 * * 7"])
def test_valid_crontab_expressions_load(tmp_path: Path, cron: str) -> None:
    write_config(tmp_path, settings=f'[schedule]\ncron = "{cron}"\n')
    assert load_config(tmp_path, env={}).settings.schedule.cron == cron


# ----------------------------------------------------------------------------- tools


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (
            [{"name": "DeepFaceLab", "aliases": ["DFL"]}, {"name": "DFLive", "aliases": ["dfl"]}],
            "tools[1]: 'dfl' already names the tool 'DeepFaceLab'; a name or alias may name one tool only",
        ),
        (
            [{"name": "roop"}, {"name": "Roop"}],
            "tools[1]: 'Roop' already names the tool 'roop'; a name or alias may name one tool only",
        ),
        (
            [{"name": "faceswap", "aliases": ["FaceSwap"]}],
            "tools[0]: 'FaceSwap' already names itself; a name or alias may name one tool only",
        ),
        ([{"name": "FakeApp", "alias": ["fa"]}], "tools[0].alias: unknown key 'alias'"),
        ([{"aliases": ["fa"]}], "tools[0].name: missing required key 'name'"),
        (
            ["FakeApp"],
            "tools[0]: expected a mapping with name and optional aliases, category, repository, got 'FakeApp'",
        ),
    ],
)
def test_tools_error_names_entry_and_problem(tmp_path: Path, tools: list[Any], expected: str) -> None:
    assert message(tmp_path, tools=tools) == f"<dir>/tools.yaml: {expected}"


# ----------------------------------------------------------------------------- environment


def test_database_url_env_overrides_settings(tmp_path: Path) -> None:
    write_config(tmp_path, settings='[database]\nurl = "sqlite:///from-settings.db"\n')
    assert load_config(tmp_path, env={}).database_url == "sqlite:///from-settings.db"
    env = {"DFWATCH_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/db"}
    assert load_config(tmp_path, env=env).database_url == "postgresql+psycopg://u@127.0.0.1:5432/db"


def test_endpoint_env_overrides_and_reddit_auth_follows_reddit(tmp_path: Path) -> None:
    write_config(tmp_path, settings='[endpoints]\ngithub = "http://127.0.0.1:9/gh/"\n')
    config = load_config(tmp_path, env={"DFWATCH_ENDPOINT_REDDIT": "http://127.0.0.1:8001/"})
    assert config.endpoint("reddit") == "http://127.0.0.1:8001"
    assert config.endpoint("reddit_auth") == "http://127.0.0.1:8001"
    assert config.endpoint("github") == "http://127.0.0.1:9/gh"
    assert config.endpoint("x") == DEFAULT_ENDPOINTS["x"]


def test_reddit_auth_env_wins_over_reddit(tmp_path: Path) -> None:
    write_config(tmp_path)
    config = load_config(
        tmp_path,
        env={
            "DFWATCH_ENDPOINT_REDDIT": "http://127.0.0.1:8001",
            "DFWATCH_ENDPOINT_REDDIT_AUTH": "http://127.0.0.1:8002",
        },
    )
    assert (config.endpoint("reddit"), config.endpoint("reddit_auth")) == (
        "http://127.0.0.1:8001",
        "http://127.0.0.1:8002",
    )


def test_every_endpoint_has_an_env_override(tmp_path: Path) -> None:
    write_config(tmp_path)
    env = {f"DFWATCH_ENDPOINT_{name.upper()}": f"http://127.0.0.1:1/{name}" for name in DEFAULT_ENDPOINTS}
    config = load_config(tmp_path, env=env)
    assert {n: config.endpoint(n) for n in DEFAULT_ENDPOINTS} == {
        n: f"http://127.0.0.1:1/{n}" for n in DEFAULT_ENDPOINTS
    }


def test_config_directory_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "elsewhere", watchlist={"reddit": {"subreddits": ["faceswap"]}})
    monkeypatch.chdir(tmp_path)  # ./config does not exist here
    config = load_config(None, env={"DFWATCH_CONFIG": str(tmp_path / "elsewhere")})
    assert config.directory == tmp_path / "elsewhere"
    assert [t.key.handle for t in config.targets("reddit")] == ["faceswap"]


def test_explicit_directory_wins_over_env(tmp_path: Path) -> None:
    write_config(tmp_path / "a", watchlist={"reddit": {"subreddits": ["faceswap"]}})
    config = load_config(tmp_path / "a", env={"DFWATCH_CONFIG": str(tmp_path / "missing")})
    assert config.directory == tmp_path / "a"


def test_credentials_are_read_from_env_only_when_set(tmp_path: Path) -> None:
    write_config(tmp_path)
    config = load_config(tmp_path, env={"REDDIT_CLIENT_ID": "id", "REDDIT_CLIENT_SECRET": ""})
    assert config.credential("REDDIT_CLIENT_ID") == "id"
    assert config.missing_credentials("reddit") == ("REDDIT_CLIENT_SECRET",)
    assert config.missing_credentials("x") == ("X_BEARER_TOKEN",)
    assert config.missing_credentials("github") == ()


# ----------------------------------------------------------------------------- the project's own config


@pytest.fixture(scope="module")
def project() -> Config:
    return load_config(PROJECT_CONFIG, env={})


def test_project_config_watches_the_issue_2_communities(project: Config) -> None:
    reddit = {t.key.handle: t for t in project.targets("reddit")}
    assert list(reddit) == ["SFWdeepfakes", "DeepFakesSFW", "faceswap", "deepfakes", "FakeApp", "GIFFakes"]
    assert {h: t.policy for h, t in reddit.items() if "banned-2018" in t.tags} == {
        "deepfakes": "counts",
        "FakeApp": "counts",
        "GIFFakes": "counts",
    }
    assert reddit["SFWdeepfakes"].policy == "metadata"
    assert [t.key.handle for t in project.targets("arctic_shift")] == ["deepfakes", "FakeApp"]
    assert {t.key.handle for t in project.targets("github")} >= {
        "iperov/DeepFaceLab",
        "deepfakes/faceswap",
        "s0md3v/roop",
        "hacksider/Deep-Live-Cam",
    }
    assert [t.key.kind for t in project.targets("x")] == ["query"] * 4


def test_project_config_history_shares_the_live_subreddit_community(project: Config) -> None:
    handles = [t.key for t in project.all_targets() if t.key.platform == "reddit"]
    assert len(handles) == len({k.norm for k in handles}) == 6
    # Arctic Shift's entry carries no policy of its own; the live entry's counts applies.
    assert project.policy_for(CommunityKey("reddit", "subreddit", "DEEPFAKES")) == "counts"


def test_project_config_settings_and_tools(project: Config) -> None:
    s = project.settings
    assert (s.privacy.default_policy, s.privacy.nsfw_policy) == ("metadata", "counts")
    assert s.schedule.cron == "0 3 * * *"
    assert set(s.schedule.sources) <= set(SOURCE_NAMES)
    names = {t.name for t in project.tools}
    assert {"FakeApp", "DeepFaceLab", "faceswap", "roop", "Deep-Live-Cam"} <= names


def test_policy_for_unwatched_community_uses_the_nsfw_flag(project: Config) -> None:
    key = CommunityKey("reddit", "subreddit", "NotWatched")
    assert project.policy_for(key) == "metadata"
    assert project.policy_for(key, nsfw=True) == "counts"
