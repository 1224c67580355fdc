"""Load and validate config/: settings.toml, watchlist.yaml, tools.yaml.

The config directory is `--config DIR`, else `$DFWATCH_CONFIG`, else `./config`.
Environment overrides: DFWATCH_DATABASE_URL, DFWATCH_ENDPOINT_<NAME>, DFWATCH_PSEUDONYM_KEY
and the platform credentials (read through `Config.credential`, never stored or logged).

    models.py   every setting and entry, declared once with its default
    core.py     Config and WatchTarget, what the rest of dfwatch reads
    loader.py   reading the files, validating, messages naming file, entry and problem
"""

from crawler.config.core import Config, WatchTarget
from crawler.config.loader import config_dir, load_config
from crawler.config.models import (
    CREDENTIALS,
    DEFAULT_ENDPOINTS,
    OPTIONAL_CREDENTIALS,
    SOURCE_NAMES,
    Entry,
    Settings,
    Tool,
    Watchlist,
    validate_cron,
)

__all__ = [
    "CREDENTIALS",
    "DEFAULT_ENDPOINTS",
    "OPTIONAL_CREDENTIALS",
    "SOURCE_NAMES",
    "Config",
    "Entry",
    "Settings",
    "Tool",
    "WatchTarget",
    "Watchlist",
    "config_dir",
    "load_config",
    "validate_cron",
]
