"""Scrapy settings of dfwatch, built from the Config (there is no scrapy.cfg project).

Declared once here; the units sit beside the values. Spiders that call a documented JSON API
set `ROBOTSTXT_OBEY = False` in their own `custom_settings` and say why in their docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.settings import Settings

from crawler.config import DEFAULT_ENDPOINTS, Config


def scrapy_settings(config: Config, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings every dfwatch crawler starts from; `overrides` win over spiders' own."""
    limits = config.settings.rate_limits
    pace = config.settings.spiders
    values: dict[str, Any] = {
        "BOT_NAME": "dfwatch",
        "USER_AGENT": config.user_agent("scrapy"),  # honest: name, version, contact
        "ROBOTSTXT_OBEY": True,  # web pages; API spiders opt out and follow the API's limits
        "COOKIES_ENABLED": False,  # no sessions, no tracking; also keeps tldextract unloaded
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": pace.concurrent_per_domain,
        "DOWNLOAD_DELAY": pace.download_delay,  # seconds between requests to one site (AutoThrottle's floor)
        "AUTOTHROTTLE_ENABLED": pace.autothrottle,
        "AUTOTHROTTLE_START_DELAY": 1.0,  # seconds
        "AUTOTHROTTLE_MAX_DELAY": 60.0,  # seconds
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,  # requests in flight per site on average
        "DOWNLOAD_TIMEOUT": limits.timeout_seconds,
        "DOWNLOAD_MAXSIZE": 20 * 1024 * 1024,  # bytes; metadata pages are far smaller
        # RateLimitRetryMiddleware replaces Scrapy's RetryMiddleware (which ignores Retry-After)
        # and retries through Scrapy's get_retry_request: these RETRY_* settings are its own.
        "RETRY_ENABLED": True,
        "RETRY_TIMES": limits.max_retries,  # initial request + N retries
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",  # the target fails and the run log says why
        "DFWATCH_MAX_WAIT_SECONDS": limits.max_wait_seconds,
        "DFWATCH_BACKOFF_SECONDS": limits.backoff_seconds,  # doubles each retry
        # Requests to loopback, private and metadata hosts are refused (spiders.hostguard),
        # except the configured endpoints; the config's allow_private_hosts lifts it.
        "DFWATCH_ALLOW_PRIVATE_HOSTS": bool(getattr(config.settings.crawler, "allow_private_hosts", False)),
        "DFWATCH_ENDPOINTS": [config.endpoint(name) for name in DEFAULT_ENDPOINTS],
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            # First of all (before robots.txt): a refused request is never sent, nor counted.
            "spiders.hostguard.PrivateHostMiddleware": 50,
            "spiders.middlewares.RateLimitRetryMiddleware": 550,
            # After the retry middleware on the way out, before it on the way back: a host that
            # does not resolve or refuses is retried once a run, then failed at once.
            "spiders.unreachable.UnreachableHostMiddleware": 560,
            # Spent from the credential's budget after every decision to send (a retry too),
            # just before the counter: what the budget counts is what is sent.
            "spiders.middlewares.RequestBudgetMiddleware": 940,
            # Closest to the network, so every request sent is counted, retries included.
            "spiders.middlewares.RequestCounterMiddleware": 950,
        },
        # Scrapy's HTTP/1.1 handler, refusing requests to hosts found unreachable in this run.
        "DOWNLOAD_HANDLERS": {
            "http": "spiders.unreachable.GuardedHTTPDownloadHandler",
            "https": "spiders.unreachable.GuardedHTTPDownloadHandler",
        },
        "ITEM_PIPELINES": {"spiders.pipelines.EmitPipeline": 300},
        "LOG_LEVEL": "INFO",
        "LOG_ENABLED": True,
        # dfwatch's CLI configures logging (crawler/logs.py); Scrapy logs through it.
        "LOG_INSTALL_ROOT_HANDLER": False,
        "REQUEST_FINGERPRINTER_CLASS": "scrapy.utils.request.RequestFingerprinter",
    }
    settings = Settings(values, priority="project")
    if overrides:
        settings.setdict(dict(overrides), priority="cmdline")
    return settings
