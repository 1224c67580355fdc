"""The Hugging Face Hub API as huggingface_hub calls it: models, spaces, listings, errors, limits.

Shapes, and where each comes from:
- `/api/models/{id}`: the object huggingface/hf-hub records in its own tests (src/api/sync.rs,
  the answer for mcpotato/42-eicar-street: `_id`, `id`, `modelId`, `author`, `sha`,
  `createdAt`, `lastModified`, `private`, `disabled`, `gated`, `downloads`, `likes`, `tags`,
  `siblings`, `spaces`) and huggingface_hub's tests/test_hf_api.py (`cardData` with its texts).
  `downloadsAllTime` comes only when asked for with `expand` (huggingface_hub's docs of
  `list_models` / `model_info`: "When used, only the properties in the list will be returned").
- `/api/models?search=&author=&expand=`: a JSON array of the listing's compact objects (`_id`,
  `id`, `likes`, `private`, `downloads`, `tags`, `pipeline_tag`, `library_name`, `createdAt`,
  `modelId`, as the Hub's docs and its answers show), paginated with a GitHub-style `Link:
  <...&cursor=...>; rel="next"` header (the Hub's docs, "Hub API Endpoints": "The response is
  paginated, use the Link header to get the next pages"; huggingface_hub utils/_pagination.py
  follows `response.links["next"]`). The docs state no page size; this fake pages by 1,000
  (`PAGE`), or by `limit` when given.
- `/api/spaces/{id}` and `/api/spaces?author=`: the same, with `sdk`, `runtime` and no downloads.
- Errors, as huggingface_hub's utils/_http.py `hf_raise_for_status` reads them (and its
  tests/test_utils_errors.py builds them): a missing repo answers 404 with `X-Error-Code:
  RepoNotFound` (RepositoryNotFoundError); a disabled one 403 with `X-Error-Message: Access to
  this resource is disabled.` (DisabledRepoError); the body `{"error": "..."}`.
- Rate limits (the Hub's docs, "Hub Rate limits"; DESIGN.md): 500 API calls per 5 minutes per
  IP without a token, 1,000 with a free token; every answer carries the IETF draft headers
  huggingface_hub's `parse_ratelimit_headers` documents: `RateLimit: "api";r=<left>;t=<reset
  seconds>` and `RateLimit-Policy: "fixed window";"api";q=<limit>;w=300`; past the limit a 429.

Routes a client must never call are served and counted (`resolve`: a file download;
`agent_harnesses`: huggingface_hub's user-agent telemetry), so tests can assert they were not.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from crawler.sim import hubs_world as hw
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import Budget, FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

PAGE = 1000  # models per listing page when the client sends no `limit` (see the module docstring)
WINDOW = 300
LIMITS = {"anonymous": 500, "token": 1000}


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]))
    except (ValueError, KeyError, TypeError):
        return 0


def _expand(req: SimRequest) -> list[str] | None:
    values = (req.query.get("expand") or []) + (req.query.get("expand[]") or [])
    return values or None


class HuggingFace(Platform):
    name = "huggingface"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        for name, limit in LIMITS.items():
            self.limiters[name] = FixedWindowLimiter(limit, WINDOW, time_fn=self.time_fn)

    def routes(self) -> list[Route]:
        p = self.name
        repo = r"(?P<repo>[^/?]+/[^/?]+)"
        return [
            route(p, "models", "GET", r"^/api/models/?$", lambda r: self._list(r, "model")),
            route(p, "model", "GET", rf"^/api/models/{repo}/?$", lambda r: self._info(r, "model")),
            route(p, "spaces", "GET", r"^/api/spaces/?$", lambda r: self._list(r, "space")),
            route(p, "space", "GET", rf"^/api/spaces/{repo}/?$", lambda r: self._info(r, "space")),
            route(p, "agent_harnesses", "GET", r"^/api/agent-harnesses/?$", self._harnesses),
            route(p, "resolve", "GET", rf"^/(?:spaces/)?{repo}/resolve/.+$", self._resolve),
        ]

    # -- errors and limits ------------------------------------------------------------
    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse.json(
            429,
            {"error": "Too Many Requests"},
            {
                "RateLimit": f'"api";r=0;t={retry_after}',
                "RateLimit-Policy": f'"fixed window";"api";q={LIMITS["anonymous"]};w={WINDOW}',
            },
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(
            status, {"error": "Internal Error - We're working hard to fix this as soon as possible!"}
        )

    def _budget(self, req: SimRequest) -> Budget:
        auth = req.header("authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        limiter, key = (
            (self.limiters["token"], token) if token else (self.limiters["anonymous"], req.client_ip)
        )
        return limiter.hit(key)

    @staticmethod
    def _limit_headers(b: Budget) -> dict[str, str]:
        return {
            "RateLimit": f'"api";r={b.remaining};t={b.reset_in}',
            "RateLimit-Policy": f'"fixed window";"api";q={b.limit};w={WINDOW}',
        }

    def _error(
        self, status: int, message: str, headers: dict[str, str], code: str | None = None
    ) -> SimResponse:
        extra = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
        return SimResponse.json(status, {"error": message}, {**headers, **extra})

    # -- shapes ---------------------------------------------------------------------------
    def _object(self, e: Entity, expand: list[str] | None, listing: bool) -> dict[str, Any]:
        t = hw.hub_traits(e)
        world = self.world
        full: dict[str, Any] = {
            "_id": hw.object_id(e),
            "id": e.name,
            "author": t.owner,
            "sha": hw.object_id(e) + "0123456789abcdef",
            "createdAt": _ts(e.created),
            "lastModified": _ts(e.created),
            "private": False,
            "disabled": False,
            "gated": t.gated,
            "likes": hw.likes(world, e),
            "tags": list(t.tags),
            "trendingScore": 0,
        }
        if e.kind == "model":
            full.update(
                modelId=e.name,
                downloads=hw.downloads_30d(world, e),
                downloadsAllTime=hw.downloads_total(world, e),
                library_name="diffusers",
                pipeline_tag="text-to-image",
                # Texts huggingface_hub's ModelInfo keeps in card_data: the card's words and the
                # trigger word ("instance_prompt") that names the person of a likeness model.
                cardData={"instance_prompt": t.trigger, "tags": list(t.tags), "license": "other"},
                siblings=[{"rfilename": ".gitattributes"}, {"rfilename": "pytorch_lora_weights.safetensors"}],
                spaces=[],
            )
        else:
            full.update(sdk="gradio", runtime={"stage": "RUNNING", "hardware": {"current": "cpu-basic"}})
        if expand:
            return {"_id": full["_id"], "id": full["id"], **{k: full[k] for k in expand if k in full}}
        if listing:
            keys = (
                "_id",
                "id",
                "likes",
                "private",
                "downloads",
                "tags",
                "pipeline_tag",
                "library_name",
                "createdAt",
                "modelId",
                "sdk",
            )
            return {k: full[k] for k in keys if k in full}
        full.pop("downloadsAllTime", None)  # only with expand
        return full

    # -- handlers ----------------------------------------------------------------------
    def _info(self, req: SimRequest, kind: str) -> SimResponse:
        headers = self._limit_headers(budget := self._budget(req))
        if not budget.allowed:
            return self._error(429, "Too Many Requests", headers)
        e = self.world.get("huggingface", kind, req.params["repo"])
        status = hw.hub_status(self.world, e) if e else "not_found"
        if status in ("not_found", "deleted"):
            return self._error(404, "Repository not found", headers, code="RepoNotFound")
        if status == "blocked":
            return self._error(403, hw.DISABLED, headers)
        assert e is not None
        return SimResponse.json(200, self._object(e, _expand(req), listing=False), headers)

    def _list(self, req: SimRequest, kind: str) -> SimResponse:
        headers = self._limit_headers(budget := self._budget(req))
        if not budget.allowed:
            return self._error(429, "Too Many Requests", headers)
        search = (req.arg("search") or "").strip()
        author = (req.arg("author") or "").strip().lower()
        chosen = [
            e
            for e in self.world.of_kind("huggingface", kind)
            if hw.listed(self.world, e)
            and (not author or hw.hub_traits(e).owner.lower() == author)
            and (not search or search.lower() in e.name.lower())
        ]
        chosen.sort(key=lambda e: (e.created, e.index))
        size = req.int_arg("limit", PAGE, 1, PAGE)
        start = _offset(req.arg("cursor"))
        page = chosen[start : start + size]
        expand = _expand(req)
        body = [self._object(e, expand, listing=True) for e in page]
        if start + size < len(chosen):
            params = [(k, v) for k, vs in req.query.items() if k != "cursor" for v in vs]
            params.append(("cursor", _cursor(start + size)))
            headers["Link"] = f'<{req.base_url}{req.path}?{urlencode(params)}>; rel="next"'
        return SimResponse.json(200, body, headers)

    def _harnesses(self, req: SimRequest) -> SimResponse:
        return SimResponse.json(200, {"standardEnvVars": [], "harnesses": {}})

    def _resolve(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, b"\0" * 64, {"Content-Type": "application/octet-stream"})
