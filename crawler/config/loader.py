"""Reading config/ from disk: YAML and TOML parsing, validation, messages that name the entry.

Invalid input raises `ConfigError` naming the file, the entry and the problem, before any
request is sent.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from crawler.config.core import Config
from crawler.config.models import (
    DISCORD_INVITE_RE,
    GITHUB_REPO_RE,
    HOST_RE,
    MASTODON_TAG_RE,
    SETTINGS_FILE,
    SUBREDDIT_RE,
    TELEGRAM_BOT_RE,
    TELEGRAM_CHANNEL_RE,
    TOOLS_FILE,
    WATCHLIST_FILE,
    X_HANDLE_RE,
    Settings,
    Tool,
    Watchlist,
    _instance_host,
)
from crawler.errors import ConfigError


def config_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(explicit or env.get("DFWATCH_CONFIG") or "config")


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise ConfigError(f"YAML syntax error: {problem}", file=str(path), entry=where) from None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# What a mapping of each model should look like, for "expected a mapping" messages.
_SHAPES: dict[str, str] = {
    "Entry": "a name, or a mapping with name and optional content, nsfw, tags",
    "ForumEntry": "a mapping with url and engine (phpbb or discourse)",
    "MastodonTag": "a mapping with instance and tag",
}
_POLICY_FIELDS = frozenset({"content", "default_policy", "nsfw_policy"})
_TYPE_WORDS: dict[str, str] = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
}


def _validation_message(err: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    """One plain sentence for a pydantic error: what is wrong and what was given."""
    kind, given = err["type"], err.get("input")
    field_name = loc[-1] if loc else None
    if kind == "extra_forbidden":
        return f"unknown key {field_name!r}" if loc else "unknown key"
    if kind == "missing":
        return f"missing required key {field_name!r}"
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "").replace("'", "")
        if field_name in _POLICY_FIELDS:
            return f"unknown content policy {given!r} (known: {allowed.replace(' or ', ', ')})"
        return f"{given!r} is not allowed (expected {allowed})"
    if kind == "model_type":
        cls = err.get("ctx", {}).get("class_name", "")
        return f"expected {_SHAPES.get(cls, 'a mapping')}, got {given!r}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {given!r}"
    return f"{msg[0].lower()}{msg[1:]}, got {given!r}" if msg else f"invalid value {given!r}"


def _raise_validation(path: Path, exc: ValidationError) -> None:
    """Turn the first pydantic error into a ConfigError naming file, entry and problem."""
    err = exc.errors()[0]
    # Drop pydantic's internal location parts (union branches, validator wrappers).
    loc = tuple(
        p
        for p in err["loc"]
        if isinstance(p, int)
        or not (p in ("str", "Entry") or p.startswith(("function-", "literal[", "nullable[")))
    )
    msg = _validation_message(err, loc)
    if err["type"] == "extra_forbidden" and len(loc) == 1 and path.name == WATCHLIST_FILE:
        msg = f"unknown platform {loc[-1]!r} (known: {', '.join(Watchlist.model_fields)})"
    raise ConfigError(msg, file=str(path), entry=_loc(loc) or None) from None


def _normalise_entries(section: Any) -> Any:
    """A bare string entry means {name: string}; a bare number (YAML reads `- 1234` as an
    integer) is a name too."""
    if isinstance(section, list):
        return [
            {"name": str(e)} if isinstance(e, str | int) and not isinstance(e, bool) else e for e in section
        ]
    return section


_NAME_RULES: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    ("reddit", "subreddits"): (SUBREDDIT_RE, "a subreddit name is 2-21 letters, digits or _"),
    ("arctic_shift", "subreddits"): (SUBREDDIT_RE, "a subreddit name is 2-21 letters, digits or _"),
    ("x", "accounts"): (X_HANDLE_RE, "an X handle is 1-15 letters, digits or _ (without @)"),
    ("github", "repos"): (GITHUB_REPO_RE, "a GitHub repository is written owner/repo"),
    ("discord", "invites"): (DISCORD_INVITE_RE, "a Discord invite code is 2-32 letters, digits or -"),
    ("telegram", "channels"): (
        TELEGRAM_CHANNEL_RE,
        "a Telegram channel name is 5-32 letters, digits or _, starting with a letter",
    ),
    ("telegram", "groups"): (
        TELEGRAM_CHANNEL_RE,
        "a Telegram group name is 5-32 letters, digits or _, starting with a letter",
    ),
    ("telegram", "bots"): (
        TELEGRAM_BOT_RE,
        'a Telegram bot name is 5-32 letters, digits or _, starting with a letter and ending in "bot"',
    ),
}


def _section_model(platform: str) -> type[BaseModel]:
    annotation = Watchlist.model_fields[platform].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else BaseModel


def _check_watchlist(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for platform, section in raw.items():
        if platform not in Watchlist.model_fields:
            raise ConfigError(
                f"unknown platform {platform!r} (known: {', '.join(Watchlist.model_fields)})",
                file=str(path),
                entry=str(platform),
            )
        if section is None:  # a platform whose entries are all commented out
            continue
        if platform == "forums":
            out[platform] = section
            continue
        if not isinstance(section, dict):
            kinds = ", ".join(_section_model(platform).model_fields)
            raise ConfigError(
                f"expected a mapping of lists ({kinds}), got {section!r}", file=str(path), entry=str(platform)
            )
        sec: dict[str, Any] = {}
        for key, entries in section.items():
            if entries is None:
                entries = []
            if not isinstance(entries, list):
                raise ConfigError(
                    f"expected a list, got {entries!r}", file=str(path), entry=f"{platform}.{key}"
                )
            entries = _normalise_entries(entries) if platform != "mastodon" else entries
            rule = _NAME_RULES.get((platform, key))
            seen: dict[str, int] = {}
            for i, e in enumerate(entries):
                name = e.get("name") if isinstance(e, dict) else None
                if platform == "mastodon" and isinstance(e, dict):
                    name = f"{str(e.get('tag', '')).lstrip('#')}@{e.get('instance')}"
                if isinstance(name, str):
                    if name.lower() in seen:
                        raise ConfigError(
                            f"{name!r} is listed twice (also at {platform}.{key}[{seen[name.lower()]}])",
                            file=str(path),
                            entry=f"{platform}.{key}[{i}]",
                        )
                    seen[name.lower()] = i
                if rule and isinstance(name, str) and not rule[0].match(name):
                    raise ConfigError(
                        f"{name!r} is not a valid name: {rule[1]}",
                        file=str(path),
                        entry=f"{platform}.{key}[{i}]",
                    )
                if platform == "x" and key == "queries" and isinstance(name, str) and not name.strip():
                    raise ConfigError("an empty query", file=str(path), entry=f"x.queries[{i}]")
                if platform == "mastodon" and isinstance(e, dict):
                    inst, tag = e.get("instance"), e.get("tag")
                    if isinstance(inst, str) and not HOST_RE.match(_instance_host(inst)):
                        raise ConfigError(
                            f"{inst!r} is not a host name or http(s) URL",
                            file=str(path),
                            entry=f"mastodon.{key}[{i}]",
                        )
                    if isinstance(tag, str) and not MASTODON_TAG_RE.match(tag.lstrip("#")):
                        raise ConfigError(
                            f"{tag!r} is not a hashtag", file=str(path), entry=f"mastodon.{key}[{i}]"
                        )
                    if isinstance(tag, str):
                        e = {**e, "tag": tag.lstrip("#")}
                        entries[i] = e
            sec[key] = entries
        out[platform] = sec
    forums = out.get("forums")
    if forums is not None:
        if not isinstance(forums, list):
            raise ConfigError("expected a list of {url, engine}", file=str(path), entry="forums")
        for i, f in enumerate(forums):
            url = f.get("url") if isinstance(f, dict) else None
            if isinstance(url, str) and not re.match(r"^https?://[^/\s]+", url):
                raise ConfigError(f"{url!r} is not an http(s) URL", file=str(path), entry=f"forums[{i}]")
    return out


def load_config(directory: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the three config files; raise ConfigError on the first problem."""
    env = dict(os.environ if env is None else env)
    d = config_dir(directory, env)
    if not d.is_dir():
        raise ConfigError("config directory not found (use --config DIR or $DFWATCH_CONFIG)", file=str(d))

    spath = d / SETTINGS_FILE
    raw_settings: dict[str, Any] = {}
    if spath.exists():
        try:
            raw_settings = tomllib.loads(spath.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"TOML syntax error: {exc}", file=str(spath)) from None
    try:
        settings = Settings.model_validate(raw_settings)
    except ValidationError as exc:
        _raise_validation(spath, exc)
        raise  # unreachable

    wpath = d / WATCHLIST_FILE
    raw_watch = _read_yaml(wpath) or {}
    if not isinstance(raw_watch, dict):
        raise ConfigError("expected a mapping of platforms", file=str(wpath))
    try:
        watchlist = Watchlist.model_validate(_check_watchlist(wpath, raw_watch))
    except ValidationError as exc:
        _raise_validation(wpath, exc)
        raise

    tpath = d / TOOLS_FILE
    raw_tools = _read_yaml(tpath) if tpath.exists() else {"tools": []}
    if isinstance(raw_tools, dict):
        raw_tools = raw_tools.get("tools", [])
    if not isinstance(raw_tools, list):
        raise ConfigError("expected a list of tools (name, aliases, category, repository)", file=str(tpath))
    tools: list[Tool] = []
    names: dict[str, str] = {}  # lower-cased name or alias -> the tool it names
    for i, t in enumerate(raw_tools):
        try:
            tool = Tool.model_validate(t)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = _loc((f"tools[{i}]", *err["loc"])) if err["loc"] else f"tools[{i}]"
            if err["type"] == "model_type":
                msg = f"expected a mapping with name and optional aliases, category, repository, got {err.get('input')!r}"
            else:
                msg = _validation_message(err, tuple(err["loc"]))
            raise ConfigError(msg, file=str(tpath), entry=loc) from None
        for n in dict.fromkeys((tool.name, *tool.aliases)):
            other = names.get(n.lower())
            if other is not None:
                what = "itself" if other == tool.name else f"the tool {other!r}"
                raise ConfigError(
                    f"{n!r} already names {what}; a name or alias may name one tool only",
                    file=str(tpath),
                    entry=f"tools[{i}]",
                )
            names[n.lower()] = tool.name
        tools.append(tool)

    return Config(directory=d, settings=settings, watchlist=watchlist, tools=tuple(tools), env=env)
