"""Civitai's public REST API (v1): models by id, listings and searches, cursors, errors, limits.

Shapes from Civitai's developer docs (civitai/civitai-developer-docs, site/reference/models.md
and site/guide/{pagination,errors}.md) and its REST API reference wiki:
- `GET /api/v1/models?query=&nsfw=true&limit=100&cursor=&ids=1,2`: `{"items": [...],
  "metadata": {"nextCursor", "nextPage"}}`; `limit` 1-100 (default 100); without `nsfw=true`
  only safe-for-work models; the last page has no `nextCursor`.
- an item: `id`, `name`, `description` (HTML), `type`, `nsfw`, `nsfwLevel`, `poi` (a real
  person), `mode` (null, `Archived` or `TakenDown`: "If Archived, files field will be empty. If
  TakenDown, images field will be empty"), `stats` (`downloadCount`, `thumbsUpCount`,
  `thumbsDownCount`, `commentCount`, `tippedAmountCount`), `creator` (`username`, `image`),
  `tags`, `modelVersions` (`trainedWords`, `files[].downloadUrl`, `images[].url`).
- `GET /api/v1/models/{id}`: one item; an unknown id answers 404 `{"error": "No model with id N"}`.
- Rate limits: "no per-endpoint rate limit exposed as a stable contract"; Cloudflare enforces
  edge limits in front of the API. This fake keeps one such limit (`EDGE_LIMIT` requests a
  minute per IP) and answers past it as Cloudflare's rate limiting does: 429, a plain-text
  `error code: 1015` body, and `Retry-After`. (The docs warn most failures carry no
  Retry-After; a client must back off without one.)

Listings leave out models taken down or deleted and keep archived ones. Image and file URLs in
the answers point back at this server (`image`, `download` routes), which counts them: a
crawler must never fetch either.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from crawler.sim import hubs_world as hw
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

EDGE_LIMIT, EDGE_WINDOW = 120, 60
PAGE = 100


def _ts(e: Entity) -> str:
    return e.created.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Civitai(Platform):
    name = "civitai"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["edge"] = FixedWindowLimiter(EDGE_LIMIT, EDGE_WINDOW, time_fn=self.time_fn)

    def routes(self) -> list[Route]:
        p = self.name
        return [
            route(p, "models", "GET", r"^/api/v1/models/?$", self._list),
            route(p, "model", "GET", r"^/api/v1/models/(?P<id>[^/]+)/?$", self._one),
            route(p, "download", "GET", r"^/api/download/models/(?P<vid>\d+)/?$", self._file),
            route(p, "image", "GET", r"^/sim-images/civitai/.+$", self._file),
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse.text(429, "error code: 1015", {"Retry-After": str(retry_after)})

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"error": "An unexpected error occurred"})

    def _edge(self, req: SimRequest) -> SimResponse | None:
        budget = self.limiters["edge"].hit(req.client_ip)
        return None if budget.allowed else self.too_many(budget.reset_in)

    # -- shapes ---------------------------------------------------------------------------
    def _item(self, e: Entity, base: str) -> dict[str, Any]:
        t = hw.hub_traits(e)
        status = hw.hub_status(self.world, e)
        mode = {"blocked": hw.TAKEN_DOWN, "archived": hw.ARCHIVED}.get(status)
        version_id = 900_000 + (t.civitai_id or 0)
        version: dict[str, Any] = {
            "id": version_id,
            "name": "v1.0",
            "baseModel": "SDXL 1.0",
            "publishedAt": _ts(e),
            "trainedWords": [t.trigger] if t.trigger else [],
            "stats": {
                "downloadCount": hw.downloads_total(self.world, e),
                "thumbsUpCount": hw.likes(self.world, e),
            },
        }
        if mode != hw.ARCHIVED:
            url = f"{base}/api/download/models/{version_id}"
            version["files"] = [
                {
                    "id": version_id,
                    "name": f"{e.name}.safetensors",
                    "type": "Model",
                    "primary": True,
                    "downloadUrl": url,
                }
            ]
            version["downloadUrl"] = url
        if mode != hw.TAKEN_DOWN:
            version["images"] = [
                {"url": f"{base}/sim-images/civitai/{version_id}/0.jpeg", "nsfwLevel": 4 if e.nsfw else 1}
            ]
        return {
            "id": t.civitai_id,
            "name": e.title,
            "description": f"<p>{e.title}. Use the trigger word {t.trigger}.</p>"
            if t.trigger
            else f"<p>{e.title}</p>",
            "type": "LORA",
            "nsfw": e.nsfw,
            "nsfwLevel": 28 if e.nsfw else 1,
            "availability": "Public",
            "minor": False,
            "poi": t.likeness,
            "sfwOnly": False,
            "mode": mode,
            "stats": {
                "downloadCount": hw.downloads_total(self.world, e),
                "thumbsUpCount": hw.likes(self.world, e),
                "thumbsDownCount": 0,
                "commentCount": hw.comments(self.world, e),
                "tippedAmountCount": 0,
            },
            "creator": {"username": t.owner, "image": f"{base}/sim-images/civitai/avatar/{t.owner}.jpeg"},
            "tags": [w for w in t.tags if w != "nsfw"],
            "modelVersions": [version],
        }

    # -- handlers ----------------------------------------------------------------------
    def _one(self, req: SimRequest) -> SimResponse:
        if (limited := self._edge(req)) is not None:
            return limited
        raw = req.params["id"]
        if not raw.isdigit():
            return SimResponse.json(400, {"error": "Invalid id"})
        e = self.world.get("civitai", "model", str(int(raw)))
        status = hw.hub_status(self.world, e) if e else "not_found"
        if e is None or status in ("not_found", "deleted"):
            return SimResponse.json(404, {"error": f"No model with id {int(raw)}"})
        return SimResponse.json(200, self._item(e, req.base_url))

    def _list(self, req: SimRequest) -> SimResponse:
        if (limited := self._edge(req)) is not None:
            return limited
        if req.arg("page") and req.arg("query"):
            return SimResponse.json(
                400, {"error": "Cannot use page param with query search. Use cursor-based pagination."}
            )
        nsfw = (req.arg("nsfw") or "false").lower() == "true"
        query = (req.arg("query") or "").strip()
        username = (req.arg("username") or "").strip().lower()
        ids_arg = req.arg("ids")
        try:
            ids = {int(x) for x in ids_arg.split(",") if x.strip()} if ids_arg else None
        except ValueError:
            return SimResponse.json(400, {"error": "Invalid ids"})
        chosen = [
            e
            for e in self.world.of_kind("civitai", "model")
            if hw.listed(self.world, e)
            and (nsfw or not e.nsfw)
            and (ids is None or hw.hub_traits(e).civitai_id in ids)
            and (not query or hw.matches(e, query))
            and (not username or hw.hub_traits(e).owner.lower() == username)
        ]
        chosen.sort(key=lambda e: -(hw.hub_traits(e).civitai_id or 0))
        size = req.int_arg("limit", PAGE, 1, PAGE)
        try:
            start = int(base64.urlsafe_b64decode((req.arg("cursor") or "MA==").encode()).decode() or 0)
        except ValueError:
            return SimResponse.json(400, {"error": "Invalid cursor"})
        page = chosen[start : start + size]
        metadata: dict[str, Any] = {}
        if start + size < len(chosen):
            cursor = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            params = [(k, v) for k, vs in req.query.items() if k != "cursor" for v in vs]
            metadata = {
                "nextCursor": cursor,
                "nextPage": f"{req.base_url}{req.path}?{urlencode([*params, ('cursor', cursor)])}",
            }
        return SimResponse.json(
            200, {"items": [self._item(e, req.base_url) for e in page], "metadata": metadata}
        )

    def _file(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, b"\0" * 64, {"Content-Type": "application/octet-stream"})
