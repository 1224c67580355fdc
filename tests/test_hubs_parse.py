"""The model-hub parsers on documented answers (pure: JSON or huggingface_hub objects in, records out).

Fixtures, and where they come from:
- HF_MODEL: the `/api/models/mcpotato/42-eicar-street` answer huggingface/hf-hub records in its
  tests (src/api/sync.rs), with `downloadsAllTime` and `gated` as `expand` adds them;
- HF_LISTED: a listing object as the Hub's docs and answers show it (`_id`, `id`, `likes`,
  `downloads`, `tags`, `createdAt`, ...), fed through huggingface_hub's own `ModelInfo`;
- CIVITAI_ITEM: the item of Civitai's docs (civitai-developer-docs, site/reference/models.md),
  with `mode` as the REST API reference documents it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from huggingface_hub.hf_api import ModelInfo, SpaceInfo

from crawler.records import CommunityKey
from crawler.sources import civitai_parse, huggingface_parse
from crawler.sources.hubs import hit_posts, query_tag, search_post_id, tally_hits

NOW = datetime(2025, 6, 1, tzinfo=UTC)
HF_MODEL = {
    "_id": "621ffdc136468d709f17ddb4",
    "author": "mcpotato",
    "createdAt": "2022-03-02T23:29:05.000Z",
    "disabled": False,
    "downloads": 0,
    "downloadsAllTime": 12,
    "gated": False,
    "id": "mcpotato/42-eicar-street",
    "lastModified": "2022-11-30T19:54:16.000Z",
    "likes": 0,
    "modelId": "mcpotato/42-eicar-street",
    "private": False,
    "sha": "8b3861f6931c4026b0cd22b38dbc09e7668983ac",
    "siblings": [{"rfilename": "pytorch_model.bin"}],
    "spaces": [],
    "tags": ["pytorch", "region:us"],
}
HF_LISTED = {
    "_id": "621ffdc136468d709f180294",
    "id": "sentence-transformers/all-MiniLM-L6-v2",
    "likes": 4975,
    "private": False,
    "downloads": 245017102,
    "downloadsAllTime": 1_200_000_000,
    "tags": ["sentence-transformers", "not-for-all-audiences"],
    "createdAt": "2022-03-02T23:29:05.000Z",
}
CIVITAI_ITEM = {
    "id": 827184,
    "name": "WAI-illustrious-SDXL",
    "description": "<p>...</p>",
    "type": "Checkpoint",
    "nsfw": False,
    "nsfwLevel": 31,
    "poi": False,
    "mode": None,
    "stats": {"downloadCount": 1272529, "thumbsUpCount": 79272, "thumbsDownCount": 202, "commentCount": 1931},
    "creator": {"username": "WAI0731", "image": "https://image.civitai.com/.../WAI0731.jpeg"},
    "tags": ["base model", "anime"],
    "modelVersions": [
        {"id": 2514310, "publishedAt": "2025-12-18T09:16:12.062Z", "trainedWords": ["word"]},
        {"id": 2514309, "publishedAt": "2024-10-01T00:00:00.000Z"},
    ],
}
KEY = CommunityKey("huggingface", "model", "mcpotato/42-eicar-street")


def test_a_model_answer_gives_its_figures_and_opaque_id():
    obs = huggingface_parse.repo_observation(
        ModelInfo(**HF_MODEL), KEY, NOW, texts=True, web_url="https://huggingface.co"
    )
    assert obs.status == "active" and obs.status_reason is None
    assert obs.metrics == {"downloads": 0.0, "downloads_total": 12.0, "likes": 0.0}
    assert obs.external_id == "621ffdc136468d709f17ddb4"
    assert obs.created_at == datetime(2022, 3, 2, 23, 29, 5, tzinfo=UTC)
    assert (obs.title, obs.url) == (
        "mcpotato/42-eicar-street",
        "https://huggingface.co/mcpotato/42-eicar-street",
    )


def test_without_texts_the_model_keeps_no_title_or_url():
    obs = huggingface_parse.repo_observation(ModelInfo(**HF_MODEL), KEY, NOW, texts=False, web_url="x")
    assert (obs.title, obs.url) == (None, None)


@pytest.mark.parametrize(
    ("gated", "reason"), [("manual", "gated: manual"), ("auto", "gated: auto"), (False, None)]
)
def test_gating_stays_active_with_the_gating_as_reason(gated, reason):
    obs = huggingface_parse.repo_observation(
        ModelInfo(**{**HF_MODEL, "gated": gated}), KEY, NOW, texts=False, web_url="x"
    )
    assert (obs.status, obs.status_reason) == ("active", reason)


def test_a_field_the_hub_leaves_out_stays_absent():
    data = {k: v for k, v in HF_MODEL.items() if k not in ("downloadsAllTime", "likes")}
    obs = huggingface_parse.repo_observation(ModelInfo(**data), KEY, NOW, texts=False, web_url="x")
    assert obs.metrics == {"downloads": 0.0}


def test_the_not_for_all_audiences_tag_is_nsfw():
    assert huggingface_parse.is_nsfw(ModelInfo(**HF_LISTED)) is True
    assert huggingface_parse.is_nsfw(ModelInfo(**HF_MODEL)) is False


def test_a_listed_model_becomes_a_hit_of_ids_and_counts():
    h = huggingface_parse.hit(ModelInfo(**HF_LISTED))
    assert h.model_id == "621ffdc136468d709f180294"
    assert (h.downloads, h.downloads_total, h.likes, h.nsfw) == (245017102.0, 1.2e9, 4975.0, True)


def test_an_author_tally_counts_models_and_spaces_and_sums_their_figures():
    space = SpaceInfo(id="a/s", likes=3)
    t = huggingface_parse.author_tally([ModelInfo(**HF_MODEL), ModelInfo(**HF_LISTED)], [space])
    assert t.metrics(spaces=True) == {
        "models": 2.0,
        "spaces": 1.0,
        "downloads": 245017102.0,
        "downloads_total": 1_200_000_012.0,
        "likes": 4978.0,
    }


def test_search_posts_carry_ids_and_counts_only():
    key = CommunityKey("civitai", "query", "Face  Swap")
    (post,) = hit_posts(key, [civitai_parse.hit(CIVITAI_ITEM)])
    assert post.external_id == f"{query_tag('face swap')}:827184" == search_post_id("face swap", "827184")
    assert (post.score, post.num_comments, post.nsfw) == (79272, 1931, False)
    assert (post.title, post.body, post.author, post.url, post.link_url) == (None, None, None, None, None)
    assert post.created_at == datetime(2024, 10, 1, tzinfo=UTC)  # the earliest version


def test_a_very_long_model_id_is_digested_in_the_post_id():
    assert len(search_post_id("q", "x" * 500)) <= 128


def test_a_civitai_model_gives_its_stats_and_its_name_only_with_texts():
    key = CommunityKey("civitai", "model", "827184")
    obs = civitai_parse.model_observation(CIVITAI_ITEM, key, NOW, texts=True, web_url="https://civitai.com")
    assert obs.metrics == {"downloads_total": 1272529.0, "likes": 79272.0, "comments": 1931.0}
    assert (obs.status, obs.title, obs.url) == (
        "active",
        "WAI-illustrious-SDXL",
        "https://civitai.com/models/827184",
    )
    bare = civitai_parse.model_observation(CIVITAI_ITEM, key, NOW, texts=False, web_url="https://civitai.com")
    assert (bare.title, bare.url) == (None, None)


@pytest.mark.parametrize(
    ("mode", "status"), [("TakenDown", "blocked"), ("Archived", "archived"), (None, "active")]
)
def test_civitai_mode_sets_the_status_in_its_own_word(mode, status):
    item = {**copy.deepcopy(CIVITAI_ITEM), "mode": mode}
    obs = civitai_parse.model_observation(
        item, CommunityKey("civitai", "model", "1"), NOW, texts=False, web_url="x"
    )
    assert (obs.status, obs.status_reason) == (status, mode)


def test_poi_or_nsfw_makes_a_civitai_model_sensitive():
    assert civitai_parse.sensitive({**CIVITAI_ITEM, "poi": True}) is True
    assert civitai_parse.sensitive({**CIVITAI_ITEM, "nsfw": True}) is True
    assert civitai_parse.sensitive(CIVITAI_ITEM) is False


def test_a_civitai_404_keeps_civitais_sentence():
    obs = civitai_parse.gone_observation(
        CommunityKey("civitai", "model", "0"), NOW, {"error": "No model with id 0"}
    )
    assert (obs.status, obs.status_reason) == ("not_found", "No model with id 0")


@pytest.mark.parametrize(
    "body", [None, [], {"items": "x"}, {"items": [{"id": "12"}]}, {"items": [{"name": "no id"}]}]
)
def test_a_malformed_page_is_refused(body):
    with pytest.raises(civitai_parse.MalformedAnswer):
        civitai_parse.page(body, "t")


def test_the_last_page_has_no_cursor():
    assert civitai_parse.page({"items": [], "metadata": {}}, "t") == ([], None)
    assert (
        civitai_parse.page({"items": [], "metadata": {"nextCursor": "75363|932023"}}, "t")[1]
        == "75363|932023"
    )


def test_tally_sums_only_known_figures():
    hits = [civitai_parse.hit(CIVITAI_ITEM), civitai_parse.hit({"id": 2, "stats": {}})]
    assert tally_hits(hits).metrics() == {
        "models": 2.0,
        "downloads_total": 1272529.0,
        "likes": 79272.0,
        "comments": 1931.0,
    }
