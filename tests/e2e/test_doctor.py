"""``wabridge doctor`` as an operator runs it: all good against the sandbox, then each failure.

Failures that do not hide each other share one run; every run also proves that no secret of
its environment reaches the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import make_url

from sandbox.harness import Sandbox
from sandbox.meta_sim import MetaSimulator
from sandbox.server import ServerThread, free_port
from sandbox.slack_sim import SCOPES, SlackSimulator
from wabridge.doctor import run_checks
from wabridge.settings import load_settings

pytestmark = pytest.mark.e2e

ACCESS_TOKEN = "EAAG-doctor-access-token-0123456789"
APP_SECRET = "doctor-app-secret-0123456789"
VERIFY_TOKEN = "doctor-verify-token-0123456789"
BOT_TOKEN = "xoxb-doctor-bot-token-0123456789"
SIGNING_SECRET = "doctor-signing-secret-0123456789"
APP_TOKEN = "xapp-1-doctor-app-token-0123456789"
SECRETS = (
    "META_ACCESS_TOKEN",
    "META_APP_SECRET",
    "META_VERIFY_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "WABRIDGE_API_TOKEN",
)
ALL_CHECKS = [
    "Meta token",
    "Meta phone number",
    "Meta templates",
    "Meta webhooks",
    "Slack token",
    "Slack scopes",
    "Slack channel",
    "Database",
    "Webhook handshake",
]


def _doctor(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str]]:
    """Run the real command; its exit code and its lines by check name (summary excluded)."""
    result = subprocess.run(
        [sys.executable, "-m", "wabridge", "doctor", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    for name in SECRETS:
        if env.get(name):
            assert env[name] not in output, f"{name} printed"
    password = make_url(env["DATABASE_URL"]).password
    assert not password or str(password) not in output
    # The scrubber in main() is only a net: no check may need it.
    assert "[redacted]" not in output
    assert result.stderr == ""
    *checks, summary = result.stdout.strip().splitlines()
    assert summary.endswith(".")
    lines = {line[2:].split(":", 1)[0]: line for line in checks}
    assert len(lines) == len(checks)
    return result.returncode, lines


def _env(meta: MetaSimulator, slack: SlackSimulator, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "META_API_BASE": meta.url,
        "META_API_VERSION": meta.version,
        "META_ACCESS_TOKEN": ACCESS_TOKEN,
        "META_APP_SECRET": APP_SECRET,
        "META_VERIFY_TOKEN": VERIFY_TOKEN,
        "META_PHONE_NUMBER_ID": meta.phone_number_id,
        "META_WABA_ID": meta.waba_id,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL_ID": "C0SUPPORT",
        "SLACK_API_URL": slack.url,
    }


@pytest.fixture
def simulators() -> Iterator[tuple[MetaSimulator, SlackSimulator]]:
    """Both simulators without a bridge: the doctor needs none except for the handshake."""
    with (
        MetaSimulator(access_token=ACCESS_TOKEN, app_secret=APP_SECRET) as meta,
        SlackSimulator(
            bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, app_token=APP_TOKEN
        ) as slack,
    ):
        yield meta, slack


@pytest.fixture
def html_server() -> Iterator[str]:
    """A web server that answers every request with 200 and an HTML page."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def page(path: str) -> HTMLResponse:
        return HTMLResponse("<html><body>It works!</body></html>")

    with ServerThread(app) as server:
        yield server.url


