"""Tool mentions: the project's taxonomy (config/tools.yaml) matched against post text.

The rule is in crawler/enrich/mentions.py: case-insensitive, on word boundaries where
letters, digits and `_` are word characters, separators inside a name match any run of
spaces, hyphens and underscores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.config import Tool
from crawler.enrich import MentionMatcher

TOOLS_YAML = Path(__file__).resolve().parent.parent / "config" / "tools.yaml"
TOOLS = tuple(Tool.model_validate(t) for t in yaml.safe_load(TOOLS_YAML.read_text())["tools"])
MATCHER = MentionMatcher(TOOLS)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I used DeepFaceLab last night", ("DeepFaceLab",)),
        ("deepfacelab and DEEPFACELAB", ("DeepFaceLab",)),
        ("DFL is faster than FakeApp", ("DeepFaceLab", "FakeApp")),
        ("DeepFaceLab's new model", ("DeepFaceLab",)),
        ("(roop)", ("roop",)),
        ("#FaceFusion rocks", ("FaceFusion",)),
        ("Deep-Live-Cam 1.5 is out", ("Deep-Live-Cam",)),
        ("DeepLiveCam is out", ("Deep-Live-Cam",)),
        ("deep live cam is out", ("Deep-Live-Cam",)),
        ("deep_live_cam and Deep - Live - Cam", ("Deep-Live-Cam",)),
        ("roop-unleashed fork", ("roop",)),
        ("inswapper_128.onnx missing", ("InsightFace",)),
        ("get it at github.com/deepfakes/faceswap", ("faceswap",)),
        ("https://github.com/s0md3v/roop/releases", ("roop",)),
        ("sd-webui-reactor or comfyui-reactor?", ("ReActor",)),
        ("roop, FaceFusion, SimSwap and DeepFaceLive", ("DeepFaceLive", "FaceFusion", "SimSwap", "roop")),
        ("Überall FakeApp. Ende", ("FakeApp",)),
    ],
)
def test_finds_tools_by_name_and_alias(text: str, found: tuple[str, ...]) -> None:
    assert MATCHER.find(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "the flowers droop in summer",
        "roops",
        "roop2",
        "a faceswapper app",
        "faceswap_v2",
        "DeepFaceLabs",
        "xDFL",
        "DFLs",
        "deepfake",  # the phenomenon, not a tool
        "Deep Live Camera",
        "deeplivecams",
        "",
    ],
)
def test_does_not_match_inside_other_words(text: str) -> None:
    assert MATCHER.find(text) == ()


def test_finds_across_several_texts_sorted_and_unique() -> None:
    assert MATCHER.find("FakeApp", None, "fakeapp and DFL", "") == ("DeepFaceLab", "FakeApp")


def test_empty_taxonomy_finds_nothing() -> None:
    assert MentionMatcher([]).find("DeepFaceLab") == ()


def test_longer_alias_wins_over_its_prefix() -> None:
    matcher = MentionMatcher([Tool(name="Face"), Tool(name="FaceFusion Pro", aliases=("FFP",))])
    assert matcher.find("FaceFusion Pro") == ("FaceFusion Pro",)
    assert matcher.find("Face only") == ("Face",)


def test_regex_metacharacters_in_names_are_literal() -> None:
    matcher = MentionMatcher([Tool(name="C++Swap"), Tool(name="v1.0")])
    assert matcher.find("try C++Swap") == ("C++Swap",)
    assert matcher.find("CCSwap v100") == ()


SEPARATORS = st.sampled_from([" ", "\n", "\t", ". ", ", ", " (", ") ", " #", "/", " '", "' ", "! "])
SPELLINGS = [(tool.name, s) for tool in TOOLS for s in (tool.name, *tool.aliases)]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    found = MATCHER.find(text)
    assert set(found) <= {t.name for t in TOOLS}
    assert list(found) == sorted(set(found))


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(max_size=80),
    after=st.text(max_size=80),
    left=SEPARATORS,
    right=SEPARATORS,
    spelling=st.sampled_from(SPELLINGS),
    upper=st.booleans(),
)
def test_finds_a_tool_inserted_anywhere_between_separators(
    before: str, after: str, left: str, right: str, spelling: tuple[str, str], upper: bool
) -> None:
    canonical, written = spelling
    written = written.upper() if upper else written
    assert canonical in MATCHER.find(before + left + written + right + after)
