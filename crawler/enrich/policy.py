"""The content policies: what of a post may be stored (docs/ethics.md has the table).

* `counts`: id, times, score, comment count, nsfw, state, link domain, tool mentions.
* `metadata` (the default): adds the pseudonymous author, title, permalink and flair.
* `full`: adds the body text.

A post found deleted or removed upstream keeps only what `counts` keeps plus its flair,
whatever the policy: the author asked for it to be gone, and a Reddit permalink carries the
title in its slug, so the permalink goes too.
"""

from __future__ import annotations

from dataclasses import replace

from crawler.records import POLICIES, Post

# Placeholders platforms put where removed text was; they are not the author's words.
TEXT_PLACEHOLDERS: frozenset[str] = frozenset({"[deleted]", "[removed]"})


def _text(value: str | None) -> str | None:
    if value is None or value.strip() in TEXT_PLACEHOLDERS or not value.strip():
        return None
    return value


def apply_policy(post: Post, policy: str) -> Post:
    """A copy of `post` holding only what `policy` allows (raises ValueError on an unknown one)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown content policy {policy!r} (known: {', '.join(POLICIES)})")
    keep_meta = policy in ("metadata", "full") and post.state == "visible"
    keep_body = policy == "full" and post.state == "visible"
    return replace(
        post,
        author=post.author if keep_meta else None,
        title=_text(post.title) if keep_meta else None,
        url=post.url if keep_meta else None,
        flair=post.flair if policy != "counts" else None,
        body=_text(post.body) if keep_body else None,
        link_url=None,
    )