@pytest.mark.engine_neutral
def test_all_good_then_a_verify_token_the_bridge_does_not_know(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    code, lines = _doctor("--public-url", sandbox.url, env=sandbox.env(), cwd=tmp_path)
    assert code == 0, lines
    assert list(lines) == ALL_CHECKS
    assert all(line.startswith("✓ ") for line in lines.values()), lines
    assert "answered the challenge" in lines["Webhook handshake"]

    other = sandbox.env() | {"META_VERIFY_TOKEN": "not-the-bridges-verify-token"}
    code, lines = _doctor("--public-url", sandbox.url + "/", env=other, cwd=tmp_path)
    assert code == 1
    assert [name for name, line in lines.items() if line.startswith("✗")] == ["Webhook handshake"]
    assert (
        "refused the verify token — META_VERIFY_TOKEN must be the same"
        in (lines["Webhook handshake"])
    )


def test_refused_tokens_and_a_database_never_migrated(
    simulators: tuple[MetaSimulator, SlackSimulator], fresh_database_url: str, tmp_path: Path
) -> None:
    meta, slack = simulators
    url = make_url(fresh_database_url)
    if url.get_backend_name() == "sqlite":  # a database that exists, like PostgreSQL's
        Path(str(url.database)).touch()
    env = _env(meta, slack, fresh_database_url) | {
        "META_ACCESS_TOKEN": "EAAG-revoked-token-0123456789",
        "SLACK_BOT_TOKEN": "xoxb-wrong-token-0123456789",
    }
    code, lines = _doctor(env=env, cwd=tmp_path)
    assert code == 1
    assert list(lines) == ALL_CHECKS
    assert lines["Meta token"].startswith("✗ Meta token: Invalid OAuth access token")
    assert "(code 190) — create a new system-user token" in lines["Meta token"]
    assert "set META_ACCESS_TOKEN" in lines["Meta token"]
    for name in ("Meta phone number", "Meta templates", "Meta webhooks"):
        assert lines[name] == f"- {name}: not checked: the Meta token does not work"
    assert lines["Slack token"].startswith("✗ Slack token: Slack refused: invalid_auth — ")
    assert "into SLACK_BOT_TOKEN" in lines["Slack token"]
    for name in ("Slack scopes", "Slack channel"):
        assert lines[name] == f"- {name}: not checked: the Slack token does not work"
    assert lines["Database"].startswith("✗ Database: ")
    assert lines["Database"].endswith("schema is not at head — run `wabridge migrate`")
    assert lines["Webhook handshake"].startswith("- Webhook handshake: not checked: run ")
    assert "--public-url" in lines["Webhook handshake"]

    bad_url = _doctor_refusal("--public-url", "graph.example.com", env=env, cwd=tmp_path)
    assert bad_url == "wabridge: --public-url must start with https://, got graph.example.com"


def _doctor_refusal(*args: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "wabridge", "doctor", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.engine_neutral
def test_unknown_number_no_waba_missing_scope_bot_outside_unreachable_url(
    simulators: tuple[MetaSimulator, SlackSimulator], database_url: str, tmp_path: Path
) -> None:
    meta, slack = simulators
    slack.set_scopes(s for s in SCOPES.split(",") if s != "reactions:write")
    slack.remove_bot("C0SUPPORT")
    env = _env(meta, slack, database_url) | {
        "META_PHONE_NUMBER_ID": "1999999999",
        "SLACK_APP_TOKEN": APP_TOKEN,
    }
    del env["META_WABA_ID"]
    nobody = f"http://127.0.0.1:{free_port()}"
    code, lines = _doctor("--public-url", nobody, env=env, cwd=tmp_path)
    assert code == 1
    assert list(lines) == [*ALL_CHECKS[:-2], "Slack Socket Mode", *ALL_CHECKS[-2:]]
    passed = [name for name, line in lines.items() if line.startswith("✓")]
    assert passed == ["Meta token", "Slack token", "Slack Socket Mode", "Database"]
    assert lines["Meta phone number"].startswith(
        "✗ Meta phone number: META_PHONE_NUMBER_ID 1999999999 is unknown to Meta"
    )
    assert "copy the Phone number ID" in lines["Meta phone number"]
    for name in ("Meta templates", "Meta webhooks"):
        assert lines[name].startswith(f"✗ {name}: META_WABA_ID is not set — set META_WABA_ID")
    assert lines["Slack scopes"].startswith("✗ Slack scopes: missing reactions:write — add it ")
    assert lines["Slack scopes"].endswith("then reinstall the app")
    assert lines["Slack channel"] == (
        "✗ Slack channel: the bot is not in C0SUPPORT — "
        "invite the bot: /invite @wabridge in the channel"
    )
    assert lines["Webhook handshake"].startswith(
        f"✗ Webhook handshake: cannot reach {nobody}/webhooks/whatsapp (ConnectError"
    )
    assert "check that wabridge serve is running" in lines["Webhook handshake"]


@pytest.mark.engine_neutral
def test_unsubscribed_app_private_channel_and_a_wrong_app_token(
    simulators: tuple[MetaSimulator, SlackSimulator], database_url: str, tmp_path: Path
) -> None:
    meta, slack = simulators
    meta.set_subscribed(False)
    slack.add_channel("G0PRIVATE", "customers", private=True)
    slack.remove_bot("G0PRIVATE")
    env = _env(meta, slack, database_url) | {
        "SLACK_CHANNEL_ID": "G0PRIVATE",
        "SLACK_APP_TOKEN": "xapp-1-not-this-app-0123456789",
    }
    code, lines = _doctor(env=env, cwd=tmp_path)
    assert code == 1
    failed = [name for name, line in lines.items() if line.startswith("✗")]
    assert failed == ["Meta webhooks", "Slack channel", "Slack Socket Mode"]
    assert lines["Meta webhooks"] == (
        "✗ Meta webhooks: no app is subscribed to the business account's webhooks: Meta sends "
        f"no messages — subscribe the app: POST /{meta.version}/{meta.waba_id}/subscribed_apps "
        "with the system-user token"
    )
    assert lines["Slack channel"] == (
        "✗ Slack channel: G0PRIVATE not found: no such channel, or a private one the bot is not "
        "in — invite the bot: /invite @wabridge in the channel, or check SLACK_CHANNEL_ID"
    )
    assert lines["Slack Socket Mode"].startswith(
        "✗ Slack Socket Mode: Slack refused SLACK_APP_TOKEN: invalid_auth — create an app-level "
    )
    assert not slack.socket_connections()


@pytest.mark.engine_neutral
def test_nothing_answers_as_it_should(
    simulators: tuple[MetaSimulator, SlackSimulator], html_server: str, tmp_path: Path
) -> None:
    meta, slack = simulators
    password = "doctor-db-password-0123456789"
    env = _env(meta, slack, f"postgresql+psycopg://wabridge:{password}@127.0.0.1:1/wabridge") | {
        "META_API_BASE": f"http://127.0.0.1:{free_port()}",
        "SLACK_API_URL": html_server + "/api/",
    }
    code, lines = _doctor("--public-url", html_server, env=env, cwd=tmp_path)
    assert code == 1
    assert lines["Meta token"].startswith(
        f"✗ Meta token: no answer from {env['META_API_BASE']} (ConnectError"
    )
    assert lines["Meta token"].endswith("check META_API_BASE and that this host can reach it")
    assert lines["Slack token"] == (
        f"✗ Slack token: HTTP 200 from {html_server}/api/, not a Slack API answer — "
        "check SLACK_API_URL and that this host can reach it"
    )
    assert lines["Database"].startswith("✗ Database: cannot connect to PostgreSQL 127.0.0.1:1/")
    assert lines["Database"].endswith(
        "check DATABASE_URL and that the database server is up and reachable"
    )
    assert lines["Webhook handshake"].startswith(
        f"✗ Webhook handshake: {html_server}/webhooks/whatsapp answered 200 without the challenge"
    )


@pytest.mark.engine_neutral
async def test_slow_odd_and_absent_answers_become_lines(
    html_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    with (
        MetaSimulator(access_token=ACCESS_TOKEN, app_secret=APP_SECRET) as slow_meta,
        SlackSimulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as slow_slack,
    ):
        slow_meta.set_latency(2)
        slow_slack.set_latency(2)
        env = _env(slow_meta, slow_slack, f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}")
        for name, value in (env | {"META_API_BASE": html_server}).items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        public_url = slow_meta.url
        checks = await run_checks(settings, public_url=public_url, call_timeout=0.5)
    slow = {check.name: check for check in checks}
    assert slow["Meta token"].detail == (
        "Meta answered with something that is not a JSON object (HTTP 200)"
    )
    assert slow["Meta token"].fix == "check META_API_BASE (normally https://graph.facebook.com)"
    assert slow["Slack token"].detail == f"no answer from {settings.slack_api_url} in time"
    assert slow["Database"].detail == f"SQLite {tmp_path / 'missing.db'} does not exist"
    assert not (tmp_path / "missing.db").exists()
    assert slow["Webhook handshake"].detail == (
        f"no answer from {public_url}/webhooks/whatsapp in 0.5 s"
    )

    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    absent = await run_checks(
        settings.model_copy(update={"slack_api_url": nowhere}), public_url=None
    )
    [slack_token] = [check for check in absent if check.name == "Slack token"]
    assert slack_token.ok is False
    assert slack_token.detail.startswith(f"no answer from {nowhere} (ClientConnectorError")
    assert slack_token.fix == "check SLACK_API_URL and that this host can reach it"


@pytest.mark.engine_neutral
async def test_a_token_that_may_not_read_the_channel(
    simulators: tuple[MetaSimulator, SlackSimulator],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meta, slack = simulators
    slack.set_scopes(
        [
            "chat:write",
            "reactions:read",
            "reactions:write",
            "users:read",
            "commands",
            "files:read",
            "files:write",
        ]
    )
    monkeypatch.chdir(tmp_path)
    for name, value in _env(meta, slack, database_url).items():
        monkeypatch.setenv(name, value)
    checks = {check.name: check for check in await run_checks(load_settings(), public_url=None)}
    assert checks["Slack scopes"].detail == "missing channels:history, groups:history"
    assert checks["Slack scopes"].fix is not None
    assert checks["Slack scopes"].fix.startswith("add them under OAuth & Permissions")
    assert checks["Slack channel"].detail == "the token may not read C0SUPPORT: missing_scope"
    assert checks["Slack channel"].fix == (
        "grant channels:history under OAuth & Permissions, then reinstall the app"
    )
    assert [name for name, check in checks.items() if check.ok is False] == [
        "Slack scopes",
        "Slack channel",
    ]


@pytest.mark.engine_neutral
def test_each_added_number_has_its_own_line(sandbox: Sandbox, tmp_path: Path) -> None:
    """A number added with ``wabridge numbers add`` is checked too: its channel, and Meta
    with the number's token. One whose channel the bot left stalls its customers' messages."""
    for pnid, channel in (("2000000077", "C0SALES01"), ("2000000078", "C0BILLING")):
        sandbox.slack.add_channel(channel, channel.lower())
        sandbox.meta.add_phone_number(pnid, "4930123456" + pnid[-1])
        added = subprocess.run(
            [sys.executable, "-m", "wabridge", "numbers", "add", "--phone-number-id", pnid,
             "--display-number", "+4930123456" + pnid[-1], "--waba-id", "3000000003",
             "--channel", channel],
            env=sandbox.env(), cwd=tmp_path, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    sandbox.slack.remove_bot("C0BILLING")
    code, lines = _doctor(env=sandbox.env(), cwd=tmp_path)
    assert code == 1
    assert list(lines) == [*ALL_CHECKS, "Number 2000000077", "Number 2000000078"]
    assert lines["Number 2000000077"] == (
        "✓ Number 2000000077: +49301234567, its channel C0SALES01 reachable"
    )
    assert lines["Number 2000000078"].startswith(
        "✗ Number 2000000078: its channel C0BILLING cannot be reached: not_in_channel"
    )
    assert "/invite in C0BILLING" in lines["Number 2000000078"]
