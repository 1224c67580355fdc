"""The huggingface_hub client dfwatch uses: `HfApi(endpoint=...)`, every request accounted for.

huggingface_hub 2.4 sends its requests through one process-wide httpx2 client, replaceable
with `set_client_factory`. For the length of a crawl (`HubClient` as a context manager, one at
a time per process) dfwatch installs a client whose transport, `HubTransport`:

* sends only to the configured endpoint and only to `/api/models...` and `/api/spaces...`: a
  file, a download or telemetry URL is refused before it leaves (`RequestRefused`); a link the
  Hub returns on its default host is rewritten to the configured endpoint;
* takes every request from its budget first (`SourceContext.spend`: the token's, shared by
  all workers of a distributed crawl, or without a token this machine's, as the Hub limits
  anonymous calls per IP; nothing on a single-machine crawl) and counts it
  (`SourceContext.count_request`); a 429 or a spent window holds back every worker on it;
* obeys the Hub's `RateLimit: "api";r=<left>;t=<seconds>` header: once the window has at most
  `RESERVE` calls left, the next request waits for its reset (`SourceContext.wait`);
* retries 429, 5xx and lost connections itself (`call_with_retries`: bounded, honouring the
  RateLimit reset or Retry-After), so huggingface_hub's own `http_backoff` (five retries with a
  `time.sleep` nobody can observe) never sees a retryable answer; what still fails raises
  `RateLimited` or `SourceError` through the library;
* stops a listing at its page bound (`PageBound`) before the request past it is sent.

Two things in huggingface_hub reach beyond `HfApi(endpoint=...)` and are switched off here:
with telemetry on, building any request's User-Agent calls `detect_agent()`, which fetches
`{HF_ENDPOINT}/api/agent-harnesses` (huggingface.co, not the HfApi endpoint) and caches it
under HF_HOME, so `HF_HUB_DISABLE_TELEMETRY=1` is set before huggingface_hub is first imported
(and the transport would refuse that fetch anyway); and a token left unset would be read from
`HF_TOKEN` or `~/.cache/huggingface/token`, so `token=False` is passed when the config has none.
`HF_HUB_OFFLINE` guards only huggingface_hub's own session: this client does not consult it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Read by huggingface_hub.constants at its import: must be set first (see the docstring).
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_UPDATE_CHECK", "1")

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import set_client_factory
from huggingface_hub.utils._http import default_client_factory

from crawler import __version__
from crawler.errors import AccessDenied, SourceError
from crawler.sources.base import SourceContext
from crawler.sources.budget import BudgetKey
from crawler.sources.huggingface_parse import MODEL_FIELDS, SPACE_FIELDS, MalformedAnswer, server_words
from crawler.sources.retry import Retry, call_with_retries

HUB_HOST = ("https", "huggingface.co", 443)  # where the Hub's absolute links point
API_PATHS = ("/api/models", "/api/spaces")
LISTING_PATHS = frozenset(API_PATHS)

# One crawl at a time per process may own huggingface_hub's process-wide session.
_SESSION_LOCK = threading.Lock()


class RequestRefused(SourceError):
    """huggingface_hub tried to reach something other than the configured Hub API."""


class PageBound(Exception):
    """The listing asked for the page past its bound; that request was not sent."""


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None, rate_limited: bool) -> None:
        super().__init__(reason)
        self.decision = Retry(reason, wait, rate_limited=rate_limited)


def _classify(exc: BaseException) -> Retry | None:
    return exc.decision if isinstance(exc, _Retryable) else None


def parse_ratelimit(headers: Any) -> tuple[int, int] | None:
    """(calls left, seconds to reset) from `RateLimit: "api";r=N;t=S`, or None."""
    value = headers.get("ratelimit")
    if not value:
        return None
    parts = dict(p.strip().split("=", 1) for p in value.split(";") if "=" in p)
    try:
        return int(parts["r"]), int(parts["t"])
    except (KeyError, ValueError):
        return None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _origin(url: httpx2.URL) -> tuple[str, str, int]:
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.host, port


class HubTransport(httpx2.BaseTransport):
    """huggingface_hub's requests, counted, paced, retried and fenced (see the module docstring)."""

    RESERVE = 2  # calls left unspent in a window (a second client on the same IP, a retry)

    def __init__(
        self, ctx: SourceContext, endpoint: str, timeout: float, budget: BudgetKey | None = None
    ) -> None:
        self.ctx = ctx
        self.budget = budget
        self.base = httpx2.URL(endpoint.rstrip("/") + "/")
        self.prefix = self.base.path.rstrip("/")
        self.inner = httpx2.HTTPTransport(retries=0)
        self.timeout = timeout
        self.paths: list[str] = []  # every path sent, for the run's debug log and tests
        self.refused: list[str] = []
        self.page_budget: int | None = None  # listing pages still allowed, None: no listing bound
        self._wait_until: float | None = None  # monotonic time before which nothing is sent
        self._wait_reason = ""

    # -- the fence ------------------------------------------------------------------
    def checked(self, url: httpx2.URL) -> httpx2.URL:
        if _origin(url) == HUB_HOST and _origin(self.base) != HUB_HOST and url.path.startswith(API_PATHS):
            url = url.copy_with(
                scheme=self.base.scheme, host=self.base.host, port=self.base.port, path=self.prefix + url.path
            )
        path = url.path[len(self.prefix) :] if url.path.startswith(self.prefix) else None
        allowed = path is not None and any(path == p or path.startswith(p + "/") for p in API_PATHS)
        if _origin(url) != _origin(self.base) or not allowed:
            shown = f"{url.scheme}://{url.host}{url.path}"
            self.refused.append(shown)
            self.ctx.log.warning("source=huggingface refused a request outside the Hub API: %s", shown)
            raise RequestRefused(
                f"refused to request {shown} (only the Hub API is used)", target="huggingface"
            )
        return url

    # -- pacing ---------------------------------------------------------------------
    def _pace(self, target: str) -> None:
        if self._wait_until is None:
            return
        seconds = self._wait_until - time.monotonic()
        self._wait_until = None  # the window has reset once the wait is over
        if seconds > 0:
            self.ctx.wait(seconds, reason=self._wait_reason, target=target)

    def _note(self, headers: Any) -> None:
        limit = parse_ratelimit(headers)
        if limit is None:
            return
        left, reset = limit
        if left <= self.RESERVE:
            self._wait_until = time.monotonic() + max(1, reset)
            self._wait_reason = f"ratelimit remaining={left} reset={reset}s"
            if self.budget is not None:  # the window is the token's (or the IP's), not this process's
                self.ctx.penalize(self.budget, max(1, reset))
        else:
            self._wait_until = None

    # -- sending ----------------------------------------------------------------------
    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        url = self.checked(request.url)
        if url != request.url:
            request.url = url
            request.headers["Host"] = url.netloc.decode("ascii")
        path = request.url.path[len(self.prefix) :]
        if path in LISTING_PATHS and self.page_budget is not None:
            if self.page_budget <= 0:
                raise PageBound(path)
            self.page_budget -= 1
        target = f"huggingface {path}"

        def once() -> httpx2.Response:
            self._pace(target)
            if self.budget is not None:
                self.ctx.spend(self.budget)
            self.ctx.count_request()
            self.paths.append(path)
            request.extensions["timeout"] = httpx2.Timeout(self.timeout).as_dict()
            try:
                response = self.inner.handle_request(request)
            except httpx2.TimeoutException as exc:
                raise _Retryable("timeout", None, False) from exc
            except httpx2.TransportError as exc:
                raise _Retryable(type(exc).__name__, None, False) from exc
            self._note(response.headers)
            status = response.status_code
            if status == 429 or status >= 500:
                response.read()
                response.close()
                limit = parse_ratelimit(response.headers)
                wait = float(limit[1]) if limit and limit[0] == 0 else _retry_after(response.headers)
                self._wait_until = None  # the retry's own wait covers it
                raise _Retryable(str(status), wait, status == 429)
            return response

        return call_with_retries(self.ctx, target, once, _classify, budget=self.budget)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Listing:
    """What a listing returned, and whether it ran to its end (False: stopped at its bound)."""

    items: list[Any]
    complete: bool


