"""The recorded real answers are found from any checkout: /work/main and a git worktree alike."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RECORDED_DIR, find_recorded_dir


def test_the_recorded_answers_are_found_above_a_worktree_and_beside_a_checkout(tmp_path: Path) -> None:
    recorded = tmp_path / "shared" / "fixtures" / "recorded"
    recorded.mkdir(parents=True)
    main = tmp_path / "main" / "tests" / "conftest.py"
    worktree = tmp_path / "wt" / "onesim" / "tests" / "conftest.py"
    assert find_recorded_dir(main, env={}) == recorded
    assert find_recorded_dir(worktree, env={}) == recorded
    assert find_recorded_dir(worktree, env={"DFWATCH_RECORDED_DIR": "/elsewhere"}) == Path("/elsewhere")


def test_nothing_is_found_where_no_parent_holds_them(tmp_path: Path) -> None:
    assert find_recorded_dir(tmp_path / "alone" / "tests" / "conftest.py", env={}) is None


def test_this_checkout_finds_its_recorded_answers_when_they_are_here() -> None:
    shared = [p / "shared" / "fixtures" / "recorded" for p in Path(__file__).resolve().parents]
    if any(p.is_dir() for p in shared):
        assert RECORDED_DIR is not None and (RECORDED_DIR / "github").is_dir()
