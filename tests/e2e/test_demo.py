"""``wabridge demo`` is what a newcomer runs first: it must play every step and exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]


@pytest.mark.long
def test_demo_plays_every_step(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wabridge", "demo"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in (
        "Slack: a new thread appears in the support channel",
        "WhatsApp: the bridge sent the answer to the customer",
        "shows ✔ sent, 📬 delivered and 👀 read",
        "the window is closed and a template is needed",
        "WhatsApp: nothing was sent to Grace",
        "WhatsApp: the template went out to Grace",
        "Slack: the caption, then the picture itself as a file in the thread",
        "Slack: ❌ on the reply, and a notice with Meta's code and what to do",
        "Slack: the bridge warns in her thread and suggests templates",
    ):
        assert step in out, step
    assert "All 8 steps observed" in out
    assert list(tmp_path.glob("wabridge-demo-*")) == []  # cleans up after itself