@dataclass(frozen=True)
class Gone:
    """A repo the Hub refused: its status (`blocked`, `not_found`) and the Hub's words."""

    status: str
    reason: str


class HubClient:
    """HfApi on the configured endpoint, with the transport above installed while in use."""

    def __init__(self, ctx: SourceContext, token: str | None) -> None:
        cfg = ctx.config
        self.ctx = ctx
        self.endpoint = cfg.endpoint("huggingface")
        timeout = cfg.settings.rate_limits.timeout_seconds
        settings = ctx.settings
        budget = BudgetKey.of(
            "huggingface",
            token or f"anonymous@{socket.gethostname()}",
            limit=settings.budget_requests_token if token else settings.budget_requests_anonymous,
            window_seconds=settings.budget_window_seconds,
        )
        self.transport = HubTransport(ctx, self.endpoint, timeout, budget)
        self.api = HfApi(
            endpoint=self.endpoint,
            token=token or False,  # never the operator's own saved token
            library_name="dfwatch",
            library_version=__version__,
            headers={"user-agent": cfg.user_agent()},
        )
        self._factory: Callable[[], httpx2.Client] = lambda: httpx2.Client(
            transport=self.transport, follow_redirects=True, timeout=timeout
        )

    def __enter__(self) -> HubClient:
        _SESSION_LOCK.acquire()
        set_client_factory(self._factory)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            set_client_factory(default_client_factory)
            self.transport.close()
        finally:
            _SESSION_LOCK.release()

    # -- one repo -------------------------------------------------------------------
    def repo(self, kind: str, repo_id: str) -> Any:
        """ModelInfo / SpaceInfo, or `Gone` for a disabled or missing repo."""
        target = f"huggingface {kind} {repo_id}"
        try:
            if kind == "model":
                return self.api.model_info(repo_id, expand=MODEL_FIELDS)  # type: ignore[arg-type]
            return self.api.space_info(repo_id, expand=SPACE_FIELDS)  # type: ignore[arg-type]
        except GatedRepoError as exc:  # a gated repo's metadata is public: this is not expected
            raise SourceError(f"gated: {server_words(exc, 'gated')}", target=target) from None
        except RepositoryNotFoundError as exc:
            return Gone("not_found", server_words(exc, f"Repository Not Found (HTTP {_status(exc)})"))
        except DisabledRepoError as exc:
            return Gone("blocked", server_words(exc, "Access to this resource is disabled."))
        except HfHubHTTPError as exc:
            raise _http_error(exc, target) from None
        except (ValueError, TypeError, KeyError) as exc:  # not JSON, or not a repo object
            raise MalformedAnswer(f"malformed answer: {type(exc).__name__}", target=target) from None

    # -- listings -------------------------------------------------------------------
    def listing(
        self, kind: str, max_pages: int, *, stop: Callable[[Any], bool] | None = None, **filters: Any
    ) -> Listing:
        """Every public model (or space) matching `filters`, at most `max_pages` pages.

        `stop(item)` returning True ends the listing early (complete=False: not every page
        was read, so its counts are not the listing's total).
        """
        target = f"huggingface {kind}s {filters}"
        items: list[Any] = []
        self.transport.page_budget = max_pages
        complete = True
        try:
            listed: Iterator[Any]
            if kind == "model":
                listed = iter(self.api.list_models(expand=MODEL_FIELDS, **filters))  # type: ignore[arg-type]
            else:
                listed = iter(self.api.list_spaces(expand=SPACE_FIELDS, **filters))  # type: ignore[arg-type]
            for item in listed:
                items.append(item)
                if stop is not None and stop(item):
                    complete = False
                    break
        except PageBound:
            complete = False
        except HfHubHTTPError as exc:
            raise _http_error(exc, target) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise MalformedAnswer(f"malformed answer: {type(exc).__name__}", target=target) from None
        finally:
            self.transport.page_budget = None
        return Listing(items, complete)


def _status(exc: HfHubHTTPError) -> int | str:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", "?")


def _http_error(exc: HfHubHTTPError, target: str) -> SourceError:
    status = _status(exc)
    words = server_words(exc, f"HTTP {status}")
    if status in (401, 403):
        return AccessDenied(f"HTTP {status}: {words}", target=target)
    return SourceError(f"HTTP {status}: {words}", target=target)
