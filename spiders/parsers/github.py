"""GitHub REST API answers → repository facts (pure).

Shapes: `GET /repos/{owner}/{repo}` and `GET /repos/{owner}/{repo}/releases` as recorded in
PyGithub's replay data (shared/fixtures/recorded/github), the 451 body as GitHub documents
it for DMCA takedowns.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from spiders.parsers.common import as_number

_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass
class RepoFacts:
    """What the repository endpoint says; kept in source_state to answer a 304."""

    status: str  # active, archived, blocked (disabled by GitHub)
    status_reason: str | None = None
    external_id: str | None = None
    title: str | None = None
    url: str | None = None
    created_at: str | None = None  # ISO, as GitHub sends it (JSON-friendly for source_state)
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepoFacts:
        return cls(
            status=str(data.get("status") or "unknown"),
            status_reason=data.get("status_reason"),
            external_id=data.get("external_id"),
            title=data.get("title"),
            url=data.get("url"),
            created_at=data.get("created_at"),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
        )


_REPO_METRICS = {
    "stars": "stargazers_count",
    "forks": "forks_count",
    "watchers": "subscribers_count",  # `watchers_count` is a legacy alias of stars
    "open_issues": "open_issues_count",
}


def parse_repo(body: dict[str, Any]) -> RepoFacts:
    """The repository object → status and metrics; a field GitHub leaves out stays absent."""
    metrics = {}
    for metric, key in _REPO_METRICS.items():
        value = as_number(body.get(key))
        if value is not None:
            metrics[metric] = value
    status, reason = "active", None
    if body.get("disabled") is True:
        status, reason = "blocked", "disabled by GitHub"
    elif body.get("archived") is True:
        status, reason = "archived", "archived by its owner"
    rid = body.get("id")
    return RepoFacts(
        status=status,
        status_reason=reason,
        external_id=str(rid) if rid is not None else None,
        title=body.get("description") or body.get("full_name"),
        url=body.get("html_url"),
        created_at=body.get("created_at"),
        metrics=metrics,
    )


def release_downloads(body: Any) -> tuple[int, int]:
    """One page of `/releases` → (sum of asset download counts, number of releases)."""
    if not isinstance(body, list):
        raise ValueError("releases page is not a JSON list")
    total = 0
    for release in body:
        for asset in release.get("assets") or ():
            count = as_number(asset.get("download_count"))
            total += int(count or 0)
    return total, len(body)


def next_link(link_header: str | None) -> str | None:
    """The `rel="next"` URL of a Link header (GitHub paging), or None on the last page."""
    if not link_header:
        return None
    for part in link_header.split(","):
        m = _LINK_NEXT_RE.search(part)
        if m:
            return m.group(1)
    return None


def block_reason(status: int, body: Any) -> str:
    """The platform's own words for a block: '451 dmca: Repository access blocked (URL)'."""
    message = body.get("message") if isinstance(body, dict) else None
    block = body.get("block") if isinstance(body, dict) else None
    parts = [f"HTTP {status}"]
    if isinstance(block, dict) and block.get("reason"):
        parts.append(str(block["reason"]))
    text = " ".join(parts)
    if message:
        text += f": {message}"
    if isinstance(block, dict) and block.get("html_url"):
        text += f" ({block['html_url']})"
    return text


def is_access_block(status: int, body: Any) -> bool:
    """451, or a 403 whose message says the repository access is blocked (TOS takedowns)."""
    if status == 451:
        return True
    message = body.get("message", "") if isinstance(body, dict) else ""
    return status == 403 and "access blocked" in str(message).lower()
