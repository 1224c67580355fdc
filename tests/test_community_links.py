"""Links to communities read from post text (crawler.enrich.community_links).

The property tests: any spelling of one link (scheme, case, www./m./old., trailing slashes
and punctuation, deeper paths, tracking parameters, the alias hosts) gives one key, and no
e-mail address or unrelated domain gives any.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.enrich.community_links import community_links, namespace_key, same_community
from crawler.records import CommunityKey


def keys(text: str) -> list[str]:
    return [str(k) for k in community_links(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("we moved: t.me/DeepFakes_Hub", "telegram:channel:DeepFakes_Hub"),
        ("https://telegram.me/deepfakes_hub/", "telegram:channel:deepfakes_hub"),
        ("https://t.me/s/deepfakes_hub/1234", "telegram:channel:deepfakes_hub"),
        ("t.me/SomeSwapBot?start=ref123", "telegram:bot:SomeSwapBot"),
        ("join https://discord.gg/AbCd12", "discord:server:AbCd12"),
        ("https://discord.com/invite/AbCd12?utm_source=reddit", "discord:server:AbCd12"),
        ("discordapp.com/invite/AbCd12", "discord:server:AbCd12"),
        ("https://old.reddit.com/r/DeepFakesSFW/comments/7vx1/slug/", "reddit:subreddit:DeepFakesSFW"),
        ("new home: r/DeepFakesSFW.", "reddit:subreddit:DeepFakesSFW"),
        ("(see /r/SFWdeepfakes)", "reddit:subreddit:SFWdeepfakes"),
        ("https://github.com/iperov/DeepFaceLab/releases/tag/v1", "github:repo:iperov/DeepFaceLab"),
        ("git clone https://github.com/s0md3v/roop.git", "github:repo:s0md3v/roop"),
        ("codeberg.org/someone/roop-fork", "forgejo:repo:someone/roop-fork"),
        ("https://huggingface.co/owner/inswapper/resolve/main/x.onnx", "huggingface:model:owner/inswapper"),
        ("https://hf.co/spaces/owner/FaceFusion", "huggingface:space:owner/FaceFusion"),
        ("https://civitai.com/models/012345/some-slug?modelVersionId=9", "civitai:model:12345"),
        ("bsky.app/profile/someone.bsky.social", "bluesky:account:someone.bsky.social"),
        ("https://x.com/deepfakes_app", "x:account:deepfakes_app"),
        ("https://mobile.twitter.com/deepfakes_app?s=20", "x:account:deepfakes_app"),
        ("[invite](https://discord.gg/AbCd12)", "discord:server:AbCd12"),
    ],
)
def test_each_documented_link_form_gives_its_key(text: str, expected: str) -> None:
    assert keys(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "mail admin@reddit.com or a@x.com or x@t.me",
        "fox.com/news/r and box.com/share/x and dropbox.com/s/abc",
        "notreddit.com/r/deepfakes and example.com/r/deepfakes and evil.com/t.me/foo",
        "t.me.example.org/foo and chat.me/somechannel",
        "https://x.com/deepfakes_app/status/123456",  # a post, not a profile link
        "https://x.com/search?q=deepfake and https://x.com/home",
        "https://github.com/features/copilot and https://github.com/iperov",
        "https://t.me/joinchat/AAAAAE and https://t.me/+AbCdEf and t.me/c/123/45",
        "r/all r/popular r/u_someone and w/r/t and R/C cars",
        "https://huggingface.co/datasets/owner/name and huggingface.co/docs/hub",
        "https://discord.com/channels/123/456",
        "civitai.com/models and civitai.com/images/123",
    ],
)
def test_lookalikes_site_pages_and_addresses_give_nothing(text: str) -> None:
    assert keys(text) == []


def test_several_links_in_one_text_come_once_each_in_order() -> None:
    text = "r/one, t.me/two_chan and https://reddit.com/r/ONE/ and discord.gg/three"
    assert keys(text) == ["reddit:subreddit:one", "telegram:channel:two_chan", "discord:server:three"]


def test_telegram_kinds_share_one_namespace() -> None:
    channel = ("telegram", "channel", "swapbot")
    assert same_community(channel, ("telegram", "bot", "swapbot"))
    assert not same_community(channel, ("telegram", "channel", "other"))
    assert namespace_key(("telegram", "group", "x")) == ("telegram", "channel", "x")
    assert namespace_key(("reddit", "subreddit", "x")) == ("reddit", "subreddit", "x")


# --------------------------------------------------------------------------- properties

LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + LOWER.upper() + "0123456789"


def _name(first: str, rest: str, lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.builds(lambda a, b: a + b, st.sampled_from(first), st.text(rest, min_size=lo, max_size=hi))


TG = _name(LOWER + LOWER.upper(), ALNUM + "_", 4, 20).filter(
    lambda n: n.lower() not in {"joinchat", "share", "proxy", "socks", "login", "contact", "addlist"}
)
SUB = _name(ALNUM, ALNUM + "_", 2, 15).filter(
    lambda n: (
        n.lower() not in {"all", "popular", "random", "friends", "mod", "home"}
        and not n.lower().startswith("u_")
    )
)
CODE = st.text(ALNUM, min_size=4, max_size=12)
OWNER = _name(ALNUM, ALNUM, 2, 10).filter(
    lambda n: n.lower() not in {"orgs", "about", "site", "team", "apps"}
)
REPO = _name(ALNUM, ALNUM + "-_", 1, 12)


def _case(draw: st.DrawFn, text: str) -> str:
    flags = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flags, strict=True))


@st.composite
def spelled_link(draw: st.DrawFn) -> tuple[str, tuple[str, str, str]]:
    """(one spelling of a link, the key it must give)."""
    form = draw(
        st.sampled_from(["telegram", "discord", "reddit", "github", "codeberg", "hf", "space", "civitai"])
    )
    if form == "telegram":
        name = draw(TG)
        host = draw(st.sampled_from(["t.me", "telegram.me"]))
        path = draw(st.sampled_from([f"/{name}", f"/s/{name}", f"/{name}/123"]))
        key = ("telegram", "channel", name)
    elif form == "discord":
        code = draw(CODE)
        host, path = draw(st.sampled_from([("discord.gg", f"/{code}"), ("discord.com", f"/invite/{code}")]))
        key = ("discord", "server", code)
    elif form == "reddit":
        name = draw(SUB)
        host = "reddit.com"
        path = draw(st.sampled_from([f"/r/{name}", f"/r/{name}/comments/abc12/a_title", f"/R/{name}"]))
        key = ("reddit", "subreddit", name)
    elif form in ("github", "codeberg"):
        owner, repo = draw(OWNER), draw(REPO)
        host = "github.com" if form == "github" else "codeberg.org"
        path = draw(
            st.sampled_from([f"/{owner}/{repo}", f"/{owner}/{repo}.git", f"/{owner}/{repo}/releases"])
        )
        key = ("github" if form == "github" else "forgejo", "repo", f"{owner}/{repo}")
    elif form in ("hf", "space"):
        owner, repo = draw(OWNER), draw(REPO)
        host = draw(st.sampled_from(["huggingface.co", "hf.co"]))
        path = f"/{owner}/{repo}" if form == "hf" else f"/spaces/{owner}/{repo}"
        path += draw(st.sampled_from(["", "/tree/main", "/blob/main/app.py"]))
        key = ("huggingface", "model" if form == "hf" else "space", f"{owner}/{repo}")
    else:
        n = draw(st.integers(1, 10**9))
        host, path = "civitai.com", f"/models/{n}" + draw(st.sampled_from(["", "/some-slug"]))
        key = ("civitai", "model", str(n))
    scheme = draw(st.sampled_from(["", "http://", "https://", "//", "HTTPS://"]))
    prefix = draw(st.sampled_from(["", "www.", "m.", "old."]))
    if form != "discord":  # invite codes are case-sensitive; everything else compares without case
        path = _case(draw, path) if form != "civitai" else path
    tail = draw(st.sampled_from(["", "/", "?utm_source=x&utm_medium=y", "/?si=AbC", "#top", "?ref=share#x"]))
    url = f"{scheme}{prefix}{_case(draw, host)}{path}{tail}"
    before = draw(st.sampled_from(["", "see ", "(", "[here](", "New home → ", "\n"]))
    after = draw(st.sampled_from(["", ".", ")", "!", ", thanks", " :)"]))
    return f"{before}{url}{after}", (key[0], key[1], key[2].lower())


@given(spelled_link())
@settings(max_examples=400, deadline=None)
def test_any_spelling_of_one_link_gives_one_key(case: tuple[str, tuple[str, str, str]]) -> None:
    text, norm = case
    found = community_links(text)
    assert [k.norm for k in found] == [norm], text


@given(st.lists(spelled_link(), min_size=2, max_size=4))
@settings(max_examples=100, deadline=None)
def test_spellings_of_the_same_links_give_the_same_keys(
    cases: list[tuple[str, tuple[str, str, str]]],
) -> None:
    text = " and ".join(t for t, _ in cases)
    expected = list(dict.fromkeys(n for _, n in cases))
    assert [k.norm for k in community_links(text)] == expected, text


KNOWN = {"t.me", "telegram.me", "telegram.dog", "discord.gg", "discord.com", "discordapp.com", "reddit.com",
         "github.com", "codeberg.org", "huggingface.co", "hf.co", "civitai.com", "civitai.red", "bsky.app",
         "twitter.com", "x.com"}  # fmt: skip
LABEL = st.text(LOWER + "0123456789", min_size=1, max_size=10)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "net", "io", "me", "gg", "co", "app", "dog", "red"]),
)


@given(
    local=st.text(ALNUM + "._+-", min_size=1, max_size=20).filter(lambda s: not s.startswith(".")),
    domain=st.one_of(DOMAIN, st.sampled_from(sorted(KNOWN))),
    around=st.sampled_from(["{}", "mail {} please", "<{}>", "({})", "{}."]),
)
@settings(max_examples=300, deadline=None)
def test_no_key_from_an_email_address(local: str, domain: str, around: str) -> None:
    text = around.format(f"{local}@{domain}")
    assert community_links(text) == (), text


@given(
    domain=DOMAIN.filter(lambda d: d not in KNOWN and not any(d.endswith("." + k) for k in KNOWN)),
    path=st.sampled_from(
        ["/r/{n}", "/{n}", "/invite/{n}", "/{n}/{n}", "/s/{n}", "/models/1", "/profile/{n}.x"]
    ),
    name=TG,
    scheme=st.sampled_from(["", "https://", "http://www."]),
)
@settings(max_examples=300, deadline=None)
def test_no_key_from_an_unrelated_domain(domain: str, path: str, name: str, scheme: str) -> None:
    text = f"{scheme}{domain}{path.format(n=name)}"
    assert community_links(text) == (), text


def test_links_are_community_keys_with_the_first_spelling() -> None:
    (key,) = community_links("r/DeepFakesSFW and r/deepfakessfw")
    assert key == CommunityKey("reddit", "subreddit", "DeepFakesSFW")
