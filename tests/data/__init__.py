"""Platform answers in their documented or recorded shapes (each file says where it came from).

The parser tests read them, and the simulation's tests hold crawler/sim's answers against
them (same fields, same error bodies), so the one simulated world keeps the platforms' shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent


def body(platform: str, name: str) -> Any:
    """The `body` of tests/data/PLATFORM/NAME.json."""
    return json.loads((DATA / platform / f"{name}.json").read_text())["body"]
