"""The codebook (crawler/codebook.py) describes the schema exactly, and docs/schema.md says
the same: the browse metadata and the documentation come from one source."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect

from crawler import codebook

SCHEMA_MD = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def test_every_table_view_and_column_of_the_schema_is_in_the_codebook(sqlite_engine: Engine) -> None:
    insp = inspect(sqlite_engine)
    tables = {t for t in insp.get_table_names() if t != "alembic_version"}
    views = set(insp.get_view_names())
    assert tables | views == set(codebook.BY_NAME), (
        "tables or views without a codebook entry (add them to crawler/codebook.py): "
        f"{sorted((tables | views) - set(codebook.BY_NAME))}; entries without a table: "
        f"{sorted(set(codebook.BY_NAME) - tables - views)}"
    )
    for name in tables | views:
        real = [c["name"] for c in insp.get_columns(name)]
        described = [c.name for c in codebook.BY_NAME[name].columns]
        assert sorted(real) == sorted(described), f"{name}: schema {real}, codebook {described}"
        assert codebook.BY_NAME[name].view == (name in views)


def test_every_description_is_filled_in() -> None:
    for t in codebook.TABLES:
        assert t.description.strip(), t.name
        for c in t.columns:
            assert c.meaning.strip() and c.null.strip(), f"{t.name}.{c.name}"


def test_schema_md_carries_the_codebook_for_every_table_and_is_up_to_date() -> None:
    text = SCHEMA_MD.read_text(encoding="utf-8")
    blocks = codebook.blocks_in(text)
    assert set(blocks) == set(codebook.BY_NAME)
    assert codebook.regenerate(text) == text, "docs/schema.md is stale: run `python -m crawler.codebook`"
    for t in codebook.TABLES:
        assert f"| {t.columns[0].name} |" in blocks[t.name]


def test_datasette_metadata_is_the_codebook_text() -> None:
    meta = codebook.datasette_tables()
    assert set(meta) == set(codebook.BY_NAME)
    handle = meta["communities"]["columns"]["handle"]  # type: ignore[index]
    assert handle.startswith("the name as written in the watchlist") and "`" not in handle
    assert meta["crawl_runs"]["columns"]["finished_at"].endswith("NULL: still running")  # type: ignore[index]
