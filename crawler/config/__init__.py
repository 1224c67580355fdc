"""Load and validate config/: settings.toml, watchlist.yaml (+ watchlist.d/*.yaml), tools.yaml.

The config directory is `--config DIR`, else `$DFWATCH_CONFIG`, else `./config`.
Environment overrides: DFWATCH_DATABASE_URL, DFWATCH_ENDPOINT_<NAME>, DFWATCH_PSEUDONYM_KEY
and the platform credentials (read through `Config.credential`, never stored or logged).

    models.py   every core setting, declared once with its default; Settings and Watchlist
                built from the sources' declarations (crawler.plugins)
    core.py     Config, what the rest of dfwatch reads (WatchTarget: crawler.entries)
    loader.py   reading the files, validating, messages naming file, entry and problem
"""

from crawler.config.core import Config
from crawler.config.loader import config_dir, load_config
from crawler.config.models import (
    CREDENTIALS,
    DEFAULT_ENDPOINTS,
    OPTIONAL_CREDENTIALS,
    SOURCE_NAMES,
    CoreSettings,
    Settings,
    Tool,
    Watchlist,
)
from crawler.cron import validate_cron
from crawler.entries import Entry, WatchTarget

__all__ = [
    "CREDENTIALS",
    "DEFAULT_ENDPOINTS",
    "OPTIONAL_CREDENTIALS",
    "SOURCE_NAMES",
    "Config",
    "CoreSettings",
    "Entry",
    "Settings",
    "Tool",
    "WatchTarget",
    "Watchlist",
    "config_dir",
    "load_config",
    "validate_cron",
]
