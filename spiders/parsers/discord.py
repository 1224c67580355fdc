"""Discord invite answers → server facts (pure).

Shape: `GET /api/v9/invites/{code}?with_counts=true` as in Discord's developer
documentation (Invite object: `guild`, `approximate_member_count`,
`approximate_presence_count`); an expired or unknown invite is a 404 with
`{"message": "Unknown Invite", "code": 10006}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spiders.parsers.common import as_number

UNKNOWN_INVITE = 10006


@dataclass
class InviteFacts:
    external_id: str | None
    title: str | None
    nsfw: bool | None
    metrics: dict[str, float] = field(default_factory=dict)


def parse_invite(body: dict[str, Any]) -> InviteFacts:
    """The invite object → guild id, name, NSFW flag and the two approximate counts."""
    guild = body.get("guild") or {}
    metrics = {}
    for metric, key in (
        ("members", "approximate_member_count"),
        ("online_members", "approximate_presence_count"),
    ):
        value = as_number(body.get(key))
        if value is not None:
            metrics[metric] = value
    nsfw = guild.get("nsfw")
    if nsfw is None and "nsfw_level" in guild:
        # nsfw_level: 0 default, 1 explicit, 2 safe, 3 age restricted
        nsfw = guild.get("nsfw_level") in (1, 3)
    gid = guild.get("id")
    return InviteFacts(
        external_id=str(gid) if gid is not None else None,
        title=guild.get("name"),
        nsfw=bool(nsfw) if nsfw is not None else None,
        metrics=metrics,
    )


def error_reason(status: int, body: Any) -> str:
    """'Unknown Invite (code 10006)', keeping Discord's words; else the HTTP status."""
    if isinstance(body, dict) and body.get("message"):
        code = body.get("code")
        return f"{body['message']} (code {code})" if code is not None else str(body["message"])
    return f"HTTP {status}"
