"""Fixtures for the unit tests: where Meta's reference files live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def meta_dir(shared_dir: Path) -> Path:
    """``shared/meta``: Meta's OpenAPI file, NOTES.md and the recorded webhooks."""
    path = shared_dir / "meta"
    if not (path / "business-messaging-api_v23.0.yaml").is_file():
        pytest.fail(f"Meta reference files not found at {path}; set WABRIDGE_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def pywa_samples(meta_dir: Path) -> dict[str, dict[str, Any]]:
    """Every recorded webhook of ``samples/pywa``, keyed ``file/sample``."""
    samples: dict[str, dict[str, Any]] = {}
    for file in sorted((meta_dir / "samples" / "pywa").glob("*.json")):
        for name, payload in json.loads(file.read_text()).items():
            samples[f"{file.stem}/{name}"] = payload
    return samples
