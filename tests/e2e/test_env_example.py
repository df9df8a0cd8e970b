"""The shipped ``.env.example``, used as a new user does: copied, required values filled, served.

SQLite (the default ``DATABASE_URL``) whatever the test engine: this checks the shipped
defaults, not the database.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.server import free_port
from wabridge.settings import BEYOND_CONTRACT, load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"

#: What a new user fills in, shaped like the real thing.
REQUIRED = {
    "META_ACCESS_TOKEN": "EAAG" + secrets.token_urlsafe(150),
    "META_APP_SECRET": secrets.token_hex(16),
    "META_VERIFY_TOKEN": secrets.token_urlsafe(24),
    "META_PHONE_NUMBER_ID": "106540352242922",
    "SLACK_BOT_TOKEN": "xoxb-2468013579-1357924680-" + secrets.token_hex(12),
    "SLACK_SIGNING_SECRET": secrets.token_hex(16),
    "SLACK_CHANNEL_ID": "C0SUPPORT",
}


def _fill(text: str, values: dict[str, str]) -> str:
    """Edit each ``KEY=`` line into ``KEY=value``, as one would in an editor."""
    for name, value in values.items():
        text, found = re.subn(rf"^{name}=$", f"{name}={value}", text, flags=re.M)
        assert found == 1, f".env.example should have one empty {name}= line"
    return text


def _contract_variables(shared_dir: Path) -> set[str]:
    contract = (shared_dir / "CONTRACT.md").read_text()
    section = contract.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return {
        name
        for row in section.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }


def test_the_example_lists_every_variable_empty_with_a_comment(shared_dir: Path) -> None:
    lines = EXAMPLE.read_text().splitlines()
    listed = {}
    for number, line in enumerate(lines):
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            listed[match[1]] = match[2]
            assert number > 0 and lines[number - 1].startswith("# "), f"{match[1]}: no comment"
    assert set(listed) == _contract_variables(shared_dir) | BEYOND_CONTRACT
    # Empty = unset = the documented default: a copied file sets nothing the user did not choose.
    assert {name: value for name, value in listed.items() if value} == {}


def test_filling_in_only_the_required_values_is_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [*REQUIRED, "DATABASE_URL", "PORT", "SLACK_APP_TOKEN"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(_fill(EXAMPLE.read_text(), REQUIRED))
    settings = load_settings()
    aliases = {type(settings).model_fields[name].alias for name in settings.model_fields_set}
    assert aliases == set(REQUIRED)
    assert settings.database_url == "sqlite+aiosqlite:///./wabridge.db"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A fresh folder holding ``.env``: the example with the required values and a free port."""
    port = free_port()
    text = _fill(EXAMPLE.read_text(), {**REQUIRED, "PORT": str(port)})
    (tmp_path / ".env").write_text(text)
    return tmp_path


@pytest.fixture
def serve(workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``wabridge serve`` in ``workdir``, with nothing from the test's environment."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(workdir)),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    with (workdir / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wabridge", "serve"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def _port(workdir: Path) -> int:
    match = re.search(r"^PORT=(\d+)$", (workdir / ".env").read_text(), re.M)
    assert match is not None
    return int(match[1])


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"wabridge serve exited {process.returncode}:\n{log.read_text()}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"wabridge serve not ready after 60s:\n{log.read_text()}")


def test_the_shipped_example_boots(workdir: Path, serve: subprocess.Popen[bytes]) -> None:
    log = workdir / "serve.log"
    _wait_ready(serve, f"http://127.0.0.1:{_port(workdir)}/readyz", log)
    serve.send_signal(signal.SIGTERM)
    try:
        code = serve.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wabridge serve still running 15s after SIGTERM:\n{log.read_text()}")
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output, output
    assert "has no effect yet" not in output, output  # the example sets no unused variable
    assert not [value for value in REQUIRED.values() if len(value) > 12 and value in output]
    assert (workdir / "wabridge.db").is_file()  # the default database, in the working folder
