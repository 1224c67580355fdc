"""Forgejo/Gitea REST API answers → repository facts (pure).

Shapes: the `Repository`, `Release` and `Attachment` structs of Forgejo and Gitea
(`modules/structs/repo.go`, `release.go`, `attachment.go`: `stars_count`, `forks_count`,
`watchers_count`, `open_issues_count`, `release_counter`, `has_releases`, `archived`,
`assets[].download_count`), the 404 body of `services/context/api.go`
(`{"message": "The target couldn't be found.", "url": ..., "errors": []}`), and the `Link`
header `genAPILinks` writes (`<URL>; rel="next"`, absolute on the instance's own URL).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crawler.parsing import iso_to_utc
from spiders.parsers.common import as_number
from spiders.parsers.github import next_link

__all__ = ["RepoFacts", "error_message", "next_link", "parse_repo", "release_downloads", "same_origin"]


@dataclass
class RepoFacts:
    """What the repository endpoint says; kept in source_state to answer a 304 and to
    remember that the repository was seen (a later 404 is then `not_found`)."""

    status: str  # active, archived
    status_reason: str | None = None
    external_id: str | None = None
    title: str | None = None
    url: str | None = None
    created_at: str | None = None  # ISO, as the instance sends it
    metrics: dict[str, float] = field(default_factory=dict)
    releases: int | None = None  # release_counter: 0 means /releases need not be asked
    has_releases: bool = True  # the releases unit is on

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepoFacts:
        releases = data.get("releases")
        return cls(
            status=str(data.get("status") or "unknown"),
            status_reason=data.get("status_reason"),
            external_id=data.get("external_id"),
            title=data.get("title"),
            url=data.get("url"),
            created_at=data.get("created_at"),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            releases=int(releases) if isinstance(releases, int) else None,
            has_releases=data.get("has_releases") is not False,
        )


_REPO_METRICS = {
    "stars": "stars_count",
    "forks": "forks_count",
    "watchers": "watchers_count",  # Forgejo's watchers are the accounts watching it (not stars)
    "open_issues": "open_issues_count",  # issues only: pull requests are `open_pr_counter`
}


def parse_repo(body: Any) -> RepoFacts:
    """The repository object → status and metrics; a field the instance leaves out stays absent."""
    if not isinstance(body, dict):
        raise ValueError(f"the repository answer is a JSON {type(body).__name__}, not an object")
    metrics: dict[str, float] = {}
    for metric, key in _REPO_METRICS.items():
        value = as_number(body.get(key))
        if value is not None:
            metrics[metric] = value
    status, reason = "active", None
    if body.get("archived") is True:
        status, reason = "archived", "archived by its owner"
        at = iso_to_utc(body.get("archived_at"))
        if at is not None and at.timestamp() > 0:  # the epoch (in the server's zone) means unset
            reason += f" on {at.date().isoformat()}"
    rid = body.get("id")
    releases = body.get("release_counter")
    return RepoFacts(
        status=status,
        status_reason=reason,
        external_id=str(rid) if rid is not None else None,
        title=body.get("description") or body.get("full_name"),
        url=body.get("html_url"),
        created_at=body.get("created_at"),
        metrics=metrics,
        releases=releases if isinstance(releases, int) and not isinstance(releases, bool) else None,
        has_releases=body.get("has_releases") is not False,
    )


def release_downloads(body: Any) -> tuple[int, int]:
    """One page of `/releases` → (sum of asset download counts, number of releases)."""
    if not isinstance(body, list):
        raise ValueError("releases page is not a JSON list")
    total = 0
    for release in body:
        if not isinstance(release, dict):
            raise ValueError("a release is not a JSON object")
        for asset in release.get("assets") or ():
            count = as_number(asset.get("download_count")) if isinstance(asset, dict) else None
            total += int(count or 0)
    return total, len(body)


def error_message(body: Any) -> str | None:
    """The instance's own words in an error body (`message`), if it sent any."""
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"].strip()[:300]
    return None


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs share scheme, host and port (a Link header may not send us elsewhere)."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme.lower(), a.netloc.lower()) == (b.scheme.lower(), b.netloc.lower())
