from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.harness import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path, migrated_database_url: str) -> Iterator[Sandbox]:
    """A real ``wabridge serve`` process against both simulators, on a fresh database."""
    box = Sandbox(workdir=tmp_path / "run", database_url=migrated_database_url)
    with box:
        yield box
