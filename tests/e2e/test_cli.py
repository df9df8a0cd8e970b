"""The console script's database commands, as an operator runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sandbox.server import free_port

pytestmark = pytest.mark.e2e

CONFIG = {
    "META_ACCESS_TOKEN": "t0ken-for-cli-tests",
    "META_APP_SECRET": "secret-for-cli-tests",
    "META_VERIFY_TOKEN": "verify",
    "META_PHONE_NUMBER_ID": "1",
    "SLACK_BOT_TOKEN": "xoxb-cli",
    "SLACK_SIGNING_SECRET": "signing-for-cli-tests",
    "SLACK_CHANNEL_ID": "C1",
    "META_API_BASE": "http://127.0.0.1:9",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
}


def _env(database_url: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **CONFIG, "DATABASE_URL": database_url}


def _wabridge(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wabridge", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_brings_a_new_database_to_head(fresh_database_url: str, tmp_path: Path) -> None:
    first = _wabridge("migrate", env=_env(fresh_database_url), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "database schema is at head" in first.stdout
    again = _wabridge("migrate", env=_env(fresh_database_url), cwd=tmp_path)
    assert again.returncode == 0


def test_unreachable_database_is_one_line_exit_2(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/none"
    result = _wabridge("migrate", env=_env(url), cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("wabridge: database error:") and "pw" not in line


def test_a_port_out_of_range_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """Taken as is, 70000 would listen on 70000 - 65536 while the log said 70000."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"
    result = _wabridge("serve", "--port", "70000", env=_env(url), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("argument --port: 70000 is not a port: 1 to 65535")
    assert not (tmp_path / "never.db").exists()


def test_a_port_in_use_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = _wabridge("serve", "--port", str(port), env=_env(url), cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == f"wabridge: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "never.db").exists()  # nothing migrated, nothing started
    nowhere = _wabridge("serve", "--host", "nowhere.invalid", env=_env(url), cwd=tmp_path)
    assert nowhere.returncode == 2
    [line] = nowhere.stderr.strip().splitlines()
    assert line == "wabridge: cannot listen on nowhere.invalid:8000: no such host or address"


def test_serve_no_migrate_on_an_unreachable_database_is_one_line_exit_2(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/none"
    result = _wabridge("serve", "--no-migrate", "--role", "worker", env=_env(url), cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("wabridge: database error:") and "pw" not in line


def test_serve_no_migrate_is_not_ready_on_an_empty_database(
    fresh_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wabridge", "serve", "--no-migrate", "--port", str(port)],
        env=_env(fresh_database_url),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.engine_neutral
def test_a_refused_app_token_ends_serve_with_one_line(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from sandbox.slack_sim import SlackSimulator

    with SlackSimulator(
        bot_token=CONFIG["SLACK_BOT_TOKEN"], signing_secret="s", app_token="xapp-1-right"
    ) as slack:
        env = _env(fresh_database_url) | {
            "SLACK_APP_TOKEN": "xapp-1-wrong",
            "SLACK_API_URL": slack.url,
            "SLACK_SIGNING_SECRET": "",
        }
        result = _wabridge("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "wabridge: SLACK_APP_TOKEN: Slack refused it (invalid_auth)"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.engine_neutral
@pytest.mark.long
def test_templates_sync_fetches_and_stores_every_template(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from sandbox.meta_sim import MetaSimulator

    env = _env(fresh_database_url)
    assert _wabridge("migrate", env=env, cwd=tmp_path).returncode == 0
    missing = _wabridge("templates", "sync", env=env, cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "wabridge: META_WABA_ID is required for templates but not set"

    with MetaSimulator(access_token=CONFIG["META_ACCESS_TOKEN"], app_secret="s") as meta:
        env |= {"META_API_BASE": meta.url, "META_WABA_ID": meta.waba_id}
        synced = _wabridge("templates", "sync", env=env, cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr
        # The simulator's account: two approved templates and a paused one.
        assert synced.stdout.strip() == "3 templates synced; 2 approved and ready to send"
        refused = _wabridge(
            "templates", "sync", env=env | {"META_ACCESS_TOKEN": "EAAG-wrong"}, cwd=tmp_path
        )
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("wabridge: WhatsApp (Meta) refused: (190)")
    away = _wabridge("templates", "sync", env=env, cwd=tmp_path)  # the simulator has stopped
    assert away.returncode == 1
    [line] = away.stderr.strip().splitlines()
    assert line.startswith("wabridge: Could not reach WhatsApp (Meta)"), line


@pytest.mark.engine_neutral
@pytest.mark.long
def test_numbers_add_list_and_remove_as_an_operator_would(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = _env(fresh_database_url)
    added = _wabridge(
        "numbers",
        "add",
        "--phone-number-id",
        "2000000002",
        "--display-number",
        "+49 30 1234567",
        "--waba-id",
        "3000000003",
        "--channel",
        "C0SALES01",
        "--access-token",
        "EAAG-sales-own-token",
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert "number 2000000002 added: its conversations go to C0SALES01" in added.stdout

    listed = _wabridge("numbers", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    _, default, sales = listed.stdout.strip().splitlines()
    assert default.split()[:1] == ["1"] and "(default number)" in default
    assert sales.split()[:4] == ["2000000002", "+49301234567", "3000000003", "C0SALES01"]
    assert "own token" in sales
    assert "EAAG-sales-own-token" not in listed.stdout + listed.stderr

    refused = _wabridge(
        "numbers",
        "add",
        "--phone-number-id",
        "2000000003",
        "--display-number",
        "4930",
        "--waba-id",
        "3000000003",
        "--channel",
        "#sales",
        env=env,
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("wabridge: --display-number must be")

    removed = _wabridge("numbers", "remove", "2000000002", env=env, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    again = _wabridge("numbers", "remove", "2000000002", env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert "no added number" in again.stderr
    listed = _wabridge("numbers", "list", env=env, cwd=tmp_path)
    assert len(listed.stdout.strip().splitlines()) == 2
