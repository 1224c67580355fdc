"""The telegram watchlist section: channels, groups and bots, with Telegram's naming rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.errors import ConfigError
from tests.conftest import write_config


def test_groups_and_bots_become_telegram_targets_of_their_kind(tmp_path: Path) -> None:
    watchlist = {
        "telegram": {
            "channels": ["faceswapnews"],
            "groups": ["faceswap_help", {"name": "schoolrooms", "content": "counts", "tags": ["kr-2024"]}],
            "bots": ["SwapFaceBot", "undress_helper_bot"],
        }
    }
    config = load_config(write_config(tmp_path, watchlist), env={})
    assert [str(t.key) for t in config.targets("telegram")] == [
        "telegram:channel:faceswapnews",
        "telegram:group:faceswap_help",
        "telegram:group:schoolrooms",
        "telegram:bot:SwapFaceBot",
        "telegram:bot:undress_helper_bot",
    ]
    counts = {t.key.handle: t.policy for t in config.targets("telegram")}["schoolrooms"]
    assert counts == "counts"


@pytest.mark.parametrize(
    ("section", "name", "problem"),
    [
        ("groups", "abc", "a Telegram group name is 5-32 letters, digits or _, starting with a letter"),
        ("groups", "1group", "a Telegram group name is 5-32 letters, digits or _, starting with a letter"),
        ("groups", "a" * 33, "a Telegram group name is 5-32 letters, digits or _, starting with a letter"),
        ("bots", "SwapFace", 'ending in "bot"'),
        ("bots", "abot", 'ending in "bot"'),  # 4 characters: below Telegram's 5
        ("bots", "swap-face-bot", 'ending in "bot"'),
        ("bots", "b" * 30 + "bot", 'ending in "bot"'),  # 33 characters
    ],
)
def test_telegram_names_follow_telegrams_rules(tmp_path: Path, section: str, name: str, problem: str) -> None:
    write_config(tmp_path, {"telegram": {section: [name]}})
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, env={})
    assert err.value.entry == f"telegram.{section}[0]"
    assert err.value.problem.startswith(f"{name!r} is not a valid name: ")
    assert problem in err.value.problem


@pytest.mark.parametrize("name", ["SwapFaceBot", "swapface_bot", "abbot", "SWAPBOT", "a" * 29 + "Bot"])
def test_bot_names_end_in_bot_in_any_case(tmp_path: Path, name: str) -> None:
    config = load_config(write_config(tmp_path, {"telegram": {"bots": [name]}}), env={})
    assert [t.key.kind for t in config.targets("telegram")] == ["bot"]
