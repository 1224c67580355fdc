"""Forgejo and Gitea: repositories on Codeberg or any instance, with a Scrapy spider (spiders.forgejo).

An entry is `owner/name` (on the default instance, Codeberg unless `DFWATCH_ENDPOINT_FORGEJO`
says otherwise), `host/owner/name`, or a mapping `{instance: "https://git.example.org",
repo: owner/name}`. Handles are `owner/name` on the default instance and
`host/owner/name` elsewhere, so a repository keeps its handle when the endpoint is pointed
at a mirror or a fake; `codeberg.org` named as an instance is the default instance.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, ValidationInfo, model_validator

from crawler.entries import (
    HOST_RE,
    Policy,
    Section,
    Strict,
    TargetMaker,
    WatchTarget,
    brief,
    instance_host,
    refuse_private_host,
)
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec

DEFAULT_HOST = "codeberg.org"  # the host of the declared default endpoint
# Gitea/Forgejo user names: letters, digits, '-', '_', '.' (at most 40); repository names
# also take '+' (AlphaDashDotPlus, at most 100).
REPO_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}/[A-Za-z0-9_.+-]{1,100}")
REPO_RULE = "a Forgejo repository is written owner/name, or host/owner/name on another instance"
_URL_PATH_RE = re.compile(r"^https?://[^/]+/.+", re.IGNORECASE)


class ForgejoRepo(Strict):
    """`owner/name`, `host/owner/name`, or `{instance, repo}` with the usual entry options."""

    SHAPE: ClassVar[str] = "owner/name, host/owner/name, or a mapping with instance and repo"

    repo: str
    instance: str | None = None
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = value.strip().split("/")
            if len(parts) == 3:  # host/owner/name
                return {"instance": parts[0], "repo": f"{parts[1]}/{parts[2]}"}
            return {"repo": value.strip()}
        if isinstance(value, dict) and "name" in value and "repo" not in value:
            return {("repo" if k == "name" else k): v for k, v in value.items()}  # {name: owner/name, ...}
        return value

    @model_validator(mode="after")
    def _valid(self, info: ValidationInfo) -> ForgejoRepo:
        if not REPO_RE.fullmatch(self.repo) or self.repo.partition("/")[2] in (".", ".."):
            raise ValueError(f"{brief(self.repo)} is not a valid name: {REPO_RULE}")
        if self.instance is not None:
            if _URL_PATH_RE.match(self.instance.strip().rstrip("/")):
                raise ValueError(
                    f"{brief(self.instance)} is not an instance: give its host or base URL, without a path"
                )
            if not HOST_RE.fullmatch(self.host):
                raise ValueError(f"{brief(self.instance)} is not a host name or http(s) URL")
            refuse_private_host(self.host.rsplit(":", 1)[0], info, "the instance")
        return self

    @property
    def host(self) -> str:
        """The instance's host (and port) in lower case; DEFAULT_HOST for the default instance."""
        return instance_host(self.instance) if self.instance else DEFAULT_HOST

    @property
    def on_default(self) -> bool:
        return self.host == DEFAULT_HOST

    @property
    def name(self) -> str:
        """The community handle: `owner/name` on the default instance, else `host/owner/name`."""
        return self.repo if self.on_default else f"{self.host}/{self.repo}"

    def identity(self) -> str:
        return self.name.lower()


class ForgejoWatch(Section):
    repos: tuple[ForgejoRepo, ...] = ()


class ForgejoSettings(Strict):
    max_release_pages: int = Field(
        10, ge=1, le=100, description="release pages per repository (50 releases a page)"
    )


def _targets(section: ForgejoWatch, make: TargetMaker) -> list[WatchTarget]:
    targets = []
    for r in section.repos:
        # The default instance's base URL is the endpoint (read at crawl time); any other
        # instance is the entry's own, and the host guard checks it.
        instance = None if r.on_default else r.instance
        hosts = () if r.on_default else (r.host.rsplit(":", 1)[0],)
        targets.append(make.one("forgejo", "repo", r.name, r, {"instance": instance, "repo": r.repo}, hosts))
    return targets


SOURCE: Any = SourceSpec(
    name="forgejo",
    platform="forgejo",
    kinds=("repo",),
    how="Scrapy, Forgejo/Gitea REST API",
    fetcher="spiders.forgejo:ForgejoSpider",
    engine="scrapy",
    order=35,
    watch=ForgejoWatch,
    watch_default=ForgejoWatch(),
    targets=_targets,
    watch_doc=("forgejo.repos",),
    settings=ForgejoSettings,
    credentials=(
        Credential(
            "FORGEJO_TOKEN",
            False,
            "an access token for the default instance only (private repositories, the instance's own limits for accounts)",
        ),
    ),
    endpoints=(Endpoint("forgejo", "https://codeberg.org", "the default Forgejo instance (Codeberg)"),),
    metrics=("stars", "forks", "watchers", "open_issues", "release_downloads"),
    headline=(("repo", "stars"),),
    notes="other instances per entry",
    follows=(Follow("repo", "repos"),),
)
