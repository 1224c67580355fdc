"""Fixtures of the reliability suite: the gated fakes (the databases come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.harness import GatedReddit, GatedX


@pytest.fixture
def fake_x() -> Iterator[GatedX]:
    with GatedX() as fake:
        yield fake
        for gate in fake.gates.values():
            gate.release()  # never leave a handler thread waiting


@pytest.fixture
def fake_reddit() -> Iterator[GatedReddit]:
    fake = GatedReddit().start()
    try:
        yield fake
    finally:
        if fake.listing_gate is not None:
            fake.listing_gate.release()
        fake.stop()
