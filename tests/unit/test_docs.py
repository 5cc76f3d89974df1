"""The documents name tests; those tests must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def test_every_test_the_threat_model_cites_exists() -> None:
    text = (ROOT / "docs" / "SECURITY.md").read_text()
    cited = set(re.findall(r"`(test_\w+)", text))

    missing = cited - defined_tests()

    assert len(cited) > 20
    assert not missing, f"docs/SECURITY.md cites tests that do not exist: {missing}"
